package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/controllers/runstatus"
)

// Receipt stores webhook news in the Cast's status through the API server,
// on any replica, leader or not, before the receiver answers GitHub: a 2xx
// then means the news outlives the process that took it, and GitHub, which
// never redelivers a delivery it saw succeed, has nothing left to resend.
//
// The merge is pure and monotonic (runstatus), so any replica may apply it
// to what it reads; the optimistic lock turns a concurrent writer (another
// replica, or the leader's reconcile) into a conflict and a retry against a
// fresh read, never a lost update. The leader's reconciler then sees the
// change through its watch and does what only it does: completion,
// timeouts, resync.
type Receipt struct {
	// Client reads the Cast from the manager's cache and writes status.
	Client client.Client
	// Reader reads straight from the API server once a write conflicted,
	// so a cache that lags cannot make every retry conflict again.
	Reader client.Reader
	// Recorder emits the Events of the transitions the news makes.
	Recorder recorder.EventRecorder
	// Clock is injected for tests; nil means real time.
	Clock clock.PassiveClock
}

// receiptBackoff spaces retries after a conflict or a transient API error;
// the caller's context (GitHub's 10 s, less a margin) bounds them.
var receiptBackoff = wait.Backoff{Duration: 10 * time.Millisecond, Factor: 2, Jitter: 0.5, Steps: 1 << 30, Cap: time.Second}

// Record merges obs into the Cast's status and returns once the result is
// stored, or was already: an observation the status already covers needs
// no write. A Cast that no longer exists has nothing to keep, which is not
// an error. Any other error means the news may not be stored, and the
// receiver must not answer 2xx.
func (s *Receipt) Record(ctx context.Context, key types.NamespacedName, obs runstatus.Observation) error {
	var reader client.Reader = s.Client
	backoff := receiptBackoff
	for {
		stored, err := s.tryRecord(ctx, reader, key, obs)
		if stored || !retriable(err) {
			return err
		}
		// A conflict means the cache may be behind the API server: read
		// the Cast from the API server itself from now on.
		reader = s.Reader
		select {
		case <-ctx.Done():
			return fmt.Errorf("storing webhook news for cast %s: %w (last attempt: %w)", key, context.Cause(ctx), err)
		case <-time.After(backoff.Step()):
		}
	}
}

// tryRecord makes one read-merge-write attempt. stored reports the news is
// in the API server (written now, already there, or the Cast is gone).
func (s *Receipt) tryRecord(ctx context.Context, reader client.Reader, key types.NamespacedName, obs runstatus.Observation) (stored bool, err error) {
	cast := &castv1alpha1.Cast{}
	if err := reader.Get(ctx, key, cast); err != nil {
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, fmt.Errorf("reading cast %s: %w", key, err)
	}
	base := cast.DeepCopy()
	if !mergeObservation(ctx, cast, obs, s.now()) {
		return true, nil
	}
	patch := client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})
	if err := s.Client.Status().Patch(ctx, cast, patch); err != nil {
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, fmt.Errorf("writing status of cast %s: %w", key, err)
	}
	recordTransition(s.Recorder, cast, base.Status)
	return true, nil
}

// mergeObservation applies one piece of webhook news to the Cast in memory
// and reports whether its status changed. A Cast no reconcile has seen yet
// (attached by spec.runID a moment ago) gets its first status too.
func mergeObservation(ctx context.Context, cast *castv1alpha1.Cast, obs runstatus.Observation, now time.Time) bool {
	before := cast.Status.DeepCopy()
	initStatus(cast, now)
	if obs.Run != nil {
		if res := runstatus.ApplyRun(&cast.Status, *obs.Run, now); !res.Applied {
			logf.FromContext(ctx).V(1).Info("run observation ignored", "cast", client.ObjectKeyFromObject(cast),
				"run", obs.Run.ID, "status", obs.Run.Status, "reason", res.Reason)
		}
	}
	if obs.Job != nil {
		runstatus.ApplyJob(&cast.Status, *obs.Job)
	}
	return !statusUnchanged(before, &cast.Status)
}

// retriable: a conflict, or an API server that is slow, overloaded or
// briefly unreachable, may succeed on the next try.
func retriable(err error) bool {
	if err == nil {
		return false
	}
	return apierrors.IsConflict(err) || apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) ||
		apierrors.IsTooManyRequests(err) || apierrors.IsServiceUnavailable(err) || apierrors.IsInternalError(err) ||
		!isAPIStatus(err)
}

// isAPIStatus tells an answer from the API server from a failure to reach
// it (connection refused or reset), which is worth another try.
func isAPIStatus(err error) bool {
	var status apierrors.APIStatus
	return errors.As(err, &status)
}

func (s *Receipt) now() time.Time {
	if s.Clock == nil {
		return time.Now()
	}
	return s.Clock.Now()
}
