package faults

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Resources is one reading of a process: what the kernel says (/proc) and
// what its Go runtime says (the Prometheus Go collector on /metrics).
type Resources struct {
	FDs        int
	RSS        uint64 // bytes
	Goroutines int
	HeapAlloc  uint64 // go_memstats_heap_alloc_bytes: live and not yet collected
	HeapLive   uint64 // go_gc_heap_live_bytes: live after the last GC
	GCCycles   uint64 // go_gc_cycles_total_gc_cycles_total
}

func (r Resources) String() string {
	return fmt.Sprintf("fds=%d rss=%s goroutines=%d heap_alloc=%s heap_live=%s gc=%d",
		r.FDs, MiB(r.RSS), r.Goroutines, MiB(r.HeapAlloc), MiB(r.HeapLive), r.GCCycles)
}

// MiB formats bytes for humans.
func MiB(b uint64) string { return fmt.Sprintf("%.1fMiB", float64(b)/(1<<20)) }

// FDCount counts the open file descriptors of pid.
func FDCount(pid int) (int, error) {
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return 0, err
	}
	return len(entries), nil
}

// RSS reads VmRSS of pid in bytes.
func RSS(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmRSS for pid %d", pid)
}

// Scrape reads a Prometheus text exposition and returns its samples by
// full series name (labels included, as written), e.g. "go_goroutines"
// or `cast_streamer_streams_closed_total{reason="timeout"}`.
func Scrape(url string) (map[string]float64, error) {
	hc := &http.Client{Timeout: 5 * time.Second}
	resp, err := hc.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", url, resp.Status)
	}
	return ParseMetrics(resp.Body)
}

// ParseMetrics parses the text format's sample lines; comments, timestamps
// and exemplars are ignored.
func ParseMetrics(r io.Reader) (map[string]float64, error) {
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		// The value follows the series, which ends at the closing brace
		// when there are labels (label values may hold spaces).
		split := strings.LastIndexByte(line, '}') + 1
		if split == 0 {
			split = strings.IndexByte(line, ' ')
		}
		if split <= 0 || split >= len(line) {
			continue
		}
		fields := strings.Fields(line[split:])
		if len(fields) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			continue
		}
		out[strings.TrimSpace(line[:split])] = v
	}
	return out, sc.Err()
}

// ReadResources reads pid's resources; metricsURL is its /metrics.
func ReadResources(pid int, metricsURL string) (Resources, error) {
	var r Resources
	var err error
	if r.FDs, err = FDCount(pid); err != nil {
		return r, err
	}
	if r.RSS, err = RSS(pid); err != nil {
		return r, err
	}
	m, err := Scrape(metricsURL)
	if err != nil {
		return r, err
	}
	need := func(name string) float64 {
		v, ok := m[name]
		if !ok && err == nil {
			err = fmt.Errorf("%s has no %s", metricsURL, name)
		}
		return v
	}
	r.Goroutines = int(need("go_goroutines"))
	r.HeapAlloc = uint64(need("go_memstats_heap_alloc_bytes"))
	r.HeapLive = uint64(need("go_gc_heap_live_bytes"))
	r.GCCycles = uint64(need("go_gc_cycles_total_gc_cycles_total"))
	return r, err
}

// FoundProcess is a control-plane process found in /proc: enough to start
// the same server again (same flags, so the same port, certificates and
// data).
type FoundProcess struct {
	Pid  int
	Args []string // argv, binary first
	Dir  string   // its working directory
}

// FindAPIServer finds the kube-apiserver whose --etcd-servers is etcdURL,
// so tests running side by side never touch each other's control planes.
func FindAPIServer(etcdURL string) (FoundProcess, error) {
	return FindProcess("kube-apiserver", "--etcd-servers="+etcdURL)
}

// FindEtcd finds the etcd that serves clients at etcdURL.
func FindEtcd(etcdURL string) (FoundProcess, error) {
	return FindProcess("etcd", "--advertise-client-urls="+etcdURL)
}

// FindProcess finds the process running binary with the argument arg
// (trailing slashes ignored) in /proc.
func FindProcess(binary, arg string) (FoundProcess, error) {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	want := strings.TrimSuffix(arg, "/")
	for _, d := range dirs {
		raw, err := os.ReadFile(filepath.Join(d, "cmdline"))
		if err != nil || len(raw) == 0 {
			continue
		}
		args := strings.Split(strings.TrimRight(string(raw), "\x00"), "\x00")
		if filepath.Base(args[0]) != binary || !Alive(atoi(filepath.Base(d))) {
			continue
		}
		for _, a := range args[1:] {
			if strings.TrimSuffix(a, "/") == want {
				cwd, _ := os.Readlink(filepath.Join(d, "cwd"))
				return FoundProcess{Pid: atoi(filepath.Base(d)), Args: args, Dir: cwd}, nil
			}
		}
	}
	return FoundProcess{}, fmt.Errorf("no %s with %s in /proc", binary, want)
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// Flag returns the value of --name= in the server's arguments.
func (a FoundProcess) Flag(name string) string {
	for _, arg := range a.Args {
		if v, ok := strings.CutPrefix(arg, "--"+name+"="); ok {
			return v
		}
	}
	return ""
}

// Alive reports whether pid still runs (and is not a zombie).
func Alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && i+2 < len(s) && s[i+2] != 'Z'
}
