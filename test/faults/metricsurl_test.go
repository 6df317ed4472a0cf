package faults

import (
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
