package ghapi

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/google/go-github/v89/github"

	"github.com/spell-platform/cast-operator/api/v1alpha1"
)

// Installation lookups are cached per App and repository owner: found for
// an hour (an installation rarely moves), not found for a minute, so a
// Cast waiting for its owner to install the App neither hammers GitHub nor
// waits long once it is installed.
const (
	installationTTL    = time.Hour
	notInstalledTTL    = time.Minute
	maxCachedApps      = 64
	maxCachedInstalled = 4096
)

// AccessError says a credential cannot be used for a repository, and why,
// in words a user can act on. Retrying soon does not help; the controller
// shows it as the GitHubAccess condition and an Event.
type AccessError struct {
	// Reason is one of v1alpha1's GitHubAccess reasons.
	Reason     string
	Repository string
	Err        error
}

func (e *AccessError) Error() string { return e.Err.Error() }
func (e *AccessError) Unwrap() error { return e.Err }

func accessError(reason, repository string, err error) *AccessError {
	return &AccessError{Reason: reason, Repository: repository, Err: err}
}

// AccessProblem recognises credential problems among GitHub's answers:
// refused credentials (401), an App lacking a permission (403 "Resource not
// accessible by integration"), and the AccessErrors this package makes.
func AccessProblem(err error) (*AccessError, bool) {
	var ae *AccessError
	if errors.As(err, &ae) {
		return ae, true
	}
	var he *ghinstallation.HTTPError
	if errors.As(err, &he) {
		var ae *AccessError
		if errors.As(tokenError(err, he.InstallationID, ""), &ae) {
			return ae, true
		}
	}
	var er *github.ErrorResponse
	if !errors.As(err, &er) || er.Response == nil {
		return nil, false
	}
	switch {
	case er.Response.StatusCode == http.StatusUnauthorized:
		return accessError(v1alpha1.ReasonCredentialsInvalid, "", fmt.Errorf("GitHub refused the credentials: %s", er.Message)), true
	case er.Response.StatusCode == http.StatusForbidden && strings.Contains(er.Message, "not accessible by integration"):
		return accessError(v1alpha1.ReasonPermissionDenied, "", fmt.Errorf("the GitHub App lacks a permission (Actions: write dispatches and cancels): %s", er.Message)), true
	}
	return nil, false
}

type appKey struct {
	id  int64
	key [32]byte
}

// repoKey caches lookups per repository: an App installed on an owner
// may be given only some of its repositories, and a wrong key must not
// answer for the right one.
type repoKey struct {
	app        appKey
	repository string
}

type ownerEntry struct {
	installation int64
	err          error
	until        time.Time
}

type appCache struct {
	// transports sign the JWTs of installation lookups.
	transports map[appKey]*ghinstallation.AppsTransport
	owners     map[repoKey]ownerEntry
	// installs holds one Client per installation and key: its token
	// transport mints a token before the last one expires, for every Cast.
	installs map[installKey]*Client
}

type installKey struct {
	name string
	key  [32]byte
}

func newAppCache() appCache {
	return appCache{transports: map[appKey]*ghinstallation.AppsTransport{}, owners: map[repoKey]ownerEntry{},
		installs: map[installKey]*Client{}}
}

// forApp returns the Client of the App's installation on repository's
// owner, looking the installation up when it is not given.
func (c *Clients) forApp(ctx context.Context, appID, installation int64, pem []byte, source, repository string) (*Client, error) {
	badKey := func(err error) error {
		return accessError(v1alpha1.ReasonCredentialsInvalid, repository,
			fmt.Errorf("GitHub App %d private key from %s: %w", appID, source, err))
	}
	atr, err := c.appTransport(appID, pem)
	if err != nil {
		return nil, badKey(err)
	}
	if installation == 0 {
		if installation, err = c.installationFor(ctx, atr, appKey{id: appID, key: sha256.Sum256(pem)}, repository); err != nil {
			return nil, err
		}
	}
	name := fmt.Sprintf("app:%d/installation:%d", appID, installation)
	k := installKey{name: name, key: sha256.Sum256(pem)}
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl, ok := c.apps.installs[k]; ok {
		return cl, nil
	}
	// Each installation gets an AppsTransport of its own: ghinstallation
	// writes to it while renewing, under the installation's lock only.
	own, err := c.newAppsTransport(appID, pem)
	if err != nil {
		return nil, badKey(err)
	}
	itr := ghinstallation.NewFromAppsTransport(own, installation)
	itr.BaseURL = c.apiRoot()
	budget := c.budgetLocked(name)
	hc := *c.http
	hc.Transport = etagTransport{base: budgetTransport{base: itr, budget: budget}, cache: c.etags, scope: name}
	gh, err := c.github(&hc)
	if err != nil {
		return nil, err
	}
	cl := &Client{gh: gh, budget: budget, app: itr}
	if len(c.apps.installs) >= maxCachedClients {
		clear(c.apps.installs)
	}
	c.apps.installs[k] = cl
	return cl, nil
}

// appTransport parses the App's key once per key: it signs the JWTs that
// look installations up and mint their tokens.
func (c *Clients) appTransport(appID int64, pem []byte) (*ghinstallation.AppsTransport, error) {
	k := appKey{id: appID, key: sha256.Sum256(pem)}
	c.mu.Lock()
	defer c.mu.Unlock()
	if atr, ok := c.apps.transports[k]; ok {
		return atr, nil
	}
	atr, err := c.newAppsTransport(appID, pem)
	if err != nil {
		return nil, err
	}
	if len(c.apps.transports) >= maxCachedApps {
		clear(c.apps.transports)
	}
	c.apps.transports[k] = atr
	return atr, nil
}

// newAppsTransport parses the App's key into a JWT-signing transport
// aimed at the configured API root.
func (c *Clients) newAppsTransport(appID int64, pem []byte) (*ghinstallation.AppsTransport, error) {
	atr, err := ghinstallation.NewAppsTransport(c.http.Transport, appID, pem)
	if err != nil {
		// ghinstallation says what is wrong with the PEM; never echo it.
		return nil, fmt.Errorf("not a PEM-encoded RSA private key: %w", err)
	}
	atr.BaseURL = c.apiRoot()
	return atr, nil
}

// installationFor finds the App's installation for the repository with
// the App's JWT, cached per repository and key.
func (c *Clients) installationFor(ctx context.Context, atr *ghinstallation.AppsTransport, app appKey, repository string) (int64, error) {
	appID := app.id
	k := repoKey{app: app, repository: strings.ToLower(repository)}
	now := time.Now()
	c.mu.Lock()
	e, ok := c.apps.owners[k]
	c.mu.Unlock()
	if ok && now.Before(e.until) {
		return e.installation, e.err
	}
	id, err := c.lookupInstallation(ctx, atr, appID, repository)
	var ae *AccessError
	switch {
	case err == nil:
		e = ownerEntry{installation: id, until: now.Add(installationTTL)}
	case errors.As(err, &ae):
		e = ownerEntry{err: err, until: now.Add(notInstalledTTL)}
	default:
		return 0, err // transient: not cached
	}
	c.mu.Lock()
	if len(c.apps.owners) >= maxCachedInstalled {
		clear(c.apps.owners)
	}
	c.apps.owners[k] = e
	c.mu.Unlock()
	return e.installation, e.err
}

func (c *Clients) lookupInstallation(ctx context.Context, atr *ghinstallation.AppsTransport, appID int64, repository string) (int64, error) {
	url := c.apiRoot() + "/repos/" + repository + "/installation"
	req, err := http.NewRequestWithContext(withOperation(ctx, "find_installation"), http.MethodGet, url, nil)
	if err != nil {
		return 0, fmt.Errorf("%w: repository %q", errBadArgument, repository)
	}
	if c.opts.UserAgent != "" {
		req.Header.Set("User-Agent", c.opts.UserAgent)
	}
	resp, err := (&http.Client{Transport: atr, Timeout: c.http.Timeout}).Do(req)
	if err != nil {
		return 0, fmt.Errorf("looking up GitHub App %d's installation for %s: %w", appID, repository, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	switch resp.StatusCode {
	case http.StatusOK:
		var inst struct {
			ID int64 `json:"id"`
		}
		if err := json.Unmarshal(body, &inst); err != nil || inst.ID == 0 {
			return 0, fmt.Errorf("looking up GitHub App %d's installation for %s: unreadable answer", appID, repository)
		}
		return inst.ID, nil
	case http.StatusNotFound:
		owner, _, _ := strings.Cut(repository, "/")
		return 0, accessError(v1alpha1.ReasonAppNotInstalled, repository,
			fmt.Errorf("GitHub App %d is not installed on %s, or not given access to %s", appID, owner, repository))
	case http.StatusUnauthorized:
		return 0, accessError(v1alpha1.ReasonCredentialsInvalid, repository,
			fmt.Errorf("GitHub refused GitHub App %d's JWT looking up %s: wrong private key or App ID", appID, repository))
	}
	return 0, fmt.Errorf("looking up GitHub App %d's installation for %s: GitHub answered %s", appID, repository, resp.Status)
}

// tokenError explains a failure to mint an installation token.
func tokenError(err error, installation int64, repository string) error {
	var he *ghinstallation.HTTPError
	if errors.As(err, &he) && he.Response != nil {
		switch he.Response.StatusCode {
		case http.StatusUnauthorized:
			return accessError(v1alpha1.ReasonCredentialsInvalid, repository,
				fmt.Errorf("GitHub refused the GitHub App's JWT minting a token for installation %d: wrong private key or App ID", installation))
		case http.StatusNotFound, http.StatusForbidden:
			return accessError(v1alpha1.ReasonAppNotInstalled, repository,
				fmt.Errorf("the GitHub App has no installation %d (uninstalled, or another App's): %s", installation, he.Response.Status))
		}
	}
	return fmt.Errorf("minting a token for GitHub App installation %d: %w", installation, err)
}
