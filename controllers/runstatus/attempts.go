package runstatus

import (
	"fmt"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
)

// keepOutcome appends the current attempt's outcome to previousAttempts
// before a later attempt replaces it, so a re-run never hides how the run
// ended before; only the latest MaxPreviousAttempts are kept. A status that
// never saw its run's attempt keeps nothing: there is nothing to tell.
func keepOutcome(st *castv1alpha1.CastStatus) {
	if st.RunAttempt == 0 {
		return
	}
	for _, a := range st.PreviousAttempts {
		if a.Attempt == st.RunAttempt {
			return
		}
	}
	out := castv1alpha1.AttemptOutcome{
		Attempt:    st.RunAttempt,
		Phase:      st.Phase,
		Conclusion: st.Conclusion,
		StartedAt:  st.StartedAt.DeepCopy(),
		FinishedAt: st.FinishedAt.DeepCopy(),
		CostCents:  st.CostCents,
		URL:        AttemptURL(st.RunURL, st.RunAttempt),
	}
	st.PreviousAttempts = append(st.PreviousAttempts, out)
	if n := len(st.PreviousAttempts); n > castv1alpha1.MaxPreviousAttempts {
		st.PreviousAttempts = append([]castv1alpha1.AttemptOutcome(nil), st.PreviousAttempts[n-castv1alpha1.MaxPreviousAttempts:]...)
	}
}

// AttemptURL is where GitHub shows one attempt of a run, given the run's
// html_url: the run's page shows only its latest attempt.
func AttemptURL(runURL string, attempt int64) string {
	if runURL == "" {
		return ""
	}
	return fmt.Sprintf("%s/attempts/%d", runURL, attempt)
}
