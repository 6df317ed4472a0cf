package castcli

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrlclient "sigs.k8s.io/controller-runtime/pkg/client"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/test/kubetest"
)

// TestPlugin runs kubectl cast's commands against a real API server and
// streamer, authenticated by an exec plugin's ServiceAccount token.
func TestPlugin(t *testing.T) {
	e := startPluginEnv(t)
	ctx := context.Background()
	on := func(args ...string) []string { return append(args, "--context", "envtest") }

	t.Run("--context picks another cluster entry", func(t *testing.T) {
		e.cast(t, "table", castv1alpha1.PhaseRunning, 2)
		r := run(ctx, "get", "table") // the current context's cluster is dead
		if r.code != 1 || !strings.Contains(r.stderr, "connection refused") {
			t.Fatalf("on the dead cluster: exit %d, stderr %q; want 1 and connection refused", r.code, r.stderr)
		}
		r = run(ctx, on("get", "table")...)
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if len(lines) != 2 || strings.Join(strings.Fields(lines[0]), " ") != "NAME PHASE PROGRESS ATTEMPT AGE" ||
			!strings.HasPrefix(strings.Join(strings.Fields(lines[1]), " "), "table Running 40% 2 ") {
			t.Errorf("table:\n%s", r.stdout)
		}
	})

	t.Run("get -A -l lists across namespaces with a NAMESPACE column", func(t *testing.T) {
		kubetest.Must(t, kubetest.Allow(ctx, e.kube, kubetest.Grant{ServiceAccount: ctrlclient.ObjectKey{Namespace: e.ns, Name: editorSA}}))
		r := run(ctx, on("get", "-A", "-l", "team=blue")...)
		if r.code != 0 || !strings.HasPrefix(r.stdout, "NAMESPACE") || !strings.Contains(r.stdout, "plugin ") {
			t.Fatalf("exit %d, stdout:\n%s\nstderr: %s", r.code, r.stdout, r.stderr)
		}
		if r := run(ctx, on("get", "-l", "team=red")...); r.code != 0 || r.stdout != "" || !strings.Contains(r.stderr, "No Casts found") {
			t.Errorf("an empty selection: %+v", r)
		}
	})

	t.Run("watch follows a Cast to Succeeded with the exec plugin's token", func(t *testing.T) {
		c := e.cast(t, "watched", castv1alpha1.PhaseRunning, 1)
		done := make(chan result, 1)
		wctx, cancel := context.WithCancel(ctx)
		defer cancel()
		go func() { done <- run(wctx, on("watch", "watched")...) }()
		time.Sleep(500 * time.Millisecond) // usually subscribed by then; either way the final state arrives
		e.status(t, c, func(st *castv1alpha1.CastStatus) {
			st.Phase, st.Progress, st.Message = castv1alpha1.PhaseSucceeded, 100, "all done"
		})
		select {
		case r := <-done:
			if r.code != 0 || !strings.Contains(r.stdout, "plugin/watched") || !strings.Contains(r.stdout, "Succeeded  100%  all done") {
				t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("watch did not end")
		}
	})

	t.Run("an auth-provider (oidc) user's id-token reaches the API server and the streamer", func(t *testing.T) {
		if r := run(ctx, "--context", "oidc", "watch", "watched"); r.code != 0 || !strings.Contains(r.stdout, "Succeeded") {
			t.Fatalf("watch: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
		if r := run(ctx, "--context", "oidc", "get", "watched"); r.code != 0 || !strings.Contains(r.stdout, "Succeeded") {
			t.Fatalf("get: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
	})

	t.Run("watch of a Failed Cast exits 1, as cast-operator watch", func(t *testing.T) {
		e.cast(t, "fizzled", castv1alpha1.PhaseFailed, 1)
		if r := run(ctx, on("watch", "fizzled")...); r.code != 1 || !strings.Contains(r.stderr, "cast plugin/fizzled Failed") {
			t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
		}
	})

	t.Run("cancel names the user from the SelfSubjectReview and the attempt, and waits for the answer", func(t *testing.T) {
		c := e.cast(t, "to-cancel", castv1alpha1.PhaseRunning, 2)
		done := make(chan result, 1)
		go func() { done <- run(ctx, on("cancel", "to-cancel", "--wait")...) }()
		// The controller's part: answer the request in status.
		kubetest.WaitUntil(t, "spec.cancel is set", func() bool { return e.get(t, "to-cancel").Spec.Cancel != nil })
		got := e.get(t, "to-cancel").Spec.Cancel
		if got.RequestedBy != e.user || got.Attempt != 2 {
			t.Errorf("spec.cancel = %+v, want %s and attempt 2", got, e.user)
		}
		e.status(t, c, func(st *castv1alpha1.CastStatus) {
			st.Phase = castv1alpha1.PhaseCancelled
			st.Cancel = &castv1alpha1.CancelStatus{Attempt: 2, RequestedBy: e.user, Result: castv1alpha1.CancelResultCancelled,
				RequestedAt: metav1.Now(), Message: "run 2 cancelled"}
		})
		r := <-done
		if r.code != 0 || !strings.Contains(r.stdout, "requested by "+e.user) || !strings.Contains(r.stdout, "cancel Cancelled: run 2 cancelled") {
			t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
	})

	t.Run("cancel of a finished Cast gives the API server's reason", func(t *testing.T) {
		e.cast(t, "finished", castv1alpha1.PhaseSucceeded, 1)
		r := run(ctx, on("cancel", "finished")...)
		if r.code != 1 || !strings.Contains(r.stderr, "the Cast already finished as Succeeded") {
			t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
		}
		if e.get(t, "finished").Spec.Cancel != nil {
			t.Error("the refused cancel was written")
		}
	})

	t.Run("rerun --failed-only names the finished attempt; a running Cast is refused in words", func(t *testing.T) {
		e.cast(t, "failed", castv1alpha1.PhaseFailed, 1)
		r := run(ctx, on("rerun", "failed", "--failed-only")...)
		if r.code != 0 {
			t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
		}
		got := e.get(t, "failed").Spec.Rerun
		if got == nil || got.RequestedBy != e.user || got.AfterAttempt != 1 || !got.FailedOnly {
			t.Errorf("spec.rerun = %+v, want %s, afterAttempt 1, failedOnly", got, e.user)
		}
		e.cast(t, "going", castv1alpha1.PhaseRunning, 1)
		r = run(ctx, on("rerun", "going")...)
		if r.code != 1 || !strings.Contains(r.stderr, "only a finished run can be re-run") {
			t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
		}
		e.cast(t, "never-ran", castv1alpha1.PhasePending, 0)
		if r := run(ctx, on("rerun", "never-ran")...); r.code != 1 || !strings.Contains(r.stderr, "create --from=cast/never-ran") {
			t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
		}
	})

	t.Run("rerun --wait exits 1 with GitHub's words when the re-run is refused", func(t *testing.T) {
		c := e.cast(t, "too-old", castv1alpha1.PhaseFailed, 1)
		done := make(chan result, 1)
		go func() { done <- run(ctx, on("rerun", "too-old", "--wait")...) }()
		kubetest.WaitUntil(t, "spec.rerun is set", func() bool { return e.get(t, "too-old").Spec.Rerun != nil })
		e.status(t, c, func(st *castv1alpha1.CastStatus) {
			st.Rerun = &castv1alpha1.RerunStatus{AfterAttempt: 1, RequestedBy: e.user, State: castv1alpha1.RerunRefused,
				LastTransitionTime: metav1.Now(), Message: "Unable to re-run this workflow run because it was created over a month ago"}
		})
		r := <-done
		if r.code != 1 || !strings.Contains(r.stdout, "re-run Refused: Unable to re-run this workflow run") {
			t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
	})

	t.Run("create --from copies the spec without the requests and the run", func(t *testing.T) {
		old := e.get(t, "to-cancel") // has spec.cancel
		r := run(ctx, on("create", "--from=cast/to-cancel")...)
		if r.code != 0 || !strings.HasPrefix(r.stdout, "cast.spell.dev/to-cancel-") {
			t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
		name := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(r.stdout), "cast.spell.dev/"), " created")
		c := e.get(t, name)
		if c.Spec.Cancel != nil || c.Spec.Rerun != nil || c.Spec.RunID != nil || c.Spec.Repository != old.Spec.Repository ||
			c.Spec.Inputs["spell"] != "to-cancel" || c.Labels["team"] != "blue" {
			t.Errorf("the copy: %+v, labels %v", c.Spec, c.Labels)
		}
		attached := kubetest.NewCast(e.ns, "attached", 99)
		kubetest.Must(t, e.k8s.Create(ctx, attached))
		r = run(ctx, on("create", "--from", "casts/attached")...)
		if r.code != 0 {
			t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
		}
		name = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(r.stdout), "cast.spell.dev/"), " created")
		if c := e.get(t, name); c.Spec.RunID != nil || c.Spec.Inputs["spell"] != "attached" {
			t.Errorf("the copy of an attached Cast: %+v", c.Spec)
		}
		if r := run(ctx, on("create", "--from=pod/x")...); r.code != 2 {
			t.Errorf("--from=pod/x: exit %d, want 2", r.code)
		}
	})

	t.Run("a client-certificate user is told what to do instead", func(t *testing.T) {
		r := run(ctx, "--kubeconfig", e.certConfig, "-n", e.ns, "watch", "table", "--server", e.url)
		want := "your kubeconfig user authenticates with a client certificate, which the streamer cannot verify; pass --token-file"
		if r.code != 2 || !strings.Contains(r.stderr, want) {
			t.Fatalf("exit %d, stderr %q; want 2 and %q", r.code, r.stderr, want)
		}
		token, err := kubetest.Viewer(ctx, e.kube, e.ns, "viewer")
		kubetest.Must(t, err)
		tokenFile := t.TempDir() + "/token"
		kubetest.Must(t, writeString(tokenFile, token))
		r = run(ctx, "--kubeconfig", e.certConfig, "-n", e.ns, "watch", "finished", "--server", e.url, "--token-file", tokenFile)
		if r.code != 0 || !strings.Contains(r.stdout, "Succeeded") {
			t.Fatalf("with --token-file: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
	})

	t.Run("an https streamer's CA from a flag or the kubeconfig", func(t *testing.T) { testStreamerCA(t, e) })

	t.Run("completion lists Cast names", func(t *testing.T) {
		r := run(ctx, "__complete", "--context", "envtest", "cancel", "to-")
		if r.code != 0 || !strings.Contains(r.stdout, "to-cancel\n") || strings.Contains(r.stdout, "table\n") {
			t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
		r = run(ctx, "__complete", "--context", "envtest", "create", "--from", "cast/fa")
		if r.code != 0 || !strings.Contains(r.stdout, "cast/failed\n") {
			t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
		r = run(ctx, "completion", "bash")
		if r.code != 0 || !strings.Contains(r.stdout, "__start_kubectl-cast") {
			t.Errorf("completion bash: exit %d, %.200s", r.code, r.stdout)
		}
	})
}
