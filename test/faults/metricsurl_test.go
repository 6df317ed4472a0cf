package faults

import (
	"fmt"
	"net/http"
	"time"

	. "github.com/onsi/gomega"
)

// metricsEndpoint is where a process under test serves Prometheus
// metrics: the flags that put them there and the URL to scrape. component
// is "controller" or "streamer"; both serve /metrics from the manager's
// metrics server, here on a free loopback address over plain HTTP
// (--metrics-secure=false; metrics_auth_test.go covers the secure default).
// The flags come last on a command line, so they win over a harness's own.
func metricsEndpoint(component string) (args []string, url string) {
	Expect(component).To(BeElementOf("controller", "streamer"))
	addr := freeAddr()
	return []string{"--metrics-bind-address", addr, "--metrics-secure=false"}, "http://" + addr + "/metrics"
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
