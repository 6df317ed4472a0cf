// Package version says which build a binary is, so a bug report, a log
// line and a metric can name the release and commit it came from.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// version is the release, set by the build (`make build` and the image
// pass -X with the repository's VERSION file). A plain `go build` leaves it
// empty and the module version Go recorded stands in.
var version string

// commit is the revision, set by builds without a VCS stamp (the image
// builds from a copy of the sources, without .git).
var commit string

// Info identifies a build.
type Info struct {
	// Version is the release, such as 0.1.0, or "(devel)" for an
	// unreleased build.
	Version string `json:"version"`
	// Commit is the VCS revision the binary was built from, when Go
	// stamped one (a build from a git checkout); Modified says the tree had
	// uncommitted changes.
	Commit   string `json:"commit,omitempty"`
	Modified bool   `json:"modified,omitempty"`
	// Date is the commit's time, RFC 3339.
	Date      string `json:"date,omitempty"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

// Get reads the build's identity from the linker flag and the build info
// Go embeds in every binary.
func Get() Info {
	bi, _ := debug.ReadBuildInfo()
	info := from(version, bi)
	if info.Commit == "" {
		info.Commit = commit
	}
	return info
}

// from is Get without the process: the release from the linker, else the
// main module's version, and the VCS stamp.
func from(release string, bi *debug.BuildInfo) Info {
	info := Info{Version: release, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi == nil {
		if info.Version == "" {
			info.Version = "(devel)"
		}
		return info
	}
	info.GoVersion = bi.GoVersion
	if info.Version == "" {
		info.Version = bi.Main.Version
	}
	if info.Version == "" {
		info.Version = "(devel)"
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Commit = s.Value
		case "vcs.time":
			info.Date = s.Value
		case "vcs.modified":
			info.Modified = s.Value == "true"
		}
	}
	return info
}

// String is the one line `cast-operator version` prints.
func (i Info) String() string {
	s := "cast-operator " + i.Version
	if i.Commit != "" {
		commit := i.Commit
		if len(commit) > 12 {
			commit = commit[:12]
		}
		if i.Modified {
			commit += "-dirty"
		}
		s += fmt.Sprintf(" (commit %s", commit)
		if i.Date != "" {
			s += ", " + i.Date
		}
		s += ")"
	}
	return s + fmt.Sprintf(" %s %s", i.GoVersion, i.Platform)
}
