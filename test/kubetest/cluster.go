// Package kubetest is what every envtest suite needs around the local
// control plane: start it with direct clients (and, for the streamer, a
// synced informer cache), create real ServiceAccount tokens, RBAC grants
// and Casts with status, and capture what goroutines write (Buffer). It
// returns errors rather than asserting, so Ginkgo suites, plain tests and
// the bench harness share it.
package kubetest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/spell-platform/cast-operator/hack/localcluster"
)

// Cluster is a running throw-away control plane with the Cast CRD.
type Cluster struct {
	Env    *envtest.Environment
	Config *rest.Config
	// Client reads straight from the API server: assertions must never
	// see a cache's lag.
	Client client.Client
	Kube   kubernetes.Interface
	// Cache is an informer cache, as the streamer reads Casts through;
	// nil unless the cluster was started WithCache.
	Cache     cache.Cache
	stopCache context.CancelFunc
	// tmpDir holds files kube-apiserver reads; removed at Stop.
	tmpDir string
}

// Option changes how Start sets the cluster up.
type Option func(*options)

type options struct {
	cache    bool
	auditLog string
	issuers  []JWTIssuer
}

// WithCache also starts an informer cache and waits until it has synced.
func WithCache() Option { return func(o *options) { o.cache = true } }

// WithAuditLog has kube-apiserver write an audit log of every request on
// Casts (Metadata level: user, verb, object, response code) to path as
// JSON lines, so a test can prove whom the API server saw make a change.
func WithAuditLog(path string) Option { return func(o *options) { o.auditLog = path } }

// auditPolicy records Casts and nothing else, keeping the log small.
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: Metadata
  resources:
  - group: spell.dev
    resources: ["casts"]
- level: None
`

// cacheSyncTimeout bounds the first list of a new cache.
const cacheSyncTimeout = time.Minute

// Start runs kube-apiserver and etcd (hack/localcluster) and connects to
// them. Stop it when done; on error nothing is left running.
func Start(opts ...Option) (*Cluster, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	env, err := localcluster.New("")
	if err != nil {
		return nil, err
	}
	var authnDir string
	if len(o.issuers) > 0 {
		if authnDir, err = configureJWTIssuers(env, o.issuers); err != nil {
			return nil, err
		}
	}
	if o.auditLog != "" {
		policy := o.auditLog + ".policy.yaml"
		if err := os.WriteFile(policy, []byte(auditPolicy), 0o600); err != nil {
			return nil, fmt.Errorf("writing the audit policy: %w", err)
		}
		env.ControlPlane.GetAPIServer().Configure().
			Set("audit-policy-file", policy).
			Set("audit-log-path", o.auditLog).
			Set("audit-log-format", "json")
	}
	cfg, err := env.Start()
	if err != nil {
		// envtest can fail after its processes are up (kubeconfig, CRDs).
		return nil, errors.Join(fmt.Errorf("starting the control plane: %w", err), env.Stop(), removeAll(authnDir))
	}
	c := &Cluster{Env: env, Config: cfg, tmpDir: authnDir}
	if err := c.connect(o); err != nil {
		return nil, errors.Join(err, c.Stop())
	}
	return c, nil
}

func (c *Cluster) connect(o options) error {
	var err error
	if c.Client, err = client.New(c.Config, client.Options{Scheme: localcluster.Scheme()}); err != nil {
		return fmt.Errorf("creating a client: %w", err)
	}
	if c.Kube, err = kubernetes.NewForConfig(c.Config); err != nil {
		return fmt.Errorf("creating a clientset: %w", err)
	}
	if !o.cache {
		return nil
	}
	if c.Cache, err = cache.New(c.Config, cache.Options{Scheme: localcluster.Scheme()}); err != nil {
		return fmt.Errorf("creating a cache: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.stopCache = cancel
	go func() { _ = c.Cache.Start(ctx) }()
	syncCtx, cancelSync := context.WithTimeout(ctx, cacheSyncTimeout)
	defer cancelSync()
	if !c.Cache.WaitForCacheSync(syncCtx) {
		return fmt.Errorf("the informer cache did not sync within %s", cacheSyncTimeout)
	}
	return nil
}

// Stop ends the cache's watches first (kube-apiserver waits for open
// watches before it stops), then the control plane.
func (c *Cluster) Stop() error {
	if c == nil {
		return nil
	}
	if c.stopCache != nil {
		c.stopCache()
	}
	return errors.Join(c.Env.Stop(), removeAll(c.tmpDir))
}

func removeAll(dir string) error {
	if dir == "" {
		return nil
	}
	return os.RemoveAll(dir)
}

// Kubeconfig writes a kubeconfig for a cluster admin into dir and returns
// its path, so tests can run kubectl as users do.
func (c *Cluster) Kubeconfig(dir string) (string, error) {
	user, err := c.Env.AddUser(envtest.User{Name: "kubectl-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return "", fmt.Errorf("provisioning a kubectl user: %w", err)
	}
	data, err := user.KubeConfig()
	if err != nil {
		return "", fmt.Errorf("rendering a kubeconfig: %w", err)
	}
	path := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return "", fmt.Errorf("writing the kubeconfig: %w", err)
	}
	return path, nil
}
