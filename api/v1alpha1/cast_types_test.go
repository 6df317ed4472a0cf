package v1alpha1

import "testing"

func TestPhaseIsTerminal(t *testing.T) {
	for phase, want := range map[CastPhase]bool{
		"":             false,
		PhasePending:   false,
		PhaseQueued:    false,
		PhaseRunning:   false,
		PhaseSucceeded: true,
		PhaseFailed:    true,
		PhaseCancelled: true,
		PhaseTimedOut:  true,
	} {
		if got := phase.IsTerminal(); got != want {
			t.Errorf("%q.IsTerminal() = %v, want %v", phase, got, want)
		}
	}
}
