package version

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestFrom(t *testing.T) {
	stamped := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.1.1-0.20261130-abc"},
		Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "66d737a0123456789abcdef"},
			{Key: "vcs.time", Value: "2026-11-30T19:40:00Z"},
			{Key: "vcs.modified", Value: "true"},
		}}
	cases := []struct {
		name    string
		release string
		bi      *debug.BuildInfo
		want    Info
		line    string
	}{
		{name: "release from the linker wins", release: "0.1.0", bi: stamped,
			want: Info{Version: "0.1.0", Commit: "66d737a0123456789abcdef", Modified: true, Date: "2026-11-30T19:40:00Z", GoVersion: "go1.26.8"},
			line: "cast-operator 0.1.0 (commit 66d737a01234-dirty, 2026-11-30T19:40:00Z) go1.26.8 "},
		{name: "module version without the linker flag", bi: stamped,
			want: Info{Version: "v0.1.1-0.20261130-abc", Commit: "66d737a0123456789abcdef", Modified: true, Date: "2026-11-30T19:40:00Z", GoVersion: "go1.26.8"}},
		{name: "a go build outside VCS", bi: &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}},
			want: Info{Version: "(devel)", GoVersion: "go1.26.8"},
			line: "cast-operator (devel) go1.26.8 "},
		{name: "no build info", release: "",
			want: Info{Version: "(devel)"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := from(tc.release, tc.bi)
			if tc.bi == nil {
				got.GoVersion = "" // the test binary's own
			}
			got.Platform = "" // the test machine's
			if got != tc.want {
				t.Errorf("from(%q) = %+v, want %+v", tc.release, got, tc.want)
			}
			if tc.line != "" && !strings.HasPrefix(got.String(), tc.line) {
				t.Errorf("String() = %q, want prefix %q", got.String(), tc.line)
			}
		})
	}
}
