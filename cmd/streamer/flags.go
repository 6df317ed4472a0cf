package streamer

import (
	"flag"
	"fmt"
	"strings"

	"golang.org/x/time/rate"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/spell-platform/cast-operator/streamer"
	"github.com/spell-platform/cast-operator/streamer/admission"
)

// Flags configure the streamer's server; dev binds them too.
type Flags struct {
	opts          streamer.Options
	audiences     string
	origins       string
	proxies       string
	userPerMinute int
	ipPerMinute   int
	oidc          oidcFlags
}

// Bind registers the flags on fs; bindDefault is the command's address.
func (f *Flags) Bind(fs *flag.FlagSet, bindDefault string) {
	o := &f.opts
	fs.StringVar(&o.BindAddress, "bind-address", bindDefault, "address the streamer serves its API and dashboard on (also /healthz and /readyz; /metrics is on --metrics-bind-address)")
	fs.StringVar(&o.TLSCertFile, "tls-cert-file", "", "serve TLS (and HTTP/2) with this certificate; needs --tls-key-file; both are reloaded when the files change (a renewed Secret), without a restart")
	fs.StringVar(&o.TLSKeyFile, "tls-key-file", "", "private key for --tls-cert-file")
	fs.DurationVar(&o.HeartbeatInterval, "heartbeat-interval", streamer.DefaultHeartbeatInterval, "comment sent on idle streams so proxies keep them open")
	fs.DurationVar(&o.MaxStreamDuration, "max-stream-duration", streamer.DefaultMaxStreamDuration, "streams end after this long (or when the token expires), so clients resume and are re-authorized")
	fs.DurationVar(&o.WriteTimeout, "write-timeout", streamer.DefaultWriteTimeout, "a client that does not read for this long is disconnected (slow_consumer)")
	fs.DurationVar(&o.Retry, "retry", streamer.DefaultRetry, "reconnection delay sent to clients")
	fs.IntVar(&o.MaxStreamsPerUser, "max-streams-per-user", streamer.DefaultMaxStreamsPerUser, "open streams allowed per identity")
	fs.IntVar(&o.MaxTombstones, "max-tombstones", 10000, "deletions remembered so reconnecting clients learn of them")
	fs.StringVar(&f.origins, "allowed-origins", "", "comma-separated browser origins (https://dash.example.com) allowed to call the API with credentials; empty keeps CORS closed")
	fs.StringVar(&f.proxies, "trusted-proxies", "", "comma-separated CIDRs (or addresses) of reverse proxies whose X-Forwarded-For and X-Forwarded-Proto are believed, for per-address limits, logs and Secure cookies; empty trusts none")
	fs.StringVar(&f.audiences, "token-audiences", "", "comma-separated token audiences accepted; empty means the API server's own")
	fs.IntVar(&f.userPerMinute, "user-requests-per-minute", streamer.DefaultUserPerMinute, "new requests allowed per identity per minute")
	fs.IntVar(&f.ipPerMinute, "anonymous-requests-per-minute", streamer.DefaultIPPerMinute, "requests without a valid token allowed per client address per minute; tokens the streamer has seen accepted are never counted or refused by it")
	f.oidc.bind(fs)
}

func (f *Flags) options() (streamer.Options, error) {
	o := f.opts
	if (o.TLSCertFile == "") != (o.TLSKeyFile == "") {
		return o, fmt.Errorf("--tls-cert-file and --tls-key-file go together")
	}
	proxies, err := admission.ParseTrustedProxies(splitList(f.proxies))
	if err != nil {
		return o, fmt.Errorf("--trusted-proxies: %w", err)
	}
	o.TrustedProxies = proxies
	o.Audiences = splitList(f.audiences)
	o.AllowedOrigins = splitList(f.origins)
	o.UserRate = rate.Limit(f.userPerMinute) / 60
	o.IPRate = rate.Limit(f.ipPerMinute) / 60
	if o.SSO, err = f.oidc.options(); err != nil {
		return o, err
	}
	return o, nil
}

// Validate checks the flags' values, so a bad one stops the command
// before it connects anywhere.
func (f *Flags) Validate() error {
	_, err := f.options()
	return err
}

// BindAddress is the address given by --bind-address, for dev's start-up
// message.
func (f *Flags) BindAddress() string { return f.opts.BindAddress }

// AddStreamer adds the streamer's server, configured by f, to mgr; it
// serves from mgr's cache and reviews tokens and access through cfg.
func AddStreamer(mgr ctrl.Manager, cfg *rest.Config, f *Flags) error {
	opts, err := f.options()
	if err != nil {
		return err
	}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("creating the Kubernetes client for token and access reviews: %w", err)
	}
	// Dashboard actions run against the API server with the user's own
	// token, from this config stripped of the streamer's credentials.
	opts.RESTConfig = cfg
	srv, err := streamer.New(opts, mgr.GetCache(), kube)
	if err != nil {
		return err
	}
	if err := mgr.Add(srv); err != nil {
		return fmt.Errorf("adding the streamer: %w", err)
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}
