package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestRunCommandLine(t *testing.T) {
	tests := []struct {
		args     []string
		wantCode int
		wantOut  string
	}{
		{args: nil, wantCode: 2, wantOut: "Usage: cast-operator <command>"},
		{args: []string{"help"}, wantCode: 0, wantOut: "Commands:"},
		{args: []string{"frobnicate"}, wantCode: 2, wantOut: `unknown command "frobnicate"`},
		{args: []string{"controller", "--no-such-flag"}, wantCode: 1, wantOut: "flag provided but not defined: -no-such-flag"},
		{args: []string{"streamer", "extra"}, wantCode: 1, wantOut: `unexpected arguments ["extra"]`},
		{args: []string{"controller", "--leader-elect", "--leader-elect-renew-deadline", "20s"}, wantCode: 1, wantOut: "renew deadline (20s) < lease duration (15s)"},
		{args: []string{"controller", "--leader-elect", "--leader-elect-retry-period", "9s"}, wantCode: 1, wantOut: "1.2 × retry period (9s) < renew deadline (10s)"},
		{args: []string{"controller", "-h"}, wantCode: 0, wantOut: "-leader-elect-lease-duration"},
		{args: []string{"watch", "-o", "yaml"}, wantCode: 2, wantOut: "yaml"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var out bytes.Buffer
			code := run(tt.args, &out)
			if code != tt.wantCode {
				t.Errorf("exit code %d, want %d; output:\n%s", code, tt.wantCode, out.String())
			}
			if !strings.Contains(out.String(), tt.wantOut) {
				t.Errorf("output does not contain %q:\n%s", tt.wantOut, out.String())
			}
		})
	}
}
