package webhook

import (
	"context"
	"net"
	"net/http"

	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/spell-platform/cast-operator/internal/httpserve"
)

// Server returns the receiver as a controller-runtime manager.Server, so
// the manager owns its lifetime: it serves Path on ln (on BindAddress when
// ln is nil) on every replica, leader or not, since GitHub posts to
// whichever one the Service picks, and shuts down gracefully within
// ShutdownTimeout. Other paths get the mux's 404. Every exchange is short
// (GitHub waits at most 10 s), so all of httpserve.Short's timeouts apply.
func (r *Receiver) Server(ln net.Listener) *manager.Server {
	mux := http.NewServeMux()
	mux.Handle(r.opts.Path, r)
	srv := httpserve.Short.Server(mux)
	srv.Addr = r.opts.BindAddress
	// Requests carry the receiver's logger; a delivery in flight at
	// shutdown finishes rather than failing halfway.
	log := logf.Log.WithName("webhook")
	srv.BaseContext = func(net.Listener) context.Context { return logf.IntoContext(context.Background(), log) }
	timeout := r.opts.ShutdownTimeout
	return &manager.Server{Name: "webhook receiver", Server: srv, Listener: ln, ShutdownTimeout: &timeout}
}
