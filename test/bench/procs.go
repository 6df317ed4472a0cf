package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat;
// it is 100 on every Linux architecture Go supports.
const clockTicks = 100

// procStat is one reading of a process from /proc.
type procStat struct {
	RSS, HWM uint64  // bytes (VmRSS, VmHWM)
	CPU      float64 // seconds, utime+stime
}

func readProc(pid int) (procStat, error) {
	var st procStat
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return st, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		name, val, ok := strings.Cut(line, ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(val), " kB"), 10, 64)
		if name == "VmRSS" {
			st.RSS = kb << 10
		} else {
			st.HWM = kb << 10
		}
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return st, err
	}
	// The command name may hold spaces; fields count from after its ')'.
	f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
	if len(f) < 13 {
		return st, fmt.Errorf("short /proc/%d/stat", pid)
	}
	utime, _ := strconv.ParseUint(f[11], 10, 64)
	stime, _ := strconv.ParseUint(f[12], 10, 64)
	st.CPU = float64(utime+stime) / clockTicks
	return st, nil
}

// findChild finds a child of this process whose executable is named name:
// envtest starts kube-apiserver and etcd as our children.
func findChild(name string) (int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	self := os.Getpid()
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		s := string(stat)
		rest := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		if len(rest) < 2 || rest[1] != strconv.Itoa(self) {
			continue
		}
		if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); err == nil && filepath.Base(exe) == name {
			return pid, nil
		}
	}
	return 0, fmt.Errorf("no child process %s of pid %d", name, self)
}

// usage is what a measurement window reports for one process.
type usage struct {
	OK      bool    // both ends of the window were read
	CPU     float64 // seconds used in the window
	PeakRSS uint64  // highest VmRSS sampled in the window
	HWM     uint64  // VmHWM at the end (peak since the process started)
	EndRSS  uint64
}

// watcher samples processes every 100 ms during a window.
type watcher struct {
	pids  []int
	ok    []bool
	start []procStat
	peak  []uint64
	stop  chan struct{}
	done  sync.WaitGroup
	mu    sync.Mutex
}

func sample(pids ...int) *watcher {
	w := &watcher{pids: pids, ok: make([]bool, len(pids)), start: make([]procStat, len(pids)), peak: make([]uint64, len(pids)), stop: make(chan struct{})}
	for i, pid := range pids {
		var err error
		w.start[i], err = readProc(pid)
		w.ok[i] = err == nil
		w.peak[i] = w.start[i].RSS
	}
	w.done.Go(func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-t.C:
				w.sample()
			}
		}
	})
	return w
}

func (w *watcher) sample() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i, pid := range w.pids {
		if st, err := readProc(pid); err == nil {
			w.peak[i] = max(w.peak[i], st.RSS)
		}
	}
}

// end stops sampling and returns each process's usage, in pids order.
func (w *watcher) end() []usage {
	close(w.stop)
	w.done.Wait()
	w.sample()
	out := make([]usage, len(w.pids))
	for i, pid := range w.pids {
		st, err := readProc(pid)
		out[i] = usage{OK: w.ok[i] && err == nil, CPU: st.CPU - w.start[i].CPU, PeakRSS: w.peak[i], HWM: st.HWM, EndRSS: st.RSS}
	}
	return out
}

// goTool is the go command of the toolchain running us, so `go test` and
// `go run` build the binary with the same Go.
func goTool() string {
	//nolint:staticcheck // go run builds and runs the bench on this machine, so its GOROOT is the toolchain running it
	if p := filepath.Join(runtime.GOROOT(), "bin", "go"); fileExists(p) {
		return p
	}
	return "go"
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// buildBinary runs `go build -o bin/cast-operator .` in the checkout; with
// the build cache it takes seconds when nothing changed.
func buildBinary(ctx context.Context, root string) (string, error) {
	bin := filepath.Join(root, "bin", "cast-operator")
	cmd := exec.CommandContext(ctx, goTool(), "build", "-o", bin, ".")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build -o bin/cast-operator .: %w\n%s", err, out)
	}
	return bin, nil
}

// child is a subprocess (streamer or controller) with its log in a file.
type child struct {
	cmd  *exec.Cmd
	log  string
	exit chan error
}

func startChild(bin, logPath string, env []string, args ...string) (*child, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = append(os.Environ(), env...)
	// Killed with us if the harness dies, so nothing outlives a run.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("starting %s: %w", filepath.Base(bin), err)
	}
	c := &child{cmd: cmd, log: logPath, exit: make(chan error, 1)}
	go func() { c.exit <- cmd.Wait(); logFile.Close() }()
	return c, nil
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// stop sends SIGTERM and waits (SIGKILL after 15 s).
func (c *child) stop() {
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-c.exit:
		_ = err // how a stopped child exited is not news
	case <-time.After(15 * time.Second):
		_ = c.cmd.Process.Kill()
		err := <-c.exit
		_ = err
	}
}

// tail returns the end of the child's log, for error messages.
func (c *child) tail() string {
	b, _ := os.ReadFile(c.log)
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(b)
}

// waitHTTP polls url until it answers 200, the child exits or timeout.
func (c *child) waitHTTP(url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case err := <-c.exit:
			c.exit <- err
			return fmt.Errorf("%s exited (%w); log:\n%s", filepath.Base(c.cmd.Path), err, c.tail())
		default:
		}
		if resp, err := http.Get(url); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s not ready at %s after %s; log:\n%s", filepath.Base(c.cmd.Path), url, timeout, c.tail())
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// metrics is a scrape of a Prometheus text endpoint: series as printed
// (name{labels}) to value.
type metrics map[string]float64

func scrape(url string) (metrics, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	m := metrics{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			m[line[:i]] = v
		}
	}
	return m, sc.Err()
}

func (m metrics) get(series string) float64 { return m[series] }

// has reports whether the scrape had the series: a counter that is absent
// is not a counter at zero, and a goal must not read it as one.
func (m metrics) has(series string) bool { _, ok := m[series]; return ok }

// delta is after-before for one series.
func delta(before, after metrics, series string) float64 { return after[series] - before[series] }
