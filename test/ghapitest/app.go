package ghapitest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// installation is one App installation on an account.
type installation struct {
	id, appID   int64
	owner       string
	permissions map[string]string
	issued      int // tokens minted
	createdAt   time.Time
}

// instToken is an installation access token the fake minted.
type instToken struct {
	installationID int64
	permissions    map[string]string
	expires        time.Time
}

// defaultTokenTTL is how long GitHub's installation tokens live.
const defaultTokenTTL = time.Hour

// AddApp registers a GitHub App, so requests bearing a JWT signed with the
// matching private key authenticate as it (see GenerateAppKey).
func (s *Server) AddApp(appID int64, key *rsa.PublicKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apps[appID] = key
}

// AddInstallation installs App appID on the account owner (an organization
// or user login). Its tokens reach only owner's repositories, with
// permissions (e.g. {"actions": "write"}); nil means GitHub's usual
// {"actions": "write", "metadata": "read"}.
func (s *Server) AddInstallation(appID, installationID int64, owner string, permissions map[string]string) {
	if permissions == nil {
		permissions = map[string]string{"actions": "write", "metadata": "read"}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.installations[installationID] = &installation{id: installationID, appID: appID, owner: owner,
		permissions: maps.Clone(permissions), createdAt: s.nowLocked().UTC().Truncate(time.Second)}
}

// SetInstallationTokenTTL sets the lifetime of tokens minted from now on
// (GitHub's is one hour), so a test can watch a client refresh one.
func (s *Server) SetInstallationTokenTTL(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokenTTL = d
}

// InstallationTokensIssued reports how many tokens were minted for an
// installation, to assert that a client caches and reuses them.
func (s *Server) InstallationTokensIssued(installationID int64) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if inst := s.installations[installationID]; inst != nil {
		return inst.issued
	}
	return 0
}

// GenerateAppKey makes an App private key as GitHub hands it out (a PKCS#1
// PEM block) together with the public half for AddApp, so suites can drive
// a real App client against the fake.
func GenerateAppKey() (pemBytes []byte, pub *rsa.PublicKey, err error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, fmt.Errorf("generating App key: %w", err)
	}
	block := &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}
	return pem.EncodeToMemory(block), &key.PublicKey, nil
}

type credKey struct{}

func credOf(r *http.Request) credential {
	c, _ := r.Context().Value(credKey{}).(credential)
	return c
}

// handleFindInstallation serves GET /repos/{owner}/{repo}/installation,
// /orgs/{org}/installation and /users/{user}/installation: the calling
// App's installation on that account, or 404 if it is not installed there.
func (s *Server) handleFindInstallation(w http.ResponseWriter, r *http.Request) {
	owner := r.PathValue("owner") + r.PathValue("org") + r.PathValue("user")
	app := credOf(r).appID
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, inst := range s.installations {
		if inst.appID == app && strings.EqualFold(inst.owner, owner) {
			writeJSON(w, http.StatusOK, s.installationJSONLocked(inst))
			return
		}
	}
	writeError(w, http.StatusNotFound, "Not Found", docsREST)
}

func (s *Server) installationJSONLocked(inst *installation) map[string]any {
	return map[string]any{
		"id": inst.id,
		"account": map[string]any{"login": inst.owner, "id": inst.id*10 + 1, "type": "Organization",
			"url": s.URL + "users/" + inst.owner},
		"access_tokens_url":    fmt.Sprintf("%sapp/installations/%d/access_tokens", s.URL, inst.id),
		"repositories_url":     s.URL + "installation/repositories",
		"html_url":             fmt.Sprintf("https://github.com/organizations/%s/settings/installations/%d", inst.owner, inst.id),
		"app_id":               inst.appID,
		"app_slug":             fmt.Sprintf("app-%d", inst.appID),
		"target_id":            inst.id*10 + 1,
		"target_type":          "Organization",
		"permissions":          inst.permissions,
		"events":               []string{"workflow_run", "workflow_job"},
		"repository_selection": "all",
		"single_file_name":     nil,
		"created_at":           ts(inst.createdAt),
		"updated_at":           ts(inst.createdAt),
		"suspended_at":         nil,
	}
}

type accessTokenBody struct {
	Permissions map[string]string `json:"permissions"`
}

// handleAccessToken mints an installation token for the calling App's own
// installation, narrowed to the permissions asked for if any.
func (s *Server) handleAccessToken(w http.ResponseWriter, r *http.Request) {
	var body accessTokenBody
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil && !errors.Is(err, io.EOF) {
		writeError(w, http.StatusBadRequest, "Problems parsing JSON", docsREST)
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	s.mu.Lock()
	defer s.mu.Unlock()
	inst := s.installations[id]
	if err != nil || inst == nil || inst.appID != credOf(r).appID {
		writeError(w, http.StatusNotFound, "Not Found", docsREST)
		return
	}
	perms := inst.permissions
	if len(body.Permissions) > 0 {
		for name, level := range body.Permissions {
			if have := inst.permissions[name]; have != "write" && have != level {
				writeError(w, http.StatusUnprocessableEntity,
					"The permissions requested are not granted to this installation.", docsREST)
				return
			}
		}
		perms = body.Permissions
	}
	tok := newTokenString()
	expires := s.nowLocked().Add(s.tokenTTL).UTC().Truncate(time.Second)
	s.instTokens[tok] = &instToken{installationID: id, permissions: maps.Clone(perms), expires: expires}
	inst.issued++
	writeJSON(w, http.StatusCreated, map[string]any{
		"token":                tok,
		"expires_at":           expires.Format(time.RFC3339),
		"permissions":          perms,
		"repository_selection": "all",
	})
}

// newTokenString returns a token shaped like GitHub's: ghs_ and 36
// alphanumerics.
func newTokenString() string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 36)
	_, _ = rand.Read(b) // never fails since Go 1.24
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return "ghs_" + string(b)
}
