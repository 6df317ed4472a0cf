package watch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	ctrlclient "sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/streamer"
	"github.com/spell-platform/cast-operator/streamer/wire"
	"github.com/spell-platform/cast-operator/test/kubetest"
)

// watchEnv is a real kube-apiserver with a real streamer in front of it.
type watchEnv struct {
	k8s    ctrlclient.Client
	kube   kubernetes.Interface
	host   string // the API server, for kubeconfigs
	url    string // the streamer
	ns     string
	reader string // a token allowed to read Casts in ns
}

func startWatchEnv(t *testing.T) *watchEnv {
	t.Helper()
	logf.SetLogger(zap.New(zap.WriteTo(io.Discard)))
	cl, err := kubetest.Start(kubetest.WithCache())
	kubetest.Must(t, err)
	// Stop ends the cache's watch before the API server, which waits for
	// it; registered first, so it runs after the streamer has stopped.
	t.Cleanup(func() { _ = cl.Stop() })
	e := &watchEnv{k8s: cl.Client, kube: cl.Kube, host: cl.Config.Host, ns: "watch"}
	srv, err := streamer.New(streamer.Options{HeartbeatInterval: 200 * time.Millisecond}, cl.Cache, e.kube)
	kubetest.Must(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	kubetest.Must(t, err)
	sctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(sctx, ln) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("the streamer's Serve after cancel: %v", err)
		}
	})
	e.url = "http://" + ln.Addr().String()
	kubetest.WaitUntil(t, "the streamer is ready", func() bool {
		resp, err := http.Get(e.url + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	kubetest.Must(t, e.k8s.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: e.ns}}))
	e.reader = e.token(t, "reader", true)
	return e
}

// token returns a real one-hour token for ServiceAccount sa in the test
// namespace, allowed to read Casts there if allowed; otherwise it
// authenticates but may read nothing.
func (e *watchEnv) token(t *testing.T, sa string, allowed bool) string {
	t.Helper()
	var token string
	var err error
	if allowed {
		token, err = kubetest.Viewer(context.Background(), e.kube, e.ns, sa)
	} else {
		token, err = kubetest.Token(context.Background(), e.kube, e.ns, sa, time.Hour)
	}
	kubetest.Must(t, err)
	return token
}

func (e *watchEnv) cast(t *testing.T, name string) *castv1alpha1.Cast {
	t.Helper()
	c := &castv1alpha1.Cast{ObjectMeta: metav1.ObjectMeta{Namespace: e.ns, Name: name},
		Spec: castv1alpha1.CastSpec{Repository: "spell-platform/spells", Workflow: "cast.yml"}}
	kubetest.Must(t, e.k8s.Create(context.Background(), c))
	e.status(t, c, castv1alpha1.PhasePending, 0, "")
	return c
}

// status writes status through the subresource, as the controller does.
func (e *watchEnv) status(t *testing.T, c *castv1alpha1.Cast, phase castv1alpha1.CastPhase, progress int32, msg string) {
	t.Helper()
	_, err := kubetest.SetStatus(context.Background(), e.k8s, ctrlclient.ObjectKeyFromObject(c), func(st *castv1alpha1.CastStatus) {
		st.Phase, st.Progress, st.Message = phase, progress, msg
	})
	kubetest.Must(t, err)
}

// has is a condition for waitUntil: b holds s.
func has(b *kubetest.Buffer, s string) func() bool {
	return func() bool { return strings.Contains(b.String(), s) }
}

// cmdRun is a watch command running in the background.
type cmdRun struct {
	stdout, stderr kubetest.Buffer
	done           chan struct{}
	err            error
	cancel         context.CancelFunc
}

// startCmd runs `cast-operator watch args...` as main would.
func startCmd(t *testing.T, args ...string) *cmdRun {
	ctx, cancel := context.WithCancel(context.Background())
	r := &cmdRun{done: make(chan struct{}), cancel: cancel}
	go func() {
		defer close(r.done)
		r.err = runWatchTo(ctx, args, &r.stdout, &r.stderr)
	}()
	t.Cleanup(func() { cancel(); <-r.done })
	return r
}

// exitCode is how main maps Run's error to an exit status.
func (r *cmdRun) exitCode(t *testing.T) (int, string) {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(20 * time.Second):
		t.Fatalf("watch did not end; stdout:\n%s\nstderr:\n%s", r.stdout.String(), r.stderr.String())
	}
	var ee *ExitError
	switch {
	case r.err == nil:
		return 0, ""
	case errors.As(r.err, &ee):
		return ee.ExitCode(), ee.Error()
	case errors.Is(r.err, flag.ErrHelp):
		return 0, ""
	}
	return 1, r.err.Error()
}

func writeFile(t *testing.T, name, content string) string {
	path := filepath.Join(t.TempDir(), name)
	kubetest.Must(t, os.WriteFile(path, []byte(content), 0o600))
	return path
}

// writeKubeconfig points KUBECONFIG at a config whose current context uses
// user, in the test namespace.
func (e *watchEnv) writeKubeconfig(t *testing.T, user *clientcmdapi.AuthInfo) {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["envtest"] = &clientcmdapi.Cluster{Server: e.host}
	cfg.AuthInfos["watcher"] = user
	cfg.Contexts["envtest"] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: "watcher", Namespace: e.ns}
	cfg.CurrentContext = "envtest"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	kubetest.Must(t, clientcmd.WriteToFile(*cfg, path))
	t.Setenv("KUBECONFIG", path)
}

var textLine = regexp.MustCompile(`^\d\d:\d\d:\d\d  watch/\S+ +(Pending|Running|Succeeded|Failed|Deleted) +\d{1,3}%`)

func TestWatch(t *testing.T) {
	e := startWatchEnv(t)
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "none")) // no developer config leaks in
	tokenFile := writeFile(t, "token", e.reader+"\n")
	flags := func(args ...string) []string {
		return append(args, "-n", e.ns, "--server", e.url, "--token-file", tokenFile)
	}

	t.Run("a Cast that Succeeds exits 0 after printing each phase", func(t *testing.T) {
		c := e.cast(t, "ok")
		r := startCmd(t, flags("ok")...)
		kubetest.WaitUntil(t, "Pending is printed", has(&r.stdout, "Pending"))
		e.status(t, c, castv1alpha1.PhaseRunning, 40, "brewing")
		kubetest.WaitUntil(t, "Running is printed", has(&r.stdout, "brewing"))
		e.status(t, c, castv1alpha1.PhaseSucceeded, 100, "all done")
		if code, msg := r.exitCode(t); code != 0 {
			t.Fatalf("exit %d (%s), want 0", code, msg)
		}
		lines := strings.Split(strings.TrimSpace(r.stdout.String()), "\n")
		if len(lines) != 3 {
			t.Fatalf("want 3 lines (Pending, Running, Succeeded), got:\n%s", r.stdout.String())
		}
		for i, want := range []string{"Pending      0%", "Running     40%  brewing", "Succeeded  100%  all done"} {
			if !textLine.MatchString(lines[i]) || !strings.HasSuffix(lines[i], "watch/ok"+strings.Repeat(" ", minNameWidth-8)+"  "+want) {
				t.Errorf("line %d = %q, want time, watch/ok and %q", i, lines[i], want)
			}
		}
	})

	t.Run("a Cast that Fails exits 1 with its message on stderr", func(t *testing.T) {
		c := e.cast(t, "bad")
		r := startCmd(t, flags("bad")...)
		kubetest.WaitUntil(t, "Pending is printed", has(&r.stdout, "Pending"))
		e.status(t, c, castv1alpha1.PhaseFailed, 60, "the spell\nfizzled")
		if code, msg := r.exitCode(t); code != 1 || msg != "" {
			t.Fatalf("exit %d (%q), want 1 with the message already printed", code, msg)
		}
		if want := "cast watch/bad Failed: the spell fizzled"; !strings.Contains(r.stderr.String(), want) {
			t.Errorf("stderr %q lacks %q", r.stderr.String(), want)
		}
	})

	t.Run("-o json prints one snapshot object per event", func(t *testing.T) {
		c := e.cast(t, "js")
		r := startCmd(t, flags("-o", "json", "js")...)
		kubetest.WaitUntil(t, "the first event", has(&r.stdout, "\n"))
		e.status(t, c, castv1alpha1.PhaseSucceeded, 100, "done")
		if code, msg := r.exitCode(t); code != 0 {
			t.Fatalf("exit %d (%s), want 0", code, msg)
		}
		var events []string
		for _, line := range strings.Split(strings.TrimSpace(r.stdout.String()), "\n") {
			var obj map[string]any
			if err := json.Unmarshal([]byte(line), &obj); err != nil {
				t.Fatalf("not JSON: %q: %v", line, err)
			}
			for _, k := range []string{"castId", "namespace", "name", "status", "progress", "resourceVersion", "timestamp", "artifacts"} {
				if _, ok := obj[k]; !ok {
					t.Errorf("%q lacks the snapshot field %q", line, k)
				}
			}
			events = append(events, obj["event"].(string)+" "+obj["status"].(string))
		}
		if strings.Join(events, ", ") != "status Pending, complete Succeeded" {
			t.Errorf("events %q, want status Pending then complete Succeeded", events)
		}
	})

	t.Run("takes the token and namespace from the kubeconfig", func(t *testing.T) {
		c := e.cast(t, "kc")
		e.status(t, c, castv1alpha1.PhaseSucceeded, 100, "done")
		t.Setenv("CAST_STREAMER", e.url)
		// An exec plugin, as managed clusters use: client-go runs it.
		plugin := writeFile(t, "credential.sh", "#!/bin/sh\nprintf '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"%s\"}}' \"$(cat "+tokenFile+")\"\n")
		kubetest.Must(t, os.Chmod(plugin, 0o700))
		exec := &clientcmdapi.ExecConfig{APIVersion: "client.authentication.k8s.io/v1", Command: plugin, InteractiveMode: clientcmdapi.NeverExecInteractiveMode}
		for _, user := range []*clientcmdapi.AuthInfo{{Token: e.reader}, {TokenFile: tokenFile}, {Exec: exec}} {
			e.writeKubeconfig(t, user)
			r := startCmd(t, "kc")
			if code, msg := r.exitCode(t); code != 0 || !strings.Contains(r.stdout.String(), "watch/kc ") || !strings.Contains(r.stdout.String(), " Succeeded ") {
				t.Fatalf("exit %d (%s), output %q: want 0 and the final state", code, msg, r.stdout.String())
			}
		}
	})

	t.Run("a kubeconfig with client certificates asks for --token-file", func(t *testing.T) {
		e.writeKubeconfig(t, &clientcmdapi.AuthInfo{ClientCertificateData: []byte("cert"), ClientKeyData: []byte("key")})
		code, msg := startCmd(t, "--server", e.url, "kc").exitCode(t)
		if code != 2 || !strings.Contains(msg, "client certificate") || !strings.Contains(msg, "--token-file") {
			t.Fatalf("exit %d (%s), want 2 and a hint to use --token-file", code, msg)
		}
	})

	t.Run("a bad token exits 3 and says so", func(t *testing.T) {
		bad := writeFile(t, "bad", "not-a-token")
		code, msg := startCmd(t, "-n", e.ns, "--server", e.url, "--token-file", bad, "ok").exitCode(t)
		if code != 3 || !strings.Contains(msg, "did not accept the token") || !strings.Contains(msg, bad) {
			t.Fatalf("exit %d (%s), want 3 naming the token's source", code, msg)
		}
	})

	t.Run("a token without RBAC exits 3", func(t *testing.T) {
		f := writeFile(t, "stranger", e.token(t, "stranger", false))
		code, msg := startCmd(t, "-n", e.ns, "--server", e.url, "--token-file", f).exitCode(t)
		if code != 3 || !strings.Contains(msg, "403") {
			t.Fatalf("exit %d (%s), want 3 with the streamer's 403", code, msg)
		}
	})

	t.Run("a Cast deleted before it finished exits 3", func(t *testing.T) {
		c := e.cast(t, "doomed")
		r := startCmd(t, flags("doomed")...)
		kubetest.WaitUntil(t, "Pending is printed", has(&r.stdout, "Pending"))
		kubetest.Must(t, e.k8s.Delete(context.Background(), c))
		if code, msg := r.exitCode(t); code != 3 || !strings.Contains(msg, "deleted before it finished") {
			t.Fatalf("exit %d (%s), want 3", code, msg)
		}
		if !has(&r.stdout, "Deleted")() {
			t.Errorf("the deletion is printed too: %q", r.stdout.String())
		}
	})

	t.Run("--events complete,deleted prints only outcomes and deletions", func(t *testing.T) {
		c := e.cast(t, "quiet")
		r := startCmd(t, flags("--events", "complete,deleted", "-o", "json")...)
		kubetest.WaitUntil(t, "the finished Casts are printed", has(&r.stdout, `"event":"synced"`))
		e.status(t, c, castv1alpha1.PhaseRunning, 40, "brewing")
		e.status(t, c, castv1alpha1.PhaseSucceeded, 100, "quietly done")
		kubetest.WaitUntil(t, "the outcome is printed", has(&r.stdout, "quietly done"))
		r.cancel()
		if code, msg := r.exitCode(t); code != 0 {
			t.Fatalf("exit %d (%s), want 0", code, msg)
		}
		for _, line := range strings.Split(strings.TrimSpace(r.stdout.String()), "\n") {
			var obj struct{ Event, Status, Name string }
			if err := json.Unmarshal([]byte(line), &obj); err != nil {
				t.Fatalf("not JSON: %q: %v", line, err)
			}
			if obj.Event != "complete" && obj.Event != "deleted" && obj.Event != "synced" {
				t.Errorf("printed a %s event: %q", obj.Event, line)
			}
		}
		if strings.Contains(r.stdout.String(), "brewing") {
			t.Errorf("the progress of quiet was printed:\n%s", r.stdout.String())
		}
	})

	t.Run("a namespace watch follows new Casts until Ctrl-C, then exits 0", func(t *testing.T) {
		r := startCmd(t, flags()...)
		kubetest.WaitUntil(t, "existing Casts are printed", has(&r.stdout, "watch/ok"))
		e.cast(t, "late")
		kubetest.WaitUntil(t, "a new Cast is printed", has(&r.stdout, "watch/late"))
		r.cancel()
		if code, msg := r.exitCode(t); code != 0 {
			t.Fatalf("exit %d (%s), want 0", code, msg)
		}
		t.Logf("output:\n%s", r.stdout.String())
	})
}

func TestWatchArgs(t *testing.T) {
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "none"))
	tok := writeFile(t, "token", "t")
	for _, args := range [][]string{
		{"a", "b"},
		{"-A", "a"},
		{"-A", "-n", "x"},
		{"-l", "team=blue", "a"},
		{"-o", "yaml"},
		{"--no-such-flag"},
		{"--events", "complete,finished"},
		{"--events", "deleted", "a"}, // a watch of one Cast exits with its outcome
		{},                           // no --token-file and no kubeconfig
	} {
		r := startCmd(t, args...)
		if code, _ := r.exitCode(t); code != 2 {
			t.Errorf("watch %q: exit %d, want 2 (usage)", args, code)
		}
	}
	if code, _ := startCmd(t, "-h").exitCode(t); code != 0 {
		t.Errorf("-h exits %d, want 0", code)
	}

	t.Setenv("CAST_STREAMER", "")
	cfg, err := parseWatchArgs([]string{"mine", "-n", "team", "--token-file", tok}, &bytes.Buffer{})
	if err != nil || cfg.Scope.Name != "mine" || cfg.Scope.Namespace != "team" || cfg.Server != DefaultStreamer {
		t.Errorf("flags after NAME: %+v, %v", cfg, err)
	}
	t.Setenv("CAST_STREAMER", "http://streamer:8090")
	cfg, err = parseWatchArgs([]string{"-A", "-l", "team=blue", "--token-file", tok}, &bytes.Buffer{})
	if err != nil || cfg.Scope.Namespace != "" || cfg.Scope.LabelSelector != "team=blue" || cfg.Server != "http://streamer:8090" {
		t.Errorf("-A -l: %+v, %v", cfg, err)
	}
	cfg, err = parseWatchArgs([]string{"--events", "deleted, complete", "--token-file", tok}, &bytes.Buffer{})
	if err != nil || !slices.Equal(cfg.Scope.Events, []wire.Kind{wire.KindComplete, wire.KindDeleted}) {
		t.Errorf("--events: %+v, %v", cfg.Scope, err)
	}
	cfg, err = parseWatchArgs([]string{"mine", "--events", "status,complete", "--token-file", tok}, &bytes.Buffer{})
	if err != nil || !slices.Equal(cfg.Scope.Events, []wire.Kind{wire.KindStatus, wire.KindComplete}) {
		t.Errorf("--events with NAME: %+v, %v", cfg.Scope, err)
	}
	cfg, err = parseWatchArgs([]string{"--token-file", tok}, &bytes.Buffer{})
	if err != nil || cfg.Scope.Namespace != "default" || cfg.Scope.Events != nil {
		t.Errorf("without a kubeconfig the namespace is default: %+v, %v", cfg, err)
	}
}
