package castcli

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	ctrlclient "sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/hack/localcluster"
	"github.com/spell-platform/cast-operator/streamer"
	"github.com/spell-platform/cast-operator/test/kubetest"
)

// pluginEnv is a real kube-apiserver with the requester policy, a real
// streamer in front of it, and a kubeconfig whose user is an exec plugin
// handing out a ServiceAccount's token.
type pluginEnv struct {
	k8s        ctrlclient.Client
	kube       kubernetes.Interface
	admin      *rest.Config
	ns         string
	url        string // the streamer
	kubeconfig string // contexts "dead" (current) and "envtest" (the exec plugin user)
	certConfig string // a kubeconfig whose user has a client certificate
	user       string // the exec plugin's ServiceAccount, as the API server names it
	// startStreamer starts another streamer on the same API server and
	// returns its URL.
	startStreamer func(t *testing.T, opts streamer.Options) string
}

// startStreamer serves a real streamer on a loopback port until the test ends.
func startStreamer(t *testing.T, cl *kubetest.Cluster, opts streamer.Options) string {
	t.Helper()
	opts.HeartbeatInterval = 200 * time.Millisecond
	srv, err := streamer.New(opts, cl.Cache, cl.Kube)
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
	url := "http://" + ln.Addr().String()
	probe := http.DefaultClient
	if opts.TLSCertFile != "" {
		url = "https://" + ln.Addr().String()
		probe = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // only a readiness probe
	}
	kubetest.WaitUntil(t, "the streamer is ready", func() bool {
		resp, err := probe.Get(url + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return url
}

const editorSA = "editor"

func startPluginEnv(t *testing.T) *pluginEnv {
	t.Helper()
	logf.SetLogger(zap.New(zap.WriteTo(io.Discard)))
	cl, err := kubetest.Start(kubetest.WithCache())
	kubetest.Must(t, err)
	t.Cleanup(func() { _ = cl.Stop() })
	e := &pluginEnv{k8s: cl.Client, kube: cl.Kube, admin: cl.Config, ns: "plugin",
		user: "system:serviceaccount:plugin:" + editorSA}
	e.startStreamer = func(t *testing.T, opts streamer.Options) string {
		return startStreamer(t, cl, opts)
	}
	e.url = e.startStreamer(t, streamer.Options{})
	ctx := context.Background()
	kubetest.Must(t, e.k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: e.ns}}))
	token, err := kubetest.Token(ctx, e.kube, e.ns, editorSA, time.Hour)
	kubetest.Must(t, err)
	kubetest.Must(t, kubetest.Allow(ctx, e.kube, kubetest.Grant{Namespace: e.ns, ServiceAccount: ctrlclient.ObjectKey{Namespace: e.ns, Name: editorSA},
		Verbs: []string{"get", "list", "watch", "patch", "create"}}))

	dir := t.TempDir()
	e.certConfig, err = cl.Kubeconfig(dir)
	kubetest.Must(t, err)
	e.applyPolicy(t)
	e.kubeconfig = writeKubeconfig(t, dir, cl.Config, token, e.url, e.ns)
	t.Setenv("KUBECONFIG", e.kubeconfig)
	t.Setenv("CAST_STREAMER", "") // the streamer comes from the kubeconfig extension
	return e
}

// writeKubeconfig writes the exec plugin (a shell script printing an
// ExecCredential) and a kubeconfig with three contexts: "dead", the
// current one, pointing to an address nobody listens on, "envtest", and
// "oidc", the same ServiceAccount's token as an oidc auth-provider's
// unexpired id-token (so client-go uses it without asking the issuer).
func writeKubeconfig(t *testing.T, dir string, admin *rest.Config, token, streamerURL, ns string) string {
	tokenFile := filepath.Join(dir, "sa.token")
	kubetest.Must(t, os.WriteFile(tokenFile, []byte(token), 0o600))
	plugin := filepath.Join(dir, "credential.sh")
	kubetest.Must(t, os.WriteFile(plugin, []byte("#!/bin/sh\nprintf '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"%s\"}}' \"$(cat "+tokenFile+")\"\n"), 0o700))
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	kubetest.Must(t, err)
	deadAddr := dead.Addr().String()
	kubetest.Must(t, dead.Close())
	ca := base64.StdEncoding.EncodeToString(admin.CAData)
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
current-context: dead
clusters:
- name: dead
  cluster:
    server: https://%s
    certificate-authority-data: %s
- name: envtest
  cluster:
    server: %s
    certificate-authority-data: %s
    extensions:
    - name: cast.spell.dev/streamer
      extension:
        server: %s
users:
- name: sa-via-exec
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: %s
      interactiveMode: Never
- name: sa-via-oidc
  user:
    auth-provider:
      name: oidc
      config:
        idp-issuer-url: https://oidc.invalid
        client-id: kubectl
        id-token: %s
contexts:
- name: oidc
  context: {cluster: envtest, user: sa-via-oidc, namespace: %s}
- name: dead
  context: {cluster: dead, user: sa-via-exec, namespace: %s}
- name: envtest
  context: {cluster: envtest, user: sa-via-exec, namespace: %s}
`, deadAddr, ca, admin.Host, ca, streamerURL, plugin, token, ns, ns, ns)
	path := filepath.Join(dir, "plugin.kubeconfig")
	kubetest.Must(t, os.WriteFile(path, []byte(cfg), 0o600))
	return path
}

// applyPolicy installs config/policy, as config/default does, and waits
// until the API server enforces it.
func (e *pluginEnv) applyPolicy(t *testing.T) {
	root, err := localcluster.RepoRoot()
	kubetest.Must(t, err)
	out, err := exec.Command("kubectl", "--kubeconfig", e.certConfig, "apply", "-f",
		filepath.Join(root, "config", "policy", "requester.yaml")).CombinedOutput()
	kubetest.Must(t, errorsWith(err, string(out)))
	c := e.cast(t, "policy-probe", castv1alpha1.PhaseRunning, 1)
	mallory := rest.CopyConfig(e.admin)
	mallory.Impersonate = rest.ImpersonationConfig{UserName: "mallory", Groups: []string{"system:masters"}}
	mc, err := ctrlclient.New(mallory, ctrlclient.Options{Scheme: localcluster.Scheme()})
	kubetest.Must(t, err)
	patch := ctrlclient.RawPatch(types.MergePatchType, []byte(`{"spec":{"cancel":{"requestedBy":"alice","attempt":1}}}`))
	kubetest.WaitUntil(t, "the requester policy is enforced", func() bool {
		err := mc.Patch(context.Background(), c, patch, ctrlclient.DryRunAll)
		return err != nil && strings.Contains(err.Error(), "must name the user making the request: mallory")
	})
}

func errorsWith(err error, out string) error {
	if err != nil {
		return fmt.Errorf("%w: %s", err, out)
	}
	return nil
}

// cast creates a Cast with a status, as the controller would write it.
func (e *pluginEnv) cast(t *testing.T, name string, phase castv1alpha1.CastPhase, attempt int64) *castv1alpha1.Cast {
	t.Helper()
	c := kubetest.NewCast(e.ns, name, 0)
	c.Labels = map[string]string{"team": "blue"}
	kubetest.Must(t, e.k8s.Create(context.Background(), c))
	e.status(t, c, func(st *castv1alpha1.CastStatus) {
		st.Phase, st.RunAttempt, st.Progress = phase, attempt, 40
		if attempt > 0 {
			st.RunID = 7000 + int64(len(name))
		}
	})
	return c
}

func (e *pluginEnv) status(t *testing.T, c *castv1alpha1.Cast, mutate func(*castv1alpha1.CastStatus)) {
	t.Helper()
	_, err := kubetest.SetStatus(context.Background(), e.k8s, ctrlclient.ObjectKeyFromObject(c), mutate)
	kubetest.Must(t, err)
}

func (e *pluginEnv) get(t *testing.T, name string) *castv1alpha1.Cast {
	t.Helper()
	var c castv1alpha1.Cast
	kubetest.Must(t, e.k8s.Get(context.Background(), ctrlclient.ObjectKey{Namespace: e.ns, Name: name}, &c))
	return &c
}

// result is one kubectl-cast run: its exit code and output.
type result struct {
	code           int
	stdout, stderr string
}

// run runs `kubectl cast args...` in-process, as main does.
func run(ctx context.Context, args ...string) result {
	var stdout, stderr bytes.Buffer
	cmd := New(genericiooptions.IOStreams{In: strings.NewReader(""), Out: &stdout, ErrOut: &stderr})
	cmd.SetArgs(args)
	code := ExitCode(cmd.ExecuteContext(ctx), &stderr)
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

func writeString(path, s string) error { return os.WriteFile(path, []byte(s), 0o600) }
