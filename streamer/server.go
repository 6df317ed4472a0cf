// Package streamer serves Cast status to HTTP clients from one shared
// informer per replica, so many clients cost the API server one watch.
package streamer

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/cache"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
)

// Options configures the streamer's HTTP server.
type Options struct {
	// BindAddress is host:port to listen on, e.g. ":8090".
	BindAddress string
	// ShutdownTimeout bounds how long open requests may finish after the
	// manager stops.
	ShutdownTimeout time.Duration
}

// Timeouts for the HTTP server. There is no write timeout: event streams
// are long-lived by design and end on their own schedule.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 30 * time.Second
	idleTimeout       = 120 * time.Second
	maxHeaderBytes    = 64 << 10
	defaultShutdown   = 10 * time.Second
)

// Server is the streamer's HTTP server. It is a manager.Runnable, so it
// starts after the manager's cache and stops with the manager's context.
type Server struct {
	opts  Options
	cache cache.Cache
}

// New returns a Server that reads Casts from c.
func New(opts Options, c cache.Cache) *Server {
	if opts.ShutdownTimeout == 0 {
		opts.ShutdownTimeout = defaultShutdown
	}
	return &Server{opts: opts, cache: c}
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
	// Ask for the informer now so it starts syncing before the first client.
	if _, err := s.castInformer(ctx); err != nil {
		_ = ln.Close()
		return err
	}

	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), s.opts.ShutdownTimeout)
		defer cancel()
		if err := srv.Shutdown(shutdownCtx); err != nil {
			log.Info("streamer shutdown incomplete", "error", err.Error())
		}
	}()

	log.Info("streamer listening", "address", ln.Addr().String())
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("streamer serving: %w", err)
	}
	<-done
	return nil
}

// Handler routes the streamer's endpoints.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeText(w, http.StatusOK, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if inf, err := s.castInformer(r.Context()); err != nil || !inf.HasSynced() {
			writeText(w, http.StatusServiceUnavailable, "cast informer not synced")
			return
		}
		writeText(w, http.StatusOK, "ok")
	})
	return mux
}

func (s *Server) castInformer(ctx context.Context) (cache.Informer, error) {
	inf, err := s.cache.GetInformer(ctx, &castv1alpha1.Cast{}, cache.BlockUntilSynced(false))
	if err != nil {
		return nil, fmt.Errorf("getting the Cast informer: %w", err)
	}
	return inf, nil
}

func writeText(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = fmt.Fprintln(w, msg)
}
