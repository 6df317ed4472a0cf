//go:build dev

package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestDevBuilt: with the dev tag, dev is the real command and shows its
// flags.
func TestDevBuilt(t *testing.T) {
	var out bytes.Buffer
	if code := run([]string{"dev", "-h"}, &out); code != 0 || !strings.Contains(out.String(), "-data-dir") {
		t.Errorf("dev -h: exit code %d, want 0 and the -data-dir flag; output:\n%s", code, out.String())
	}
}
