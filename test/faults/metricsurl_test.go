package faults

import (
	"fmt"
	"net/http"
	"time"

	. "github.com/onsi/gomega"
)

// metricsEndpoint is where a process under test serves Prometheus
// metrics: the flags that put them there and the URL to scrape. component
// is "controller" or "streamer"; publicURL is the streamer's own base URL
// (http:// or https://). This is the one place that knows where /metrics
// lives; when both commands serve it from the manager's metrics server,
// each case becomes a free address with
// --metrics-bind-address=ADDR --metrics-secure=false and http://ADDR/metrics.
func metricsEndpoint(component, publicURL string) (args []string, url string) {
	switch component {
	case "streamer":
		// The streamer's public port serves /metrics.
		return nil, publicURL + "/metrics"
	case "controller":
		addr := freeAddr()
		return []string{"--metrics-bind-address", addr}, "http://" + addr + "/metrics"
	}
	Expect(component).To(BeElementOf("controller", "streamer"))
	return nil, ""
}

// scrapeWith reads url's exposition through hc (which may need to trust
// a test CA), by full series name as ParseMetrics returns them.
func scrapeWith(hc *http.Client, url string) (map[string]float64, error) {
	if hc == nil {
		hc = &http.Client{}
	}
	c := *hc
	c.Timeout = 5 * time.Second
	resp, err := c.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", url, resp.Status)
	}
	return ParseMetrics(resp.Body)
}
