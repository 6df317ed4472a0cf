package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// cpuProfile is a CPU profile of the controller being taken over the
// idle window through its --pprof-bind-address, so the cost of an idle
// reconcile can be read where it is spent (go tool pprof -top -cum).
type cpuProfile struct {
	path string
	done chan error
}

// startCPUProfile asks the controller at addr for a profile of the next d
// and writes it to dir as idle-<label>.pprof; nil when dir is empty.
func startCPUProfile(addr, dir, label string, d time.Duration) *cpuProfile {
	if dir == "" {
		return nil
	}
	p := &cpuProfile{path: filepath.Join(dir, "idle-"+strings.ReplaceAll(label, " ", "-")+".pprof"), done: make(chan error, 1)}
	go func() { p.done <- fetchProfile(addr, p.path, d) }()
	return p
}

func fetchProfile(addr, path string, d time.Duration) error {
	url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, max(int(d.Seconds()), 1))
	resp, err := (&http.Client{Timeout: d + time.Minute}).Get(url)
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("creating the profile folder: %w", err)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("creating the profile: %w", err)
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return f.Close()
}

// wait returns where the profile was written, or why it was not.
func (p *cpuProfile) wait() (string, error) {
	if p == nil {
		return "", nil
	}
	return p.path, <-p.done
}
