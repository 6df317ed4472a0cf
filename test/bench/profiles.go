package main

import (
	"context"
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
	url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, max(int(d.Seconds()), 1))
	go func() { p.done <- fetchTo(url, p.path, d+time.Minute) }()
	return p
}

// fetchTo writes what GET url answers to path, creating its folder.
func fetchTo(url, path string, timeout time.Duration) error {
	resp, err := (&http.Client{Timeout: timeout}).Get(url)
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("creating the folder of %s: %w", path, err)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("creating %s: %w", path, err)
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

// saveHeapProfile writes the controller's heap profile to the
// -many-heap-profiles folder; a profile is an aid, so failing to take one
// is reported and does not stop the scenario.
func (b *bench) saveHeapProfile(pprofURL, name string) {
	if pprofURL == "" {
		return
	}
	if err := fetchTo(pprofURL, filepath.Join(b.cfg.many.heapDir, name), time.Minute); err != nil {
		b.progress("many: no heap profile %s: %v", name, err)
	}
}

// saveMemStats writes the Go runtime's memory figures from the
// controller's /metrics next to its heap profile: heap goal, idle and
// released memory tell live heap from memory the runtime keeps.
func (b *bench) saveMemStats(ctx context.Context, metricsURL, name string) {
	if b.cfg.many.heapDir == "" {
		return
	}
	_, body, err := getBody(ctx, metricsURL, "")
	if err == nil {
		var keep []string
		for _, line := range strings.Split(string(body), "\n") {
			if strings.HasPrefix(line, "go_memstats_") || strings.HasPrefix(line, "go_gc_") || strings.HasPrefix(line, "go_goroutines") {
				keep = append(keep, line)
			}
		}
		err = os.WriteFile(filepath.Join(b.cfg.many.heapDir, name), []byte(strings.Join(keep, "\n")+"\n"), 0o644)
	}
	if err != nil {
		b.progress("many: no memory figures %s: %v", name, err)
	}
}

// heapInuse is go_memstats_heap_inuse_bytes from a /metrics endpoint, -1
// when it cannot be read: it tells live heap from RSS the runtime has not
// yet returned.
func heapInuse(url string) float64 {
	m, err := scrape(url)
	if err != nil {
		return -1
	}
	if v, ok := m["go_memstats_heap_inuse_bytes"]; ok {
		return v
	}
	return -1
}
