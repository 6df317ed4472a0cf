package faults

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spell-platform/cast-operator/hack/localcluster"
)

// BuildBinary builds the cast-operator command into dir and returns its
// path. Each suite builds its own copy (the build cache makes that a
// link step) rather than bin/cast-operator, which other tools running in
// the same checkout may be executing or rewriting at the same time.
func BuildBinary(ctx context.Context, dir string) (string, error) {
	root, err := localcluster.RepoRoot()
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "cast-operator")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, ".")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %w\n%s", err, b)
	}
	return out, nil
}

// FreeAddr returns a loopback host:port that was free a moment ago. A
// restarted process binds the same address again, as a Pod's would.
func FreeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// Proc is one subprocess, in a process group of its own so that killing
// it never reaches the test's own group.
type Proc struct {
	Name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
	log  *os.File

	// MetricsURL is the process's /metrics, when it serves one.
	MetricsURL string
}

// Start runs bin with args (and extra environment) and sends its output
// to logPath, which stays for the post-mortem of a failed run.
func Start(name, bin string, args, env []string, logPath string) (*Proc, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(f, "=== %s: %s %s\n", time.Now().Format(time.RFC3339Nano), bin, strings.Join(args, " "))
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &Proc{Name: name, cmd: cmd, done: make(chan struct{}), log: f}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	return p, nil
}

// LogFile is where the process's output goes.
func (p *Proc) LogFile() string { return p.log.Name() }

// Pid is the process ID.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Exited reports whether the process ended (by itself or killed).
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Kill ends the process with SIGKILL, as the OOM killer or a node failure
// would: no shutdown handler runs, and waits until it is gone.
func (p *Proc) Kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// Stop asks for a clean shutdown (SIGTERM) and kills the process if it is
// not gone within timeout; it returns the exit error of an unclean end.
func (p *Proc) Stop(timeout time.Duration) error {
	if p.Exited() {
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		p.Kill()
		return fmt.Errorf("%s did not stop within %s after SIGTERM", p.Name, timeout)
	}
}

// WaitHTTP polls url until it answers want, the process dies, or timeout.
func WaitHTTP(p *Proc, url string, want int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	hc := &http.Client{Timeout: 2 * time.Second}
	last := "no answer"
	for time.Now().Before(deadline) {
		if p != nil && p.Exited() {
			return fmt.Errorf("%s exited while waiting for %s: %w", p.Name, url, p.err)
		}
		resp, err := hc.Get(url)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == want {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s did not answer %d within %s (last: %s)", url, want, timeout, last)
}

// WaitListening polls until addr accepts TCP connections.
func WaitListening(p *Proc, addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if p.Exited() {
			return fmt.Errorf("%s exited while waiting for %s: %w", p.Name, addr, p.err)
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("nothing listens on %s after %s", addr, timeout)
}

// StreamerConfig is how a streamer subprocess is run.
type StreamerConfig struct {
	Binary, Kubeconfig, Addr, LogPath string
	// MetricsAddr is where /metrics is served (--metrics-bind-address);
	// empty picks a free loopback port. The public Addr does not serve it.
	MetricsAddr string
	// SecureMetrics serves /metrics over HTTPS behind the API server's
	// authentication and RBAC, as in a cluster; otherwise plain HTTP,
	// which the harnesses scrape.
	SecureMetrics bool
	// Args are extra flags, e.g. --max-stream-duration.
	Args []string
	// Env is extra environment, e.g. GOGC.
	Env []string
}

// StartStreamer runs `cast-operator streamer` and returns once /readyz
// answers 200, i.e. its informer has listed the Casts.
func StartStreamer(c StreamerConfig) (*Proc, error) {
	if c.MetricsAddr == "" {
		addr, err := FreeAddr()
		if err != nil {
			return nil, err
		}
		c.MetricsAddr = addr
	}
	args := append([]string{"streamer", "--kubeconfig", c.Kubeconfig, "--bind-address", c.Addr,
		"--metrics-bind-address", c.MetricsAddr, "--metrics-secure=" + strconv.FormatBool(c.SecureMetrics)}, c.Args...)
	p, err := Start("streamer", c.Binary, args, c.Env, c.LogPath)
	if err != nil {
		return nil, err
	}
	p.MetricsURL = "http://" + c.MetricsAddr + "/metrics"
	if c.SecureMetrics {
		p.MetricsURL = "https://" + c.MetricsAddr + "/metrics"
	}
	if err := WaitHTTP(p, "http://"+c.Addr+"/readyz", http.StatusOK, 60*time.Second); err != nil {
		p.Kill()
		return nil, err
	}
	return p, nil
}

// ControllerConfig is how a controller subprocess is run.
type ControllerConfig struct {
	Binary, Kubeconfig, LogPath string
	WebhookAddr, WebhookSecret  string
	GitHubURL, TokenFile        string
	Resync                      time.Duration
	Args                        []string
}

// StartController runs `cast-operator controller` with its probes and
// metrics off (their default ports would collide with anything else on
// the machine) and returns once the webhook receiver listens, which the
// manager starts after its caches synced.
func StartController(c ControllerConfig) (*Proc, error) {
	if c.WebhookAddr == "" || c.WebhookSecret == "" {
		return nil, errors.New("the controller harness needs a webhook address and secret")
	}
	args := append([]string{"controller", "--kubeconfig", c.Kubeconfig,
		"--metrics-bind-address", "0", "--health-probe-bind-address", "0",
		"--webhook-bind-address", c.WebhookAddr,
		"--github-api-url", c.GitHubURL, "--github-token-file", c.TokenFile,
		"--resync-interval", c.Resync.String(), "--webhook-resync-interval", c.Resync.String()}, c.Args...)
	p, err := Start("controller", c.Binary, args, []string{"GITHUB_WEBHOOK_SECRET=" + c.WebhookSecret}, c.LogPath)
	if err != nil {
		return nil, err
	}
	if err := WaitListening(p, c.WebhookAddr, 60*time.Second); err != nil {
		p.Kill()
		return nil, err
	}
	return p, nil
}

// Group runs functions with at most width at a time and returns the
// first error, for the many small API calls the specs make.
func Group(n, width int, fn func(i int) error) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	sem := make(chan struct{}, width)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := fn(i); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return first
}
