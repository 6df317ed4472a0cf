// Package kubecred finds the bearer token a kubeconfig user presents to the
// API server, through client-go's own credential machinery (static tokens,
// token files, exec plugins, auth-provider plugins), so the streamer, which
// checks bearer tokens with a TokenReview, can be sent the same one.
package kubecred

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"k8s.io/client-go/rest"
)

// ErrClientCertificate is wrapped by TokenFunc's error for a user who
// authenticates with a client certificate: the API server verifies it in
// the TLS handshake, and it cannot be forwarded to the streamer.
var ErrClientCertificate = errors.New("your kubeconfig user authenticates with a client certificate, which the streamer cannot verify; " +
	"pass --token-file with a ServiceAccount token (kubectl create token NAME > token)")

// ErrNoBearerToken is wrapped for any other user without a bearer token
// (basic auth, an exec plugin that returns a certificate, no credentials).
var ErrNoBearerToken = errors.New("your kubeconfig user has no bearer token for the streamer; " +
	"pass --token-file with a ServiceAccount token (kubectl create token NAME > token)")

// TokenFunc returns a function yielding cfg's current bearer token, asked
// anew on every call, so an exec plugin's expiring token is renewed by
// client-go when it expires. It fails up front when cfg yields none.
func TokenFunc(cfg *rest.Config) (func() (string, error), error) {
	// The wrappers client-go puts around every API request: they add the
	// Authorization header (and run the exec plugin, or the auth provider,
	// to get it). The innermost round tripper keeps the request instead of
	// sending it anywhere.
	rt, err := rest.HTTPWrappersForConfig(rest.CopyConfig(cfg), captureHeader{})
	if err != nil {
		return nil, fmt.Errorf("the kubeconfig's credentials: %w", err)
	}
	var mu sync.Mutex // exec plugins are not meant to be run concurrently
	tokenFunc := func() (string, error) {
		mu.Lock()
		defer mu.Unlock()
		req, err := http.NewRequest(http.MethodGet, "https://kubecred.invalid/", nil)
		if err != nil {
			return "", fmt.Errorf("building the credential probe: %w", err)
		}
		resp, err := rt.RoundTrip(req)
		if err != nil {
			return "", fmt.Errorf("getting the kubeconfig user's credentials: %w", err)
		}
		_ = resp.Body.Close()
		scheme, token, _ := strings.Cut(resp.Request.Header.Get("Authorization"), " ")
		if !strings.EqualFold(scheme, "bearer") || strings.TrimSpace(token) == "" {
			if cfg.CertData != nil || cfg.CertFile != "" {
				return "", ErrClientCertificate
			}
			return "", ErrNoBearerToken
		}
		return strings.TrimSpace(token), nil
	}
	if _, err := tokenFunc(); err != nil {
		return nil, err
	}
	return tokenFunc, nil
}

// captureHeader answers every request itself, carrying the request back in
// the response, where its headers are read.
type captureHeader struct{}

func (captureHeader) RoundTrip(req *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: http.StatusOK, Status: "200 OK", Header: http.Header{},
		Body: http.NoBody, Request: req}, nil
}
