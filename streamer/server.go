// Package streamer serves Cast status to HTTP clients from one shared
// informer per replica, so many clients cost the API server one watch:
// Server-Sent Events for live streams, JSON for polling, Kubernetes tokens
// and RBAC for who may see what.
package streamer

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/certwatcher"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/internal/httpserve"
	"github.com/spell-platform/cast-operator/streamer/admission"
	"github.com/spell-platform/cast-operator/streamer/auth"
	"github.com/spell-platform/cast-operator/streamer/dashboard"
	"github.com/spell-platform/cast-operator/streamer/hub"
	"github.com/spell-platform/cast-operator/streamer/jsclient"
	"github.com/spell-platform/cast-operator/streamer/sso"
)

// Server is the streamer's HTTP server. It is a manager.Runnable, so it
// starts after the manager's cache and stops with the manager's context.
type Server struct {
	opts    Options
	cache   cache.Cache
	hub     *hub.Hub
	authn   *auth.Authenticator
	authz   *auth.Authorizer
	limiter *admission.Limiter
	api     *apiHealth
	// sso runs single sign-on; nil when it is not configured.
	sso *sso.Client
	// userCfg reaches the API server with no credentials of its own;
	// actions add the caller's token (actions.go). Nil: no actions.
	userCfg *rest.Config

	// stopping is closed at shutdown so open streams end (reason
	// "shutdown") and clients reconnect to another replica.
	stopping chan struct{}
	stopOnce sync.Once
	// detached counts HTTP/1.x streams served off their hijacked
	// connection (stream.go); shutdown waits for them as net/http waits
	// for handlers.
	detached sync.WaitGroup
}

// New returns a Server that reads Casts from c and checks callers with
// TokenReview and SubjectAccessReview through kube.
func New(opts Options, c cache.Cache, kube kubernetes.Interface) (*Server, error) {
	opts.setDefaults()
	authn, err := auth.NewAuthenticator(auth.AuthenticatorOptions{Client: kube, Audiences: opts.Audiences})
	if err != nil {
		return nil, fmt.Errorf("creating the token authenticator: %w", err)
	}
	authz, err := auth.NewAuthorizer(auth.AuthorizerOptions{Client: kube})
	if err != nil {
		return nil, fmt.Errorf("creating the authorizer: %w", err)
	}
	var single *sso.Client
	if opts.SSO.Enabled() {
		if single, err = sso.New(opts.SSO); err != nil {
			return nil, fmt.Errorf("configuring single sign-on: %w", err)
		}
	}
	return &Server{
		opts:  opts,
		cache: c,
		hub:   hub.New(opts.MaxTombstones, nil),
		authn: authn,
		authz: authz,
		limiter: admission.NewLimiter(admission.LimitOptions{
			MaxStreamsPerUser: opts.MaxStreamsPerUser,
			UserRate:          opts.UserRate, UserBurst: max(int(opts.UserRate*60)/5, 10),
			IPRate: opts.IPRate, IPBurst: max(int(opts.IPRate*60)/4, 5),
		}),
		api:      newAPIHealth(kube),
		sso:      single,
		userCfg:  userConfig(opts.RESTConfig),
		stopping: make(chan struct{}),
	}, nil
}

// NeedLeaderElection is false: every streamer replica serves clients.
func (s *Server) NeedLeaderElection() bool { return false }

// Start listens on BindAddress and serves until ctx ends.
func (s *Server) Start(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.opts.BindAddress)
	if err != nil {
		return fmt.Errorf("streamer listening on %s: %w", s.opts.BindAddress, err)
	}
	return s.Serve(ctx, ln)
}

// Serve serves on ln until ctx ends; tests pass a loopback listener.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	log := logf.FromContext(ctx).WithName("streamer")
	var tlsConfig *tls.Config
	if s.tls() {
		var err error
		if tlsConfig, err = s.watchCertificate(ctx); err != nil {
			_ = ln.Close()
			return err
		}
	}
	if err := s.feedHub(ctx); err != nil {
		_ = ln.Close()
		return err
	}
	go s.api.watch(ctx)

	// No server-wide write timeout: streams are long-lived by design, and
	// each write has its own deadline.
	srv := httpserve.Streaming.Server(s.Handler())
	srv.BaseContext = func(net.Listener) context.Context { return logf.IntoContext(context.Background(), log) }
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-ctx.Done()
		s.stop()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), s.opts.ShutdownTimeout)
		defer cancel()
		if err := srv.Shutdown(shutdownCtx); err != nil {
			log.Info("streamer shutdown incomplete", "error", err.Error())
		}
		if !waitUntil(&s.detached, shutdownCtx) {
			log.Info("streamer shutdown incomplete", "error", "detached streams still open")
		}
	}()

	log.Info("streamer listening", "address", ln.Addr().String(), "tls", s.tls(), "trustedProxies", s.opts.TrustedProxies)
	var err error
	if tlsConfig != nil {
		// The certificate comes from GetCertificate, so no files here;
		// ServeTLS still offers h2 as it did with files.
		srv.TLSConfig = tlsConfig
		err = srv.ServeTLS(ln, "", "")
	} else {
		err = srv.Serve(ln)
	}
	if !errors.Is(err, http.ErrServerClosed) {
		s.stop()
		return fmt.Errorf("streamer serving: %w", err)
	}
	<-done
	return nil
}

// waitUntil waits for wg, or ctx's end; false means ctx ended first.
func waitUntil(wg *sync.WaitGroup, ctx context.Context) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-ctx.Done():
		return false
	}
}

// watchCertificate loads the TLS certificate and key and keeps them
// current until ctx ends: cert-manager and kubelet replace a Secret's
// files in place (a "..data" symlink swap), and a new connection must get
// the new certificate without a restart. A new pair that does not load
// (half written, mismatched) is logged and the last good one keeps
// serving; only the first load is fatal.
func (s *Server) watchCertificate(ctx context.Context) (*tls.Config, error) {
	log := logf.FromContext(ctx).WithName("streamer")
	cw, err := certwatcher.New(s.opts.TLSCertFile, s.opts.TLSKeyFile)
	if err != nil {
		return nil, fmt.Errorf("loading the TLS certificate %s and key %s: %w", s.opts.TLSCertFile, s.opts.TLSKeyFile, err)
	}
	go func() {
		// Start returns when ctx ends (nil) or when it cannot watch the
		// files at all; the loaded certificate serves on either way.
		if err := cw.Start(ctx); err != nil {
			log.Error(err, "not watching the TLS certificate for rotation; the loaded one keeps serving", "cert", s.opts.TLSCertFile)
		}
	}()
	return &tls.Config{GetCertificate: cw.GetCertificate, MinVersion: tls.VersionTLS12}, nil
}

func (s *Server) tls() bool { return s.opts.TLSCertFile != "" && s.opts.TLSKeyFile != "" }

func (s *Server) stop() {
	s.stopOnce.Do(func() {
		close(s.stopping)
		s.hub.Close()
	})
}

// feedHub connects the hub to the shared Cast informer and marks it synced
// once the informer has its first list.
func (s *Server) feedHub(ctx context.Context) error {
	inf, err := s.cache.GetInformer(ctx, &castv1alpha1.Cast{}, cache.BlockUntilSynced(false))
	if err != nil {
		return fmt.Errorf("getting the Cast informer: %w", err)
	}
	s.sourceHub(ctx, inf)
	reg, err := inf.AddEventHandler(s.hub)
	if err != nil {
		return fmt.Errorf("registering the stream hub with the Cast informer: %w", err)
	}
	go func() {
		_ = wait.PollUntilContextCancel(ctx, 50*time.Millisecond, true, func(context.Context) (bool, error) {
			return reg.HasSynced(), nil
		})
		if ctx.Err() != nil {
			return
		}
		var listRV string
		if v, ok := inf.(interface{ LastSyncResourceVersion() string }); ok {
			listRV = v.LastSyncResourceVersion()
		}
		s.hub.MarkSynced(listRV)
	}()
	return nil
}

// Handler routes the streamer's endpoints.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		httpserve.WriteText(w, http.StatusOK, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if !s.hub.Synced() {
			httpserve.WriteText(w, http.StatusServiceUnavailable, "cast informer not synced")
			return
		}
		if err := s.api.ready(); err != nil {
			httpserve.WriteText(w, http.StatusServiceUnavailable, "kube-apiserver unreachable: streams cannot be authorized or kept current")
			return
		}
		httpserve.WriteText(w, http.StatusOK, "ok")
	})

	mux.HandleFunc("POST /api/v1/session", s.createSession)
	mux.HandleFunc("DELETE /api/v1/session", s.deleteSession)
	mux.Handle("GET /api/v1/session", s.identified(s.whoAmI))
	mux.HandleFunc("GET /api/v1/session/methods", s.signInMethods)
	mux.HandleFunc("GET /api/v1/oidc/login", s.ssoLogin)
	mux.HandleFunc("GET /api/v1/oidc/callback", s.ssoCallback)
	mux.Handle("POST /api/v1/oidc/refresh", requireActionHeader(http.HandlerFunc(s.ssoRefresh)))

	mux.Handle("GET /api/v1/casts/events", s.streamAPI(s.streamCollection))
	mux.Handle("GET /api/v1/namespaces/{namespace}/casts/events", s.streamAPI(s.streamCollection))
	mux.Handle("GET /api/v1/namespaces/{namespace}/casts/{name}/events", s.streamAPI(s.streamOne))
	mux.Handle("GET /api/v1/casts", s.castAPI(s.listCasts))
	mux.Handle("GET /api/v1/namespaces/{namespace}/casts", s.castAPI(s.listCasts))
	mux.Handle("GET /api/v1/namespaces/{namespace}/casts/{name}", s.castAPI(s.getCast))
	mux.Handle("GET /api/v1/namespaces/{namespace}/casts/{name}/actions", s.castAPI(s.castActions))
	mux.Handle("POST /api/v1/namespaces/{namespace}/casts/{name}/cancel", requireActionHeader(s.castAPI(s.cancelCast)))
	mux.Handle("POST /api/v1/namespaces/{namespace}/casts/{name}/rerun", requireActionHeader(s.castAPI(s.rerunCast)))
	// The browser client, for the dashboard and for teams' own pages.
	mux.Handle("GET "+jsclient.Prefix, jsclient.Handler())
	// The dashboard takes every other GET; the routes above are more specific.
	mux.Handle("GET /", dashboard.Handler())
	return s.withCORS(mux)
}
