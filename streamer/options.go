package streamer

import (
	"net/netip"
	"time"

	"golang.org/x/time/rate"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"

	"github.com/spell-platform/cast-operator/streamer/sso"
)

// Options configures the streamer. Zero values take the defaults below.
type Options struct {
	// BindAddress is host:port to listen on, e.g. ":8090".
	BindAddress string
	// TLSCertFile and TLSKeyFile turn on TLS (and with it HTTP/2) and
	// Secure session cookies.
	TLSCertFile, TLSKeyFile string
	// HeartbeatInterval is how often an idle stream gets a comment, so
	// proxies keep it open.
	HeartbeatInterval time.Duration
	// MaxStreamDuration ends every stream after this long, so clients
	// reconnect, resume and are authorized again.
	MaxStreamDuration time.Duration
	// WriteTimeout disconnects a client that does not read for this long.
	WriteTimeout time.Duration
	// Retry is the reconnection delay sent to clients.
	Retry time.Duration
	// Audiences are the token audiences accepted; empty means the API
	// server's own.
	Audiences []string
	// MaxStreamsPerUser bounds one identity's open streams.
	MaxStreamsPerUser int
	// UserRate and IPRate limit new requests per identity and, for
	// requests without a valid token, per client IP.
	UserRate, IPRate rate.Limit
	// MaxTombstones bounds the deletions remembered for resuming clients.
	MaxTombstones int
	// ShutdownTimeout bounds how long open requests may finish after the
	// manager stops.
	ShutdownTimeout time.Duration
	// AllowedOrigins are the browser origins (scheme://host[:port]) other
	// than the streamer's own that may call it with credentials; empty
	// keeps CORS closed.
	AllowedOrigins []string
	// TrustedProxies are the reverse proxies (ingress, load balancer)
	// whose X-Forwarded-For and X-Forwarded-Proto are believed: from a
	// peer inside them, the client is the right-most X-Forwarded-For
	// address that is not itself a trusted proxy, and the request was
	// HTTPS if X-Forwarded-Proto says so. Per-address limits and log
	// lines then see that client, and session cookies are Secure. Empty
	// trusts nobody: forwarding headers change nothing.
	TrustedProxies []netip.Prefix
	// RESTConfig is how the streamer reaches the API server; actions
	// (cancel, re-run) use it with its credentials replaced by the
	// caller's own token. Nil turns actions off: they answer 501.
	RESTConfig *rest.Config
	// SSO lets the dashboard sign in through an OpenID Connect provider;
	// off unless SSO.IssuerURL is set. Pasted tokens keep working.
	SSO sso.Options
	// Clock tells token expiry apart from wall time in tests; nil means
	// real time.
	Clock clock.PassiveClock
}

// Defaults, also the streamer command's flag defaults.
const (
	DefaultBindAddress       = ":8090"
	DefaultHeartbeatInterval = 15 * time.Second
	DefaultMaxStreamDuration = 5 * time.Minute
	DefaultWriteTimeout      = 10 * time.Second
	DefaultRetry             = 3 * time.Second
	DefaultMaxStreamsPerUser = 10
	DefaultUserPerMinute     = 100
	DefaultIPPerMinute       = 20
	defaultShutdown          = 10 * time.Second
)

func (o *Options) setDefaults() {
	if o.BindAddress == "" {
		o.BindAddress = DefaultBindAddress
	}
	if o.HeartbeatInterval <= 0 {
		o.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if o.MaxStreamDuration <= 0 {
		o.MaxStreamDuration = DefaultMaxStreamDuration
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.Retry <= 0 {
		o.Retry = DefaultRetry
	}
	if o.MaxStreamsPerUser <= 0 {
		o.MaxStreamsPerUser = DefaultMaxStreamsPerUser
	}
	if o.UserRate <= 0 {
		o.UserRate = rate.Limit(DefaultUserPerMinute) / 60
	}
	if o.IPRate <= 0 {
		o.IPRate = rate.Limit(DefaultIPPerMinute) / 60
	}
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = defaultShutdown
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
}
