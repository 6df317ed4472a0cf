package streamer

import (
	"flag"
	"io"
	"net/netip"
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
