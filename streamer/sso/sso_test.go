package sso_test

import (
	"strings"
	"testing"

	"github.com/spell-platform/cast-operator/streamer/sso"
)

func TestOptionsValidateSaysWhichFlagIsWrong(t *testing.T) {
	good := sso.Options{IssuerURL: "https://dex.example.com", ClientID: "casts", RedirectURL: "https://casts.example.com/api/v1/oidc/callback"}
	cases := []struct {
		name   string
		change func(*sso.Options)
		want   string // "" means valid
	}{
		{name: "complete", change: func(*sso.Options) {}},
		{name: "behind a path prefix", change: func(o *sso.Options) { o.RedirectURL = "https://example.com/casts/api/v1/oidc/callback" }},
		{name: "plain http issuer", change: func(o *sso.Options) { o.IssuerURL = "http://dex.example.com" }, want: "--oidc-issuer-url"},
		{name: "no client id", change: func(o *sso.Options) { o.ClientID = "" }, want: "--oidc-client-id is required"},
		{name: "no redirect url", change: func(o *sso.Options) { o.RedirectURL = "" }, want: "--oidc-redirect-url is required"},
		{name: "redirect elsewhere", change: func(o *sso.Options) { o.RedirectURL = "https://casts.example.com/callback" }, want: "ending in /api/v1/oidc/callback"},
		{name: "short session key", change: func(o *sso.Options) { o.SessionKey = []byte("0123456789") }, want: "at least 32"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := good
			tc.change(&o)
			err := o.Validate()
			if tc.want == "" && err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("Validate: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
