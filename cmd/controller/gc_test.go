package controller

import (
	"runtime/debug"
	"testing"
)

// gcPercent reads the collector's setting back (SetGCPercent returns the
// one it replaces) and restores it.
func gcPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

func TestControllerDefaultsGOGCTo50(t *testing.T) {
	restore := gcPercent()
	t.Cleanup(func() { debug.SetGCPercent(restore) })
	t.Setenv("GOGC", "")
	debug.SetGCPercent(100)
	applyDefaultGCPercent()
	if got := gcPercent(); got != defaultGCPercent {
		t.Fatalf("GC percent with GOGC unset = %d, want %d", got, defaultGCPercent)
	}
}

func TestControllerKeepsAGOGCTheOperatorSet(t *testing.T) {
	restore := gcPercent()
	t.Cleanup(func() { debug.SetGCPercent(restore) })
	t.Setenv("GOGC", "200")
	debug.SetGCPercent(200) // what the runtime did at start with GOGC=200
	applyDefaultGCPercent()
	if got := gcPercent(); got != 200 {
		t.Fatalf("GC percent with GOGC=200 = %d, want 200 kept", got)
	}
}
