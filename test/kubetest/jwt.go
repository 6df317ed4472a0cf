package kubetest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"
)

// JWTIssuer is an OpenID Connect provider kube-apiserver trusts, through
// its structured authentication configuration (--authentication-config),
// as a cluster set up for single sign-on does.
type JWTIssuer struct {
	// URL is the issuer; kube-apiserver fetches its discovery document
	// and keys from there.
	URL string
	// CertificateAuthority is the PEM that signs the issuer's TLS.
	CertificateAuthority string
	// Audience is the client ID the ID tokens must be for.
	Audience string
	// UsernamePrefix goes before the "email" claim to make the user name
	// (and before each "groups" claim to make group names).
	UsernamePrefix string
}

// WithJWTIssuers has kube-apiserver accept ID tokens from these issuers.
// The issuers must be serving before the cluster starts.
func WithJWTIssuers(issuers ...JWTIssuer) Option {
	return func(o *options) { o.issuers = append(o.issuers, issuers...) }
}

// AuthenticationConfiguration renders the --authentication-config file
// for issuers, the way the README tells cluster admins to write it.
func AuthenticationConfiguration(issuers ...JWTIssuer) ([]byte, error) {
	jwt := make([]any, 0, len(issuers))
	for _, is := range issuers {
		jwt = append(jwt, map[string]any{
			"issuer": map[string]any{
				"url":                  is.URL,
				"audiences":            []string{is.Audience},
				"certificateAuthority": is.CertificateAuthority,
			},
			"claimMappings": map[string]any{
				"username": map[string]any{"claim": "email", "prefix": is.UsernamePrefix},
				"groups":   map[string]any{"claim": "groups", "prefix": is.UsernamePrefix},
			},
		})
	}
	out, err := yaml.Marshal(map[string]any{
		"apiVersion": "apiserver.config.k8s.io/v1",
		"kind":       "AuthenticationConfiguration",
		"jwt":        jwt,
	})
	if err != nil {
		return nil, fmt.Errorf("rendering the authentication configuration: %w", err)
	}
	return out, nil
}

// configureJWTIssuers writes the configuration into a directory of its
// own, which it returns for removal when the cluster stops, and points
// kube-apiserver at it.
func configureJWTIssuers(env *envtest.Environment, issuers []JWTIssuer) (string, error) {
	cfg, err := AuthenticationConfiguration(issuers...)
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "kubetest-authn-")
	if err != nil {
		return "", fmt.Errorf("creating a directory for the authentication configuration: %w", err)
	}
	path := filepath.Join(dir, "authentication-config.yaml")
	if err := os.WriteFile(path, cfg, 0o600); err != nil {
		return "", errors.Join(fmt.Errorf("writing the authentication configuration: %w", err), os.RemoveAll(dir))
	}
	env.ControlPlane.GetAPIServer().Configure().Set("authentication-config", path)
	return dir, nil
}
