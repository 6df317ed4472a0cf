package controllers

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
)

func TestTimeoutDeadline(t *testing.T) {
	created := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *metav1.Time { mt := metav1.NewTime(created.Add(d)); return &mt }
	day := 24 * time.Hour
	tests := []struct {
		name    string
		timeout time.Duration
		status  castv1alpha1.CastStatus
		want    time.Time // zero: no deadline
	}{
		{name: "no timeout", status: castv1alpha1.CastStatus{RunAttempt: 1}},
		{name: "first attempt counts from creation", timeout: time.Hour, status: castv1alpha1.CastStatus{RunAttempt: 1},
			want: created.Add(time.Hour)},
		{name: "a re-run asked through spec.rerun counts from when GitHub accepted it", timeout: time.Hour,
			status: castv1alpha1.CastStatus{RunAttempt: 2, Rerun: &castv1alpha1.RerunStatus{AfterAttempt: 1,
				State: castv1alpha1.RerunRequested, LastTransitionTime: *at(3 * day)},
				PreviousAttempts: []castv1alpha1.AttemptOutcome{{Attempt: 1, FinishedAt: at(time.Minute)}}},
			want: created.Add(3*day + time.Hour)},
		{name: "a re-run from GitHub's page counts from the previous attempt's end", timeout: time.Hour,
			status: castv1alpha1.CastStatus{RunAttempt: 3, Rerun: &castv1alpha1.RerunStatus{AfterAttempt: 1,
				State: castv1alpha1.RerunRequested, LastTransitionTime: *at(day)},
				PreviousAttempts: []castv1alpha1.AttemptOutcome{{Attempt: 2, FinishedAt: at(2 * day)}}},
			want: created.Add(2*day + time.Hour)},
		{name: "a re-run whose predecessor's end is unknown counts from creation", timeout: time.Hour,
			status: castv1alpha1.CastStatus{RunAttempt: 2}, want: created.Add(time.Hour)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cast := &castv1alpha1.Cast{ObjectMeta: metav1.ObjectMeta{CreationTimestamp: metav1.NewTime(created)}, Status: tt.status}
			if tt.timeout > 0 {
				cast.Spec.Timeout = &metav1.Duration{Duration: tt.timeout}
			}
			got, ok := timeoutDeadline(cast)
			if ok != !tt.want.IsZero() || !got.Equal(tt.want) {
				t.Errorf("timeoutDeadline = %v, %v; want %v", got, ok, tt.want)
			}
		})
	}
}
