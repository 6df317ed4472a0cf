// Package ghapi is the operator's only door to GitHub's REST API. It hides
// go-github behind the few calls a Cast needs (dispatch, find the run, read
// run, jobs and artifacts, cancel), picks the token for each Cast, and keeps
// go-github's typed errors reachable so the controller can tell "retry later"
// from "give up".
package ghapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/google/go-github/v89/github"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/spell-platform/cast-operator/api/v1alpha1"
)

// ErrNoCredentials means neither the Cast nor the operator has a token, so
// nothing can be dispatched or read until one is configured; callers should
// surface it on the Cast rather than retry quickly.
var ErrNoCredentials = errors.New("no GitHub token configured: set spec.credentialsSecretRef or --github-token-file")

// ErrInvalidSecret means the Secret named by spec.credentialsSecretRef exists
// but holds no usable token, which only a user can fix.
var ErrInvalidSecret = errors.New(`credentials Secret has no non-empty "token" key`)

// SecretTokenKey is the Secret key holding a Cast's token, fixed so users
// need not configure it.
const SecretTokenKey = "token"

// defaultTimeout bounds every request when the caller brings no HTTP
// client, so a stalled GitHub cannot wedge a reconcile worker.
const defaultTimeout = 30 * time.Second

// maxCachedClients bounds the per-token client cache; tokens rotate, and a
// forgotten one must not pin memory forever.
const maxCachedClients = 64

// Options configure how the operator reaches GitHub; they mirror the
// operator's command-line flags.
type Options struct {
	// BaseURL is the REST API root; empty means https://api.github.com/.
	// GitHub Enterprise Server uses https://HOST/api/v3/.
	BaseURL string
	// TokenFile holds the operator's own token. It is re-read whenever the
	// file changes, because mounted Secrets rotate under a running pod.
	TokenFile string
	// HTTPClient, if set, is used (copied) for every request; otherwise a
	// client with a 30s timeout is.
	HTTPClient *http.Client
	// UserAgent identifies the operator to GitHub, which asks integrations
	// to send one.
	UserAgent string
}

// Clients hands out a Client per Cast. It caches one go-github client per
// token so that go-github's memory of an exhausted rate limit survives
// across reconciles instead of being relearned by hitting GitHub again.
type Clients struct {
	opts    Options
	secrets client.Reader
	http    *http.Client

	mu      sync.Mutex
	file    fileToken
	byToken map[string]*Client
}

// fileToken caches the token file's content against its identity and
// modification time, so the file is read again only after a rotation.
type fileToken struct {
	info  os.FileInfo
	token string
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
		base = http.DefaultTransport
	}
	hc.Transport = instrumentedTransport{base: base}
	return &Clients{opts: opts, secrets: secrets, http: hc, byToken: map[string]*Client{}}
}

// For returns the Client to use for cast. The Cast's own Secret wins over
// the operator's token file, so teams can run workflows in repositories the
// operator's identity cannot reach. It fails with ErrNoCredentials (wrapped)
// when neither exists, and with a descriptive error when the named Secret or
// its key is missing.
func (c *Clients) For(ctx context.Context, cast *v1alpha1.Cast) (*Client, error) {
	token, err := c.token(ctx, cast)
	if err != nil {
		return nil, err
	}
	return c.forToken(token)
}

func (c *Clients) token(ctx context.Context, cast *v1alpha1.Cast) (string, error) {
	if ref := cast.Spec.CredentialsSecretRef; ref != nil {
		if c.secrets == nil {
			return "", fmt.Errorf("reading credentials Secret %s/%s: no Secret reader configured", cast.Namespace, ref.Name)
		}
		var s corev1.Secret
		key := client.ObjectKey{Namespace: cast.Namespace, Name: ref.Name}
		if err := c.secrets.Get(ctx, key, &s); err != nil {
			return "", fmt.Errorf("reading credentials Secret %s: %w", key, err)
		}
		token := strings.TrimSpace(string(s.Data[SecretTokenKey]))
		if token == "" {
			return "", fmt.Errorf("credentials Secret %s: %w", key, ErrInvalidSecret)
		}
		return token, nil
	}
	return c.fileToken()
}

// fileToken returns the token file's content, reading the file only when
// it is new or has changed since the last read.
func (c *Clients) fileToken() (string, error) {
	path := c.opts.TokenFile
	if path == "" {
		return "", ErrNoCredentials
	}
	info, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("token file %s does not exist: %w", path, ErrNoCredentials)
	}
	if err != nil {
		return "", fmt.Errorf("reading token file: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev := c.file.info; prev == nil || !os.SameFile(prev, info) ||
		!prev.ModTime().Equal(info.ModTime()) || prev.Size() != info.Size() {
		b, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("reading token file: %w", err)
		}
		c.file = fileToken{info: info, token: strings.TrimSpace(string(b))}
	}
	if c.file.token == "" {
		return "", fmt.Errorf("token file %s is empty: %w", path, ErrNoCredentials)
	}
	return c.file.token, nil
}

func (c *Clients) forToken(token string) (*Client, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl, ok := c.byToken[token]; ok {
		return cl, nil
	}
	opts := []github.ClientOptionsFunc{github.WithHTTPClient(c.http), github.WithAuthToken(token)}
	if c.opts.UserAgent != "" {
		opts = append(opts, github.WithUserAgent(c.opts.UserAgent))
	}
	if c.opts.BaseURL != "" {
		base := c.opts.BaseURL
		opts = append(opts, github.WithURLs(&base, nil))
	}
	gh, err := github.NewClient(opts...)
	if err != nil {
		// go-github's errors here concern options, never the token itself.
		return nil, fmt.Errorf("building GitHub client: %w", err)
	}
	if len(c.byToken) >= maxCachedClients {
		clear(c.byToken)
	}
	cl := &Client{gh: gh}
	c.byToken[token] = cl
	return cl, nil
}
