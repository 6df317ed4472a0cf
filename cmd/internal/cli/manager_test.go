package cli

import (
	"crypto/tls"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMetricsOptions: --metrics-secure turns on HTTPS and the
// authentication and authorization filter, HTTP/1.1 only; a certificate
// directory must hold the files, and means nothing without HTTPS.
func TestMetricsOptions(t *testing.T) {
	withCert := t.TempDir()
	for _, name := range []string{"tls.crt", "tls.key"} {
		if err := os.WriteFile(filepath.Join(withCert, name), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	keyOnly := t.TempDir()
	if err := os.WriteFile(filepath.Join(keyOnly, "tls.key"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name          string
		secureDefault bool
		args          []string
		wantSecure    bool
		wantCertDir   string
		wantErr       string
	}{
		{name: "controller and streamer default", secureDefault: true, wantSecure: true},
		{name: "dev default", secureDefault: false, wantSecure: false},
		{name: "turned off", secureDefault: true, args: []string{"--metrics-secure=false"}, wantSecure: false},
		{name: "certificate directory", secureDefault: true, args: []string{"--metrics-cert-dir", withCert}, wantSecure: true, wantCertDir: withCert},
		{name: "directory without tls.crt", secureDefault: true, args: []string{"--metrics-cert-dir", keyOnly}, wantErr: "tls.crt"},
		{name: "directory without HTTPS", secureDefault: true, args: []string{"--metrics-secure=false", "--metrics-cert-dir", withCert}, wantErr: "needs --metrics-secure"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fs := NewFlagSet("test", io.Discard)
			var f ManagerFlags
			f.Bind(fs, ":8443", "0", tc.secureDefault)
			if err := Parse(fs, tc.args); err != nil {
				t.Fatal(err)
			}
			o, err := f.metricsOptions()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if o.BindAddress != ":8443" {
				t.Errorf("BindAddress %q, want :8443", o.BindAddress)
			}
			if o.SecureServing != tc.wantSecure || (o.FilterProvider != nil) != tc.wantSecure {
				t.Errorf("SecureServing %v, filter %v; want both %v", o.SecureServing, o.FilterProvider != nil, tc.wantSecure)
			}
			if o.CertDir != tc.wantCertDir {
				t.Errorf("CertDir %q, want %q", o.CertDir, tc.wantCertDir)
			}
			if tc.wantSecure {
				var c tls.Config
				for _, opt := range o.TLSOpts {
					opt(&c)
				}
				if len(c.NextProtos) != 1 || c.NextProtos[0] != "http/1.1" {
					t.Errorf("NextProtos %v, want [http/1.1]", c.NextProtos)
				}
			}
		})
	}
}
