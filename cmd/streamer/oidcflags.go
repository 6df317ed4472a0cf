package streamer

import (
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/spell-platform/cast-operator/streamer/sso"
)

// oidcFlags configure the dashboard's single sign-on (streamer/sso).
type oidcFlags struct {
	issuerURL, clientID, secretFile, redirectURL, scopes, caFile, sessionKeyFile string
}

func (f *oidcFlags) bind(fs *flag.FlagSet) {
	fs.StringVar(&f.issuerURL, "oidc-issuer-url", "", "turn on single sign-on for the dashboard with this OpenID Connect issuer (https); kube-apiserver must trust the same issuer and client (its --authentication-config), since every ID token is checked with TokenReview")
	fs.StringVar(&f.clientID, "oidc-client-id", "", "client ID registered with the provider; its ID tokens carry it as their audience")
	fs.StringVar(&f.secretFile, "oidc-client-secret-file", "", "file holding the client secret; without it the streamer is a public client protected by PKCE")
	fs.StringVar(&f.redirectURL, "oidc-redirect-url", "", "the dashboard's public URL followed by "+sso.CallbackPath+", as registered with the provider")
	fs.StringVar(&f.scopes, "oidc-scopes", strings.Join(sso.DefaultScopes, ","), "comma-separated scopes asked for (openid is always added); some providers issue refresh tokens only with offline_access")
	fs.StringVar(&f.caFile, "oidc-ca-file", "", "PEM file of CA certificates the provider's TLS certificate is checked against, besides the system's")
	fs.StringVar(&f.sessionKeyFile, "session-key-file", "", "file holding at least 32 bytes of secret that seal single sign-on cookies; every replica needs the same one (without it each process makes a random key, and sessions end at restarts and do not work across replicas)")
}

// options reads the files the flags name and checks the values.
func (f *oidcFlags) options() (sso.Options, error) {
	if f.issuerURL == "" {
		if f.clientID != "" || f.secretFile != "" || f.redirectURL != "" || f.caFile != "" {
			return sso.Options{}, errors.New("--oidc-client-id, --oidc-client-secret-file, --oidc-redirect-url and --oidc-ca-file need --oidc-issuer-url")
		}
		return sso.Options{}, nil
	}
	o := sso.Options{IssuerURL: f.issuerURL, ClientID: f.clientID, RedirectURL: f.redirectURL, Scopes: splitList(f.scopes)}
	if f.secretFile != "" {
		b, err := os.ReadFile(f.secretFile)
		if err != nil {
			return o, fmt.Errorf("--oidc-client-secret-file: %w", err)
		}
		if o.ClientSecret = strings.TrimSpace(string(b)); o.ClientSecret == "" {
			return o, fmt.Errorf("--oidc-client-secret-file: %s is empty", f.secretFile)
		}
	}
	if f.caFile != "" {
		pem, err := os.ReadFile(f.caFile)
		if err != nil {
			return o, fmt.Errorf("--oidc-ca-file: %w", err)
		}
		if o.RootCAs, err = x509.SystemCertPool(); err != nil {
			o.RootCAs = x509.NewCertPool()
		}
		if !o.RootCAs.AppendCertsFromPEM(pem) {
			return o, fmt.Errorf("--oidc-ca-file: %s holds no PEM certificate", f.caFile)
		}
	}
	if f.sessionKeyFile != "" {
		b, err := os.ReadFile(f.sessionKeyFile)
		if err != nil {
			return o, fmt.Errorf("--session-key-file: %w", err)
		}
		if o.SessionKey = []byte(strings.TrimSpace(string(b))); len(o.SessionKey) < sso.MinSessionKeyBytes {
			return o, fmt.Errorf("--session-key-file: %s holds %d bytes of secret, want at least %d (e.g. `openssl rand -base64 48`)",
				f.sessionKeyFile, len(o.SessionKey), sso.MinSessionKeyBytes)
		}
	}
	return o, o.Validate()
}
