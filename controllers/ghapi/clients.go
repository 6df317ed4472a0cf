// Package ghapi is the operator's only door to GitHub's REST API. It hides
// go-github behind the few calls a Cast needs (dispatch, find the run, read
// run, jobs and artifacts, cancel), picks the credential for each Cast (a
// token or a GitHub App installation), keeps each credential inside
// GitHub's rate limits, and keeps go-github's typed errors reachable so the
// controller can tell "retry later" from "give up".
package ghapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/go-github/v89/github"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/lru"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/spell-platform/cast-operator/api/v1alpha1"
)

// ErrNoCredentials means neither the Cast nor the operator has a credential,
// so nothing can be dispatched or read until one is configured; callers
// should surface it on the Cast rather than retry quickly.
var ErrNoCredentials = errors.New("no GitHub credentials configured: set spec.credentialsSecretRef, --github-token-file or --github-app-id")

// ErrInvalidSecret means the Secret named by spec.credentialsSecretRef exists
// but holds no usable credential, which only a user can fix.
var ErrInvalidSecret = errors.New(`credentials Secret has neither a non-empty "token" key nor "githubAppID" and "githubAppPrivateKey"`)

// Secret keys of spec.credentialsSecretRef. The App keys are Flux's, so
// a Secret made for Flux works here as is.
const (
	SecretTokenKey             = "token"
	SecretAppIDKey             = "githubAppID"
	SecretAppInstallationIDKey = "githubAppInstallationID"
	SecretAppPrivateKeyKey     = "githubAppPrivateKey"
)

// defaultTimeout bounds every request when the caller brings no HTTP
// client, so a stalled GitHub cannot wedge a reconcile worker.
const defaultTimeout = 30 * time.Second

// maxCachedClients bounds the per-credential client cache; tokens rotate,
// and a forgotten one must not pin memory forever.
const maxCachedClients = 64

// maxBudgets bounds the credentials whose accounts are kept.
const maxBudgets = 256

// Options configure how the operator reaches GitHub; they mirror the
// operator's command-line flags.
type Options struct {
	// BaseURL is the REST API root; empty means https://api.github.com/.
	// GitHub Enterprise Server uses https://HOST/api/v3/.
	BaseURL string
	// TokenFile holds the operator's own token. It is re-read whenever the
	// file changes, because mounted Secrets rotate under a running pod.
	TokenFile string
	// App is the operator-wide GitHub App; it wins over TokenFile.
	App AppOptions
	// HTTPClient, if set, is used (copied) for every request; otherwise a
	// client with a 30s timeout is.
	HTTPClient *http.Client
	// UserAgent identifies the operator to GitHub, which asks integrations
	// to send one.
	UserAgent string
	// WriteInterval spaces content-creating requests of one credential;
	// default DefaultWriteInterval.
	WriteInterval time.Duration
}

// AppOptions name a GitHub App by ID and private key. Without an
// installation ID the installation is looked up per repository owner.
type AppOptions struct {
	ID             int64
	PrivateKeyFile string
	InstallationID int64
}

// Clients hands out a Client per Cast, one per credential: GitHub meters
// rate limits per token or App installation, so that is the unit whose
// budget, ETag cache and write queue every Cast using it shares.
type Clients struct {
	opts    Options
	secrets client.Reader
	http    *http.Client
	etags   *lru.Cache

	mu      sync.Mutex
	files   map[string]fileCache
	byToken map[string]*Client
	budgets map[string]*Budget
	apps    appCache
}

// idleConnsPerHost is how many connections to GitHub stay open between
// requests: more than the reconcile workers and the write queue use at once.
const idleConnsPerHost = 16

// fileCache caches a file's content against its identity and modification
// time, so the file is read again only after a rotation.
type fileCache struct {
	info    os.FileInfo
	content string
}

// NewClients prepares a Clients. secrets reads the per-Cast Secrets; an
// uncached reader (the manager's APIReader) avoids watching every Secret in
// the cluster just to read a few.
func NewClients(opts Options, secrets client.Reader) *Clients {
	hc := &http.Client{Timeout: defaultTimeout}
	if opts.HTTPClient != nil {
		cp := *opts.HTTPClient
		hc = &cp
	}
	base := hc.Transport
	if base == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		// Every request goes to one host, GitHub's API, from several
		// reconcile workers at once (idle resyncs come in bursts): the
		// default of two idle connections per host closed the others after
		// each burst, and the next one dialled and shook hands again.
		t.MaxIdleConnsPerHost = idleConnsPerHost
		base = t
	}
	hc.Transport = instrumentedTransport{base: base}
	return &Clients{opts: opts, secrets: secrets, http: hc, etags: lru.New(maxCachedBodies),
		files: map[string]fileCache{}, byToken: map[string]*Client{}, budgets: map[string]*Budget{},
		apps: newAppCache()}
}

// For returns the Client to use for cast. The Cast's own Secret wins over
// the operator's App and token file, so teams can run workflows in
// repositories the operator's identity cannot reach. It fails with
// ErrNoCredentials (wrapped) when none exists, and with an AccessError when
// a credential is unusable for the Cast's repository.
func (c *Clients) For(ctx context.Context, cast *v1alpha1.Cast) (*Client, error) {
	if ref := cast.Spec.CredentialsSecretRef; ref != nil {
		return c.fromSecret(ctx, cast, ref.Name)
	}
	if app := c.opts.App; app.ID != 0 {
		key, err := c.readFile(app.PrivateKeyFile)
		if err != nil {
			return nil, accessError(v1alpha1.ReasonCredentialsInvalid, cast.Spec.Repository,
				fmt.Errorf("reading GitHub App private key: %w", err))
		}
		return c.forApp(ctx, app.ID, app.InstallationID, []byte(key), "--github-app-private-key-file", cast.Spec.Repository)
	}
	token, err := c.fileToken()
	if err != nil {
		return nil, err
	}
	return c.forToken(token)
}

func (c *Clients) fromSecret(ctx context.Context, cast *v1alpha1.Cast, name string) (*Client, error) {
	if c.secrets == nil {
		return nil, fmt.Errorf("reading credentials Secret %s/%s: no Secret reader configured", cast.Namespace, name)
	}
	var s corev1.Secret
	key := client.ObjectKey{Namespace: cast.Namespace, Name: name}
	if err := c.secrets.Get(ctx, key, &s); err != nil {
		return nil, fmt.Errorf("reading credentials Secret %s: %w", key, err)
	}
	if token := strings.TrimSpace(string(s.Data[SecretTokenKey])); token != "" {
		return c.forToken(token)
	}
	appID, pem := strings.TrimSpace(string(s.Data[SecretAppIDKey])), s.Data[SecretAppPrivateKeyKey]
	if appID == "" || len(pem) == 0 {
		return nil, accessError(v1alpha1.ReasonCredentialsInvalid, cast.Spec.Repository,
			fmt.Errorf("credentials Secret %s: %w", key, ErrInvalidSecret))
	}
	id, err := strconv.ParseInt(appID, 10, 64)
	if err != nil || id <= 0 {
		return nil, accessError(v1alpha1.ReasonCredentialsInvalid, cast.Spec.Repository,
			fmt.Errorf("credentials Secret %s: %s %q is not a GitHub App ID", key, SecretAppIDKey, appID))
	}
	var inst int64
	if v := strings.TrimSpace(string(s.Data[SecretAppInstallationIDKey])); v != "" {
		if inst, err = strconv.ParseInt(v, 10, 64); err != nil || inst <= 0 {
			return nil, accessError(v1alpha1.ReasonCredentialsInvalid, cast.Spec.Repository,
				fmt.Errorf("credentials Secret %s: %s %q is not an installation ID", key, SecretAppInstallationIDKey, v))
		}
	}
	return c.forApp(ctx, id, inst, pem, "Secret "+key.String(), cast.Spec.Repository)
}

// fileToken returns the token file's content.
func (c *Clients) fileToken() (string, error) {
	path := c.opts.TokenFile
	if path == "" {
		return "", ErrNoCredentials
	}
	token, err := c.readFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("token file %s does not exist: %w", path, ErrNoCredentials)
	}
	if err != nil {
		return "", fmt.Errorf("reading token file: %w", err)
	}
	if token == "" {
		return "", fmt.Errorf("token file %s is empty: %w", path, ErrNoCredentials)
	}
	return token, nil
}

// readFile returns a file's trimmed content, reading it only when it is
// new or has changed since the last read.
func (c *Clients) readFile(path string) (string, error) {
	if path == "" {
		return "", errors.New("no file configured")
	}
	info, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	prev := c.files[path].info
	if prev == nil || !os.SameFile(prev, info) || !prev.ModTime().Equal(info.ModTime()) || prev.Size() != info.Size() {
		b, err := os.ReadFile(path)
		if err != nil {
			return "", err
		}
		c.files[path] = fileCache{info: info, content: strings.TrimSpace(string(b))}
	}
	return c.files[path].content, nil
}

func (c *Clients) forToken(token string) (*Client, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl, ok := c.byToken[token]; ok {
		return cl, nil
	}
	sum := sha256.Sum256([]byte(token))
	budget := c.budgetLocked("token:" + hex.EncodeToString(sum[:4]))
	hc := *c.http
	hc.Transport = etagTransport{base: budgetTransport{base: c.http.Transport, budget: budget}, cache: c.etags, scope: budget.Name}
	gh, err := c.github(&hc, github.WithAuthToken(token))
	if err != nil {
		return nil, err
	}
	if len(c.byToken) >= maxCachedClients {
		clear(c.byToken)
	}
	cl := &Client{gh: gh, budget: budget}
	c.byToken[token] = cl
	return cl, nil
}

// budgetLocked returns the one Budget of a credential, kept across key and
// token rotations of the same installation.
func (c *Clients) budgetLocked(name string) *Budget {
	if b, ok := c.budgets[name]; ok {
		return b
	}
	if len(c.budgets) >= maxBudgets {
		// Rotated tokens leave budgets behind; the live ones relearn
		// theirs from their next answer.
		for n := range c.budgets {
			rateLimitRemaining.DeleteLabelValues(n)
		}
		clear(c.budgets)
		// Clients hold their budget: they go too, so one credential never
		// has two accounts.
		clear(c.byToken)
		clear(c.apps.installs)
	}
	b := newBudget(name, c.opts.WriteInterval)
	c.budgets[name] = b
	return b
}

func (c *Clients) github(hc *http.Client, extra ...github.ClientOptionsFunc) (*github.Client, error) {
	opts := append([]github.ClientOptionsFunc{github.WithHTTPClient(hc)}, extra...)
	if c.opts.UserAgent != "" {
		opts = append(opts, github.WithUserAgent(c.opts.UserAgent))
	}
	if c.opts.BaseURL != "" {
		base := c.opts.BaseURL
		if !strings.HasSuffix(base, "/") {
			base += "/"
		}
		opts = append(opts, github.WithURLs(&base, nil))
	}
	gh, err := github.NewClient(opts...)
	if err != nil {
		// go-github's errors here concern options, never the credential.
		return nil, fmt.Errorf("building GitHub client: %w", err)
	}
	return gh, nil
}

// apiRoot is the REST root without its trailing slash, as ghinstallation
// wants it.
func (c *Clients) apiRoot() string {
	if c.opts.BaseURL == "" {
		return "https://api.github.com"
	}
	return strings.TrimSuffix(c.opts.BaseURL, "/")
}
