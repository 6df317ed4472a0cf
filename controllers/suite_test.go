package controllers

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/controllers/ghapi"
	"github.com/spell-platform/cast-operator/controllers/journal"
	"github.com/spell-platform/cast-operator/controllers/webhook"
	"github.com/spell-platform/cast-operator/hack/localcluster"
	"github.com/spell-platform/cast-operator/test/ghapitest"
	"github.com/spell-platform/cast-operator/test/kubetest"
)

// The reconciler and the webhook receiver run in a real manager against a
// real kube-apiserver, talking to an httptest fake of GitHub's REST API;
// assertions read through k8s, a direct client, never the manager's cache.
var (
	cluster     *kubetest.Cluster
	cfg         *rest.Config
	k8s         client.Client
	fakeGitHub  *ghapitest.Server
	tokenFile   string
	webhookURL  string
	stopManager context.CancelFunc
	managerDone chan struct{}
)

const (
	operatorToken = "ghp_operator_token_for_tests"
	webhookSecret = "webhook-secret-for-tests"
	// Short knobs keep the suite fast; production defaults are minutes.
	testResync = 2 * time.Second
)

func TestControllers(t *testing.T) {
	RegisterFailHandler(Fail)
	SetDefaultEventuallyTimeout(20 * time.Second)
	SetDefaultEventuallyPollingInterval(100 * time.Millisecond)
	RunSpecs(t, "Controllers Suite")
}

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	var err error
	cluster, err = kubetest.Start()
	Expect(err).NotTo(HaveOccurred())
	cfg, k8s = cluster.Config, cluster.Client

	fakeGitHub = ghapitest.NewServer()
	tokenFile = filepath.Join(GinkgoT().TempDir(), "token")
	Expect(os.WriteFile(tokenFile, []byte(operatorToken), 0o600)).To(Succeed())
	startManager()
})

var _ = AfterSuite(func() {
	stopTheManager()
	if fakeGitHub != nil {
		fakeGitHub.Close()
	}
	Expect(cluster.Stop()).To(Succeed()) // nil-safe if BeforeSuite failed early
})

// managerOptions vary what a spec's controller process is configured
// with; the zero value is the suite's default: the operator token file,
// and the same fast resync whether or not webhooks deliver.
type managerOptions struct {
	github        ghapi.Options
	webhookResync time.Duration
	// resync replaces testResync as --resync-interval.
	resync time.Duration
	// namespace, when set, is the only one the manager's cache sees, so a
	// spec can count the reconciles of its own Casts.
	namespace string
	// wrapClient, when set, wraps the reconciler's client (the manager's
	// own), so a spec can watch the requests it sends.
	wrapClient func(client.Client) client.Client
}

// journalNamespace holds the webhook journal of every manager the suite
// starts, so a restarted one replays what its predecessor left.
const journalNamespace = "default"

// startManager runs a fresh controller process: new manager, new reconciler
// with empty memory, new webhook receiver on a new loopback port.
func startManager() { startManagerWith(managerOptions{}) }

func startManagerWith(o managerOptions) {
	if o.github.BaseURL == "" && o.github.App.ID == 0 {
		o.github = ghapi.Options{BaseURL: fakeGitHub.URL, TokenFile: tokenFile}
	}
	o.github.WriteInterval = cmp.Or(o.github.WriteInterval, 50*time.Millisecond)
	activity := NewWebhookActivity(cmp.Or(o.webhookResync, testResync))
	// The controller command's own cache transform, so every spec runs
	// against Casts as the controller caches them.
	cacheOpts := cache.Options{DefaultTransform: CacheTransform(),
		ByObject: map[client.Object]cache.ByObject{&corev1.ConfigMap{}: JournalCache(journalNamespace)}}
	if o.namespace != "" {
		cacheOpts.DefaultNamespaces = map[string]cache.Config{o.namespace: {}}
	}
	mgr, err := manager.New(cfg, manager.Options{
		Cache:   cacheOpts,
		Scheme:  localcluster.Scheme(),
		Metrics: metricsserver.Options{BindAddress: "0"},
		// Every test restart builds a new controller named "cast".
		Controller: controllerConfig(),
	})
	Expect(err).NotTo(HaveOccurred())
	inbox := NewInbox()
	c := mgr.GetClient()
	if o.wrapClient != nil {
		c = o.wrapClient(c)
	}
	r := &CastReconciler{
		Inbox:                 inbox,
		Reader:                mgr.GetAPIReader(),
		Client:                c,
		GitHub:                ghapi.NewClients(o.github, mgr.GetAPIReader()),
		Activity:              activity,
		Recorder:              mgr.GetEventRecorder("cast-controller"),
		ResyncInterval:        cmp.Or(o.resync, testResync),
		WebhookResyncInterval: cmp.Or(o.webhookResync, testResync),
		DispatchGrace:         2 * time.Second,
		CancelGrace:           3 * time.Second,
		CompletionGrace:       3 * time.Second,
	}
	Expect(r.SetupWithManager(mgr)).To(Succeed())
	writer := journal.NewWriter(mgr.GetClient(), journalNamespace)
	Expect(mgr.Add(writer)).To(Succeed())
	Expect(mgr.Add(&JournalFeed{Cache: mgr.GetCache(), Client: mgr.GetClient(), Namespace: journalNamespace, Inbox: inbox, Activity: activity})).To(Succeed())
	recv, err := webhook.New(webhook.Options{Secret: []byte(webhookSecret), OnDelivery: activity.Heard}, RunIndex{Cache: mgr.GetCache()}, writer)
	Expect(err).NotTo(HaveOccurred())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	webhookURL = "http://" + ln.Addr().String() + webhook.DefaultPath
	Expect(mgr.Add(recv.Server(ln))).To(Succeed())

	ctx, cancel := context.WithCancel(context.Background())
	stopManager = cancel
	managerDone = make(chan struct{})
	go func() {
		defer GinkgoRecover()
		defer close(managerDone)
		Expect(mgr.Start(ctx)).To(Succeed())
	}()
	Expect(mgr.GetCache().WaitForCacheSync(ctx)).To(BeTrue())
}

func stopTheManager() {
	if stopManager != nil {
		stopManager()
		Eventually(managerDone).Should(BeClosed())
	}
}

// sendWebhook POSTs a signed delivery, as GitHub does, and returns the
// status code.
func sendWebhook(event string, payload []byte) int {
	GinkgoHelper()
	code, _ := postWebhook(event, payload)
	return code
}

// deliver sends a delivery until a Cast takes it, as GitHub's redelivery
// would: a Cast created a moment ago may not be in the index yet.
func deliver(event string, payload []byte) {
	GinkgoHelper()
	Eventually(func() string { _, body := postWebhook(event, payload); return body }).
		Should(ContainSubstring("stored in 1 cast"))
}

func postWebhook(event string, payload []byte) (int, string) {
	GinkgoHelper()
	req, err := http.NewRequest(http.MethodPost, webhookURL, bytes.NewReader(payload))
	Expect(err).NotTo(HaveOccurred())
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(webhook.HeaderEvent, event)
	req.Header.Set(webhook.HeaderDelivery, fmt.Sprintf("delivery-%d", time.Now().UnixNano()))
	req.Header.Set(webhook.HeaderSignature, webhook.Signature([]byte(webhookSecret), payload))
	resp, err := http.DefaultClient.Do(req)
	Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	Expect(err).NotTo(HaveOccurred())
	return resp.StatusCode, string(body)
}

func controllerConfig() config.Controller {
	return config.Controller{SkipNameValidation: ptr.To(true)}
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

func signature(payload []byte) string { return webhook.Signature([]byte(webhookSecret), payload) }

func keyOf(c *castv1alpha1.Cast) client.ObjectKey { return client.ObjectKeyFromObject(c) }

func ptrInt64(n int64) *int64 { return &n }
