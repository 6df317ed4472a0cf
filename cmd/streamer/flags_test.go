package streamer

import (
	"flag"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spell-platform/cast-operator/streamer"
)

func TestTrustedProxiesFlag(t *testing.T) {
	cases := []struct {
		arg     string
		want    []netip.Prefix
		wantErr string
	}{
		{arg: "", want: []netip.Prefix{}},
		{arg: "10.0.0.0/8, 192.0.2.7 ,fd00::/8", want: []netip.Prefix{
			netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.7/32"), netip.MustParsePrefix("fd00::/8")}},
		{arg: "10.0.0.0/8,10.0.0.0/40", wantErr: `--trusted-proxies: trusted proxy "10.0.0.0/40" is not a CIDR`},
	}
	for _, tc := range cases {
		fs := flag.NewFlagSet("streamer", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		var f Flags
		f.Bind(fs, streamer.DefaultBindAddress)
		if err := fs.Parse([]string{"--trusted-proxies=" + tc.arg}); err != nil {
			t.Fatalf("parsing --trusted-proxies=%q: %v", tc.arg, err)
		}
		err := f.Validate()
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("--trusted-proxies=%q: error %v, want one containing %q", tc.arg, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("--trusted-proxies=%q: %v", tc.arg, err)
			continue
		}
		opts, _ := f.options()
		if !slices.Equal(opts.TrustedProxies, tc.want) {
			t.Errorf("--trusted-proxies=%q gave %v, want %v", tc.arg, opts.TrustedProxies, tc.want)
		}
	}
}

func TestOIDCFlags(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	secret := write("secret", "s3cret\n")
	key := write("key", strings.Repeat("k", 48)+"\n")
	shortKey := write("short", "tooshort")
	notPEM := write("ca", "not a certificate")
	sso := []string{"--oidc-issuer-url=https://dex.example.com", "--oidc-client-id=casts",
		"--oidc-redirect-url=https://casts.example.com/api/v1/oidc/callback"}
	cases := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{name: "off", args: nil},
		{name: "public client", args: sso},
		{name: "confidential client with a key", args: append(slices.Clone(sso), "--oidc-client-secret-file="+secret, "--session-key-file="+key)},
		{name: "client id alone", args: []string{"--oidc-client-id=casts"}, wantErr: "need --oidc-issuer-url"},
		{name: "no redirect url", args: sso[:2], wantErr: "--oidc-redirect-url is required"},
		{name: "http issuer", args: append([]string{"--oidc-issuer-url=http://dex.example.com"}, sso[1:]...), wantErr: "must be an https:// URL"},
		{name: "missing secret file", args: append(slices.Clone(sso), "--oidc-client-secret-file="+filepath.Join(dir, "nope")), wantErr: "--oidc-client-secret-file"},
		{name: "short key", args: append(slices.Clone(sso), "--session-key-file="+shortKey), wantErr: "want at least 32"},
		{name: "CA file without certificates", args: append(slices.Clone(sso), "--oidc-ca-file="+notPEM), wantErr: "holds no PEM certificate"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fs := flag.NewFlagSet("streamer", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			var f Flags
			f.Bind(fs, streamer.DefaultBindAddress)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			err := f.Validate()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				opts, _ := f.options()
				if opts.SSO.Enabled() != (len(tc.args) > 0) {
					t.Fatalf("single sign-on enabled = %v for %v", opts.SSO.Enabled(), tc.args)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Validate: %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}
