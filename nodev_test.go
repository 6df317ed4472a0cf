//go:build !dev

package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestDevNotBuilt: without the dev tag, dev points at `make run` and fails,
// rather than claiming the command does not exist.
func TestDevNotBuilt(t *testing.T) {
	for _, args := range [][]string{{"dev"}, {"dev", "-h"}, {"dev", "--data-dir", ".local"}} {
		var out bytes.Buffer
		if code := run(args, &out, &out); code != 1 {
			t.Errorf("%q: exit code %d, want 1; output:\n%s", args, code, out.String())
		}
		if !strings.Contains(out.String(), "make run") || strings.Contains(out.String(), "unknown command") {
			t.Errorf("%q: output does not point at make run:\n%s", args, out.String())
		}
	}
}
