package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/hack/localcluster"
)

// Names of what the harness creates. Every client identity is a
// ServiceAccount in clientNS; a ClusterRoleBinding to that namespace's
// ServiceAccount group lets them all read Casts everywhere.
const (
	clientNS     = "bench-clients"
	ctrlNS       = "bench-controller"
	viewerRole   = "bench-cast-viewer"
	tokenSeconds = 2 * 60 * 60
)

func streamNS(i int) string { return fmt.Sprintf("bench-%d", i) }

// cluster is the envtest control plane and admin clients to it.
type cluster struct {
	env        *envtest.Environment
	cfg        *rest.Config
	kubeconfig string
	kube       kubernetes.Interface
	k8s        client.Client
	apiPID     int
	etcdPID    int
}

// raiseFileLimit lifts the soft open-files limit to the hard one before
// anything starts, so kube-apiserver, the streamer and our own clients
// inherit it.
func raiseFileLimit() (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	return lim.Cur, nil
}

func startCluster(dir string) (*cluster, error) {
	env, err := localcluster.New("")
	if err != nil {
		return nil, err
	}
	cfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("starting envtest: %w", err)
	}
	c := &cluster{env: env}
	if err := c.init(cfg, dir); err != nil {
		_ = env.Stop()
		return nil, err
	}
	return c, nil
}

func (c *cluster) init(cfg *rest.Config, dir string) error {
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = -1, 0 // the writer and setup must not be throttled client-side
	c.cfg = cfg
	c.kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(c.kubeconfig, c.env.KubeConfig, 0o600); err != nil {
		return err
	}
	var err error
	if c.kube, err = kubernetes.NewForConfig(cfg); err != nil {
		return err
	}
	if c.k8s, err = client.New(cfg, client.Options{Scheme: localcluster.Scheme()}); err != nil {
		return err
	}
	if c.apiPID, err = findChild("kube-apiserver"); err != nil {
		return err
	}
	c.etcdPID, _ = findChild("etcd")
	return nil
}

func (c *cluster) stop() error { return c.env.Stop() }

// setup creates the namespaces, the client ServiceAccounts and the RBAC
// that lets them read Casts.
func (c *cluster) setup(ctx context.Context, namespaces int) error {
	for _, ns := range append([]string{clientNS, ctrlNS}, nsList(namespaces)...) {
		if err := ignoreExists(c.k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})); err != nil {
			return fmt.Errorf("creating namespace %s: %w", ns, err)
		}
	}
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: viewerRole}, Rules: []rbacv1.PolicyRule{{
		APIGroups: []string{castv1alpha1.GroupVersion.Group}, Resources: []string{"casts"}, Verbs: []string{"get", "list", "watch"}}}}
	binding := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: viewerRole},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: viewerRole},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: "system:serviceaccounts:" + clientNS}}}
	for _, obj := range []client.Object{role, binding} {
		if err := ignoreExists(c.k8s.Create(ctx, obj)); err != nil {
			return fmt.Errorf("creating RBAC: %w", err)
		}
	}
	return nil
}

func nsList(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = streamNS(i)
	}
	return out
}

func ignoreExists(err error) error {
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

// identities creates ServiceAccounts prefix-0..n-1 and mints perSA tokens
// for each through TokenRequest. tokens[i] belongs to SA i%n, so callers
// can hand token i to client i and spread clients evenly over users.
func (c *cluster) identities(ctx context.Context, prefix string, n, perSA int) ([]string, error) {
	err := parallel(ctx, n, 16, func(i int) error {
		sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%d", prefix, i), Namespace: clientNS}}
		return ignoreExists(c.k8s.Create(ctx, sa))
	})
	if err != nil {
		return nil, fmt.Errorf("creating ServiceAccounts: %w", err)
	}
	tokens := make([]string, n*perSA)
	err = parallel(ctx, len(tokens), 32, func(i int) error {
		tr, err := c.kube.CoreV1().ServiceAccounts(clientNS).CreateToken(ctx, fmt.Sprintf("%s-%d", prefix, i%n),
			&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptrTo(int64(tokenSeconds))}},
			metav1.CreateOptions{})
		if err != nil {
			return err
		}
		tokens[i] = tr.Status.Token
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("requesting tokens: %w", err)
	}
	return tokens, nil
}

// castRef names a Cast the writer updates.
type castRef struct {
	ns   int
	name string
}

// createStreamCasts creates perNS Running Casts in each stream namespace,
// ordered so consecutive writes hit consecutive namespaces.
func (c *cluster) createStreamCasts(ctx context.Context, namespaces, perNS int) ([]castRef, error) {
	refs := make([]castRef, namespaces*perNS)
	for k := range refs {
		refs[k] = castRef{ns: k % namespaces, name: fmt.Sprintf("cast-%d", k/namespaces)}
	}
	err := parallel(ctx, len(refs), 16, func(k int) error {
		cast := &castv1alpha1.Cast{
			ObjectMeta: metav1.ObjectMeta{Namespace: streamNS(refs[k].ns), Name: refs[k].name, Labels: map[string]string{"bench": "delivery"}},
			Spec:       castv1alpha1.CastSpec{Repository: "bench-org/spells", Workflow: "cast.yml", RunID: ptrTo(int64(9_000_000 + k))},
		}
		if err := ignoreExists(c.k8s.Create(ctx, cast)); err != nil {
			return err
		}
		now := metav1.NewTime(time.Now().Truncate(time.Second))
		cast.Status = castv1alpha1.CastStatus{Phase: castv1alpha1.PhaseRunning, RunID: int64(9_000_000 + k),
			RunAttempt: 1, StartedAt: &now, Message: "created"}
		return c.k8s.Status().Update(ctx, cast)
	})
	return refs, err
}

// parallel runs fn(0..n-1) with at most width at a time and returns the
// first error.
func parallel(ctx context.Context, n, width int, fn func(i int) error) error {
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	sem := make(chan struct{}, width)
	for i := range n {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := fn(i); err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	return firstErr
}

func ptrTo[T any](v T) *T { return &v }
