package dev

import (
	"bytes"
	"errors"
	"flag"
	"strings"
	"testing"
)

// TestRunHelp: dev's flags are the manager's, the streamer's and the
// controller's together with --data-dir, at dev's loopback defaults; -h
// lists them and starts nothing.
func TestRunHelp(t *testing.T) {
	var out bytes.Buffer
	err := Run([]string{"-h"}, &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("dev -h: %v, want flag.ErrHelp", err)
	}
	for _, want := range []string{"-data-dir", `(default "127.0.0.1:8090")`, `(default "127.0.0.1:8082")`, "-github-token-file", "-metrics-bind-address"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("dev -h does not show %s:\n%s", want, out.String())
		}
	}
}
