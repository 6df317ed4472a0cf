package streamer

import (
	"net/http"
	"slices"

	"github.com/spell-platform/cast-operator/internal/httpserve"
	"github.com/spell-platform/cast-operator/streamer/wire"
)

// withCORS lets the listed browser origins call the API with credentials.
// It is closed by default: without AllowedOrigins no CORS header is ever
// sent, so only same-origin pages (the dashboard) can read responses.
func (s *Server) withCORS(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		allowed := origin != "" && slices.Contains(s.opts.AllowedOrigins, origin)
		if len(s.opts.AllowedOrigins) > 0 {
			// Every answer depends on the Origin once some are allowed,
			// not only those to an allowed one: a shared cache must not
			// hand a copy without CORS headers (say, of /js/v1/) to a
			// listed origin.
			w.Header().Add("Vary", "Origin")
		}
		if allowed {
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Credentials", "true")
			// Not a CORS-safelisted header: without this a page on another
			// origin cannot see how long a 429 or 503 asks it to wait.
			h.Set("Access-Control-Expose-Headers", "Retry-After")
		}
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			if !allowed {
				httpserve.WriteText(w, http.StatusForbidden, "origin not allowed")
				return
			}
			h := w.Header()
			h.Set("Access-Control-Allow-Methods", "GET, POST, DELETE")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Last-Event-ID, "+wire.ActionHeader)
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}
