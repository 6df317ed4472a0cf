package faults

import (
	"context"
	"net/http"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/spell-platform/cast-operator/test/kubetest"
)

var _ = Describe("Grafana dashboard", Label("controller", "streamer", "metrics"), func() {
	It("queries only metrics, label values and legend labels that the real controller and streamer export", func(ctx SpecContext) {
		dash, err := readDashboard(dashboardFile)
		Expect(err).NotTo(HaveOccurred())
		Expect(dash.UID).NotTo(BeEmpty())
		Expect(dash.SchemaVersion).To(BeNumerically(">=", 39))
		Expect(dash.Templating.List).To(ContainElement(SatisfyAll(
			HaveField("Name", "datasource"), HaveField("Type", "datasource"))), "a datasource variable lets users pick their Prometheus")
		checkPanels(dash.Panels, map[int]bool{})
		queries, err := dash.queries()
		Expect(err).NotTo(HaveOccurred())

		By("a controller with a fake GitHub, reconciling a Cast and receiving a signed webhook")
		op := newOperator()
		ns := newNamespace("dashboard")
		ids := op.addRuns(7_900_000, 1, "in_progress", nil)
		controllerArgs, controllerURL := metricsEndpoint("controller")
		p, err := StartController(ControllerConfig{Binary: binary, Kubeconfig: kubeconfig, LogPath: logPath("controller"),
			WebhookAddr: op.webhookAddr, WebhookSecret: webhookSecret, GitHubURL: op.gh.URL, TokenFile: op.tokenFile,
			Resync: resync, Args: controllerArgs})
		Expect(err).NotTo(HaveOccurred())
		stopOnCleanup(p)
		createAttached(ctx, ns, ids)
		hc := &http.Client{Timeout: 10 * time.Second}
		started := time.Now().Add(-time.Minute)
		Eventually(func() (int, error) {
			code, _, err := post(hc, op.webhookURL(), webhookSecret, runDelivery(ids[0], "in_progress", "", started, time.Now()))
			return code, err
		}).Should(Equal(http.StatusOK))
		Eventually(func() map[string]float64 { return scrapeOrNil(controllerURL) }).
			Should(HaveKey(HavePrefix("cast_operator_github_rate_limit_remaining{")), "the reconcile read the run from GitHub")
		// GitHub's budget spent until a reset moments away: the next
		// resyncs are held back by the operator's own budget.
		op.gh.SetRateLimit(0, time.Now().Add(4*time.Second).Truncate(time.Second))
		Eventually(func() map[string]float64 { return scrapeOrNil(controllerURL) }).
			Should(HaveKey(HavePrefix("cast_operator_github_budget_delays_total{")), "a resync was held back")

		By("a streamer with a stream opened and closed, a bad token and a forbidden one")
		addr := freeAddr()
		base := "http://" + addr
		streamerURL := startStreamer(addr).MetricsURL
		token := viewerToken(ctx, ns)
		sctx, closeStream := context.WithCancel(ctx)
		events, _ := openStream(sctx, &http.Client{}, base+"/api/v1/namespaces/"+ns+"/casts/events", token)
		Eventually(events).Should(Receive(HaveField("Event", "synced")))
		closeStream()
		Eventually(func() map[string]float64 { return scrapeOrNil(streamerURL) }).
			Should(HaveKey(`cast_streamer_streams_closed_total{reason="client_disconnect"}`))
		Expect(statusWithToken(hc, base+"/api/v1/namespaces/"+ns+"/casts", "not-a-token")).To(Equal(http.StatusUnauthorized))
		stranger, err := kubetest.Token(ctx, kube, ns, "stranger", time.Hour)
		Expect(err).NotTo(HaveOccurred())
		Expect(statusWithToken(hc, base+"/api/v1/namespaces/"+ns+"/casts", stranger)).To(Equal(http.StatusForbidden))

		By("every query checked against both live /metrics")
		live := map[string]exposition{}
		for proc, url := range map[string]string{"controller": controllerURL, "streamer": streamerURL} {
			m, err := Scrape(url)
			Expect(err).NotTo(HaveOccurred())
			live[proc], err = indexExposition(m)
			Expect(err).NotTo(HaveOccurred())
		}
		problems, named := checkQueries(queries, live)
		Expect(problems).To(BeEmpty())
		AddReportEntry("metrics the dashboard queries", strings.Join(named, "\n"))
		// What the issue asks the dashboard to show.
		Expect(named).To(ContainElements(
			"cast_streamer_open_streams", "cast_streamer_events_sent_total", "cast_streamer_delivery_lag_seconds_bucket",
			"cast_streamer_streams_closed_total", "cast_streamer_auth_decisions_total",
			"cast_operator_webhooks_received_total", "controller_runtime_reconcile_errors_total",
			"cast_operator_github_rate_limit_remaining"))
	})
})

// checkPanels: every panel has a unique id, and every query panel uses
// the dashboard's datasource variable.
func checkPanels(ps []grafanaPanel, ids map[int]bool) {
	GinkgoHelper()
	for _, p := range ps {
		Expect(ids).NotTo(HaveKey(p.ID), "panel %q: id %d is taken", p.Title, p.ID)
		ids[p.ID] = true
		for _, t := range p.Targets {
			Expect(t.Datasource).NotTo(BeNil(), "panel %q", p.Title)
			Expect(t.Datasource.UID).To(Equal("${datasource}"), "panel %q", p.Title)
		}
		checkPanels(p.Panels, ids)
	}
}

// scrapeOrNil scrapes url, nil while it does not answer.
func scrapeOrNil(url string) map[string]float64 {
	m, err := Scrape(url)
	if err != nil {
		return nil
	}
	return m
}

// statusWithToken is the status of a GET of url with a bearer token.
func statusWithToken(hc *http.Client, url, token string) (int, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}
