package controller

import (
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/spell-platform/cast-operator/controllers"
	"github.com/spell-platform/cast-operator/controllers/ghapi"
	"github.com/spell-platform/cast-operator/controllers/journal"
	"github.com/spell-platform/cast-operator/controllers/runstatus"
	"github.com/spell-platform/cast-operator/controllers/webhook"
)

// Flags configure the reconciler and the webhook receiver; dev binds them
// too.
type Flags struct {
	githubTokenFile   string
	githubAPIURL      string
	app               ghapi.AppOptions
	writeInterval     time.Duration
	webhookAddr       string
	webhookSecretFile string
	journalNamespace  string
	resyncInterval    time.Duration
	webhookResync     time.Duration
	statusWrites      int
	rates             ratesFlag
}

// Bind registers the flags on fs; webhookDefault is the command's
// receiver address.
func (f *Flags) Bind(fs *flag.FlagSet, webhookDefault string) {
	fs.StringVar(&f.githubTokenFile, "github-token-file", "", "file holding the GitHub token used to dispatch and read runs (re-read when it changes); Casts may override it with spec.credentialsSecretRef")
	fs.Int64Var(&f.app.ID, "github-app-id", 0, "GitHub App ID; with --github-app-private-key-file the operator authenticates as the App instead of --github-token-file")
	fs.StringVar(&f.app.PrivateKeyFile, "github-app-private-key-file", "", "file holding the GitHub App's PEM private key (re-read when it changes)")
	fs.Int64Var(&f.app.InstallationID, "github-app-installation-id", 0, "the App's installation to use; default: looked up per repository owner")
	fs.DurationVar(&f.writeInterval, "github-write-interval", ghapi.DefaultWriteInterval, "spacing of content-creating requests (dispatch, cancel) per credential; GitHub allows 80 a minute and 500 an hour")
	fs.StringVar(&f.githubAPIURL, "github-api-url", "", "GitHub REST API base URL; default https://api.github.com/, GitHub Enterprise: https://HOST/api/v3/")
	fs.StringVar(&f.webhookAddr, "webhook-bind-address", webhookDefault, "address of the GitHub webhook receiver (path /webhooks/github); 0 disables it")
	fs.StringVar(&f.webhookSecretFile, "webhook-secret-file", "", "file holding the webhook secret; the GITHUB_WEBHOOK_SECRET environment variable is used when unset")
	fs.StringVar(&f.journalNamespace, "webhook-journal-namespace", "", "namespace of the webhook journal (ConfigMaps every replica stores deliveries in before answering GitHub); default: $POD_NAMESPACE, the Pod's own namespace, or \"default\" outside a cluster")
	fs.DurationVar(&f.resyncInterval, "resync-interval", controllers.DefaultResyncInterval, "re-read a running Cast from the REST API after this long without news, when its repository's webhook does not deliver")
	fs.DurationVar(&f.webhookResync, "webhook-resync-interval", controllers.DefaultWebhookResyncInterval, "the same while the repository's webhook delivers (the safety net for a lost delivery); also how long without a delivery counts as a stopped webhook")
	fs.IntVar(&f.statusWrites, "max-concurrent-status-writes", controllers.DefaultStatusWritesInFlight, "Cast status writes sent to the API server at once; more than one writes faster only when round trips, not the API server's CPU, are the bound, and takes CPU from the webhook journal's writes")
	f.rates = ratesFlag(runstatus.Rates{})
	for k, v := range runstatus.DefaultRates {
		f.rates[k] = v
	}
	fs.Var(&f.rates, "cost-cents-per-minute", "cents per billable minute by runner class, as class=cents pairs")
}

// Validate refuses an App configured by halves.
func (f *Flags) Validate() error {
	if f.statusWrites < 1 {
		return fmt.Errorf("--max-concurrent-status-writes must be at least 1, not %d", f.statusWrites)
	}
	if (f.app.ID != 0) != (f.app.PrivateKeyFile != "") {
		return errors.New("--github-app-id and --github-app-private-key-file go together")
	}
	if f.app.InstallationID != 0 && f.app.ID == 0 {
		return errors.New("--github-app-installation-id needs --github-app-id")
	}
	if f.writeInterval <= 0 || f.resyncInterval <= 0 || f.webhookResync <= 0 {
		return errors.New("--github-write-interval, --resync-interval and --webhook-resync-interval must be positive")
	}
	return nil
}

// WebhookSecret reads the secret from --webhook-secret-file or
// GITHUB_WEBHOOK_SECRET; empty means the receiver cannot run.
func (f *Flags) WebhookSecret() ([]byte, error) {
	if f.webhookSecretFile != "" {
		b, err := os.ReadFile(f.webhookSecretFile)
		if err != nil {
			return nil, fmt.Errorf("reading webhook secret: %w", err)
		}
		return []byte(strings.TrimSpace(string(b))), nil
	}
	return []byte(os.Getenv("GITHUB_WEBHOOK_SECRET")), nil
}

// WebhookAddr is the receiver's address as given, for dev's start-up
// message.
func (f *Flags) WebhookAddr() string { return f.webhookAddr }

// AddControllerAndReceiver wires the reconciler and, when a secret exists,
// the webhook receiver with the journal it stores deliveries in, on every
// replica, and the leader's feed from the journal to the reconciler.
func AddControllerAndReceiver(mgr ctrl.Manager, f *Flags, secret []byte) error {
	inbox := controllers.NewInbox()
	activity := controllers.NewWebhookActivity(f.webhookResync)
	r := &controllers.CastReconciler{
		Client: mgr.GetClient(),
		GitHub: ghapi.NewClients(ghapi.Options{BaseURL: f.githubAPIURL, TokenFile: f.githubTokenFile, App: f.app,
			WriteInterval: f.writeInterval, UserAgent: "cast-operator"}, mgr.GetAPIReader()),
		Activity:              activity,
		Recorder:              mgr.GetEventRecorder("cast-controller"),
		ResyncInterval:        f.resyncInterval,
		WebhookResyncInterval: f.webhookResync,
		Rates:                 runstatus.Rates(f.rates),
		Inbox:                 inbox,
		Reader:                mgr.GetAPIReader(),
		StatusWritesInFlight:  f.statusWrites,
	}
	if err := r.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the Cast controller: %w", err)
	}
	log := ctrl.Log.WithName("setup")
	if f.webhookAddr == "0" || f.webhookAddr == "" {
		log.Info("webhook receiver disabled; Casts follow GitHub by resync only")
		return nil
	}
	if len(secret) == 0 {
		log.Info("webhook receiver disabled: no webhook secret; Casts follow GitHub by resync only")
		return nil
	}
	ns := f.JournalNamespace()
	jc, err := journalClient(mgr)
	if err != nil {
		return err
	}
	writer := journal.NewWriter(jc, ns)
	recv, err := webhook.New(webhook.Options{BindAddress: f.webhookAddr, Secret: secret, OnDelivery: activity.Heard},
		controllers.RunIndex{Cache: mgr.GetCache()}, writer)
	if err != nil {
		return fmt.Errorf("creating the webhook receiver: %w", err)
	}
	feed := &controllers.JournalFeed{Cache: mgr.GetCache(), Client: mgr.GetClient(), Namespace: ns, Inbox: inbox, Activity: activity}
	for _, run := range []manager.Runnable{writer, feed, recv.Server(nil)} {
		if err := mgr.Add(run); err != nil {
			return fmt.Errorf("adding the webhook receiver: %w", err)
		}
	}
	return nil
}

// journalClient writes the webhook journal over connections of its own:
// every webhook answer waits for those writes, and on the manager's shared
// HTTP/2 connection they queued behind its watches and status writes.
// HTTP/1.1 gives each of the writer's concurrent creates a connection, so
// none waits behind another (bench p99 52–72 ms, from 65–80 ms over one
// HTTP/2 connection and 79–134 ms over the shared one). client-go shares a
// transport between configs it can compare; a Proxy func (the one it uses
// by default) makes this config its own.
func journalClient(mgr ctrl.Manager) (client.Client, error) {
	cfg := rest.CopyConfig(mgr.GetConfig())
	cfg.Proxy = utilnet.NewProxierWithNoProxyCIDR(http.ProxyFromEnvironment)
	cfg.NextProtos = []string{"http/1.1"}
	c, err := client.New(cfg, client.Options{Scheme: mgr.GetScheme(), Mapper: mgr.GetRESTMapper()})
	if err != nil {
		return nil, fmt.Errorf("creating the webhook journal's client: %w", err)
	}
	return c, nil
}

// JournalNamespace is --webhook-journal-namespace, or the Pod's own
// namespace (from $POD_NAMESPACE or its ServiceAccount), or "default"
// outside a cluster.
func (f *Flags) JournalNamespace() string {
	if f.journalNamespace != "" {
		return f.journalNamespace
	}
	if ns := os.Getenv("POD_NAMESPACE"); ns != "" {
		return ns
	}
	if b, err := os.ReadFile("/var/run/secrets/kubernetes.io/serviceaccount/namespace"); err == nil && len(b) > 0 {
		return strings.TrimSpace(string(b))
	}
	return "default"
}

// Cache keeps whole Casts (the reconciler reads and updates them), without
// managedFields, sharing the strings and label maps they repeat; of
// ConfigMaps, only the webhook journal's.
func (f *Flags) Cache(o *ctrl.Options) {
	o.Cache.DefaultTransform = controllers.CacheTransform()
	if o.Cache.ByObject == nil {
		o.Cache.ByObject = map[client.Object]cache.ByObject{}
	}
	o.Cache.ByObject[&corev1.ConfigMap{}] = controllers.JournalCache(f.JournalNamespace())
}

// ratesFlag parses "linux=0.8,windows=1.6,macos=8".
type ratesFlag runstatus.Rates

func (r ratesFlag) String() string {
	keys := make([]string, 0, len(r))
	for k := range r {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+strconv.FormatFloat(r[k], 'f', -1, 64))
	}
	return strings.Join(parts, ",")
}

func (r ratesFlag) Set(s string) error {
	for _, pair := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if !ok || k == "" {
			return errors.New("want class=cents pairs such as linux=0.8,windows=1.6,macos=8")
		}
		cents, err := strconv.ParseFloat(v, 64)
		if err != nil || cents < 0 {
			return fmt.Errorf("rate for %s: %q is not a non-negative number", k, v)
		}
		r[strings.ToLower(k)] = cents
	}
	return nil
}
