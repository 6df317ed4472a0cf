package controller

import (
	"os"
	"runtime/debug"
)

// defaultGCPercent is the controller's GOGC unless the environment sets
// one. Its heap is mostly the informer cache, which lives as long as the
// process. At Go's default of 100 the runtime lets garbage grow to the
// size of that cache before it collects, so 100,000 cached Casts took
// twice the memory they need, to spare collections a controller at rest
// hardly needs: it allocates only for the few reconciles a second its
// resyncs and webhooks bring. At 50 the headroom is half the cache, for
// about twice the collection work per allocated byte (docs/bench gives
// both sides). Prometheus lowers its default for the same reason.
const defaultGCPercent = 50

// applyDefaultGCPercent sets defaultGCPercent unless GOGC is set, which
// the runtime has already applied and which stays the operator's choice.
func applyDefaultGCPercent() {
	if os.Getenv("GOGC") != "" {
		return
	}
	debug.SetGCPercent(defaultGCPercent)
}
