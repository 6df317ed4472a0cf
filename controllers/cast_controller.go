// Package controllers holds the Cast reconciler, the only writer of
// Cast.status, and what feeds it: the run index, and the webhook journal's
// feed and inbox.
package controllers

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"time"

	"golang.org/x/sync/semaphore"
	"golang.org/x/time/rate"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	kerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/recorder"
	"sigs.k8s.io/controller-runtime/pkg/source"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/controllers/ghapi"
	"github.com/spell-platform/cast-operator/controllers/runstatus"
)

// Finalizer lets the operator cancel the run of a Cast deleted before it
// finished.
const Finalizer = "spell.dev/cancel-run"

// CastReconciler keeps each Cast's status true to its workflow run.
type CastReconciler struct {
	client.Client
	// GitHub builds API clients with the operator's or the Cast's token.
	GitHub *ghapi.Clients
	// Inbox brings webhook observations from the journal; the reconciler
	// drains it, and tells it once they are in status.
	Inbox *Inbox
	// Reader reads from the API server itself, when the cache's word that
	// a Cast is gone would cost stored news; nil means Client.
	Reader client.Reader
	// Recorder emits the Events `kubectl describe cast` shows.
	Recorder recorder.EventRecorder
	// Clock is injected so time-based logic is testable; nil means real time.
	Clock clock.PassiveClock
	// ResyncInterval is how long a running Cast may go without news before
	// it is re-read from the REST API (jittered by up to 10%), while its
	// repository's webhook does not deliver.
	ResyncInterval time.Duration
	// WebhookResyncInterval replaces ResyncInterval while the repository's
	// webhook delivers: the slow safety net for a lost delivery.
	WebhookResyncInterval time.Duration
	// Activity tells which repositories' webhooks deliver; nil means none.
	Activity *WebhookActivity
	// Rates price billable minutes into status.costCents.
	Rates runstatus.Rates
	// DispatchGrace is how long, after a restart, the reconciler looks for a
	// run it may have dispatched before dispatching again.
	DispatchGrace time.Duration
	// CancelGrace bounds how long deletion waits for GitHub to accept a
	// cancel before the finalizer is removed anyway.
	CancelGrace time.Duration
	// CompletionGrace bounds how long a finished Cast waits for artifacts
	// and cost before Complete is set without them.
	CompletionGrace time.Duration
	// StatusWritesInFlight bounds the status writes sent at once; default
	// DefaultStatusWritesInFlight (see statuswrites.go for why one).
	StatusWritesInFlight int

	statusWrites *semaphore.Weighted

	mu sync.Mutex
	// intents are Casts whose dispatch intent this process recorded and has
	// not yet sent; after a restart the map is empty, so the reconciler
	// first looks for a run it may have dispatched.
	intents map[types.UID]bool
	// lastNews is when each Cast last had an accepted observation or resync.
	lastNews map[types.UID]time.Time
	// active shares repository listings among resyncs.
	active *activeRuns
	// postponed holds resyncs the budget or a credential problem put off.
	postponed map[types.UID]time.Time
	// owedJobs are Casts whose last resync read the run but not its jobs.
	owedJobs map[types.UID]bool
	// wakes holds idle Casts' next looks (see wakes.go).
	wakes *wakes
}

// +kubebuilder:rbac:groups=spell.dev,resources=casts,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=spell.dev,resources=casts/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=spell.dev,resources=casts/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups="",namespace=system,resources=configmaps,verbs=get;list;watch;create;delete

// Reconcile reads the Cast, handles deletion and the finalizer, lets
// reconcile move the status in memory, and writes the status once,
// whatever reconcile returned.
func (r *CastReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	// This look decides the next one; a wake set by an earlier look is void.
	r.wakes.cancel(req.NamespacedName)
	// The cache's own object is what the new status is compared with, read
	// and never written; the reconcile works on one copy of it. Every idle
	// Cast is reconciled once per resync interval, and a second copy per
	// look was a share of the controller's allocations, and so of its GC
	// work.
	base := &castv1alpha1.Cast{}
	if err := r.Get(ctx, req.NamespacedName, base, client.UnsafeDisableDeepCopy); err != nil {
		if apierrors.IsNotFound(err) {
			return r.gone(ctx, req.NamespacedName)
		}
		return ctrl.Result{}, err
	}
	if r.Inbox.HasOthers(req.NamespacedName, base.UID) {
		if lag, err := r.otherCasts(ctx, req.NamespacedName, base.UID); err != nil || lag {
			return ctrl.Result{RequeueAfter: cacheLagRetry}, err
		}
	}
	cast := base.DeepCopy()
	if !cast.DeletionTimestamp.IsZero() {
		return r.finalize(ctx, cast)
	}
	if !cast.Status.Phase.IsTerminal() && controllerutil.AddFinalizer(cast, Finalizer) {
		if err := r.Update(ctx, cast); err != nil {
			return ctrl.Result{}, fmt.Errorf("adding finalizer: %w", err)
		}
		base = cast.DeepCopy()
	}

	news := r.Inbox.Take(req.NamespacedName, cast.UID)
	defer func() {
		if statusUnchanged(&base.Status, &cast.Status) {
			r.Inbox.Applied(news)
			return
		}
		if err := r.writeStatus(ctx, cast); err != nil {
			// What webhooks said stays in the journal and the inbox for the
			// retry, unless the Cast is gone: nothing is left to update.
			if apierrors.IsNotFound(err) {
				r.Inbox.Applied(news)
			} else {
				r.Inbox.Return(req.NamespacedName, news)
			}
			retErr = kerrors.NewAggregate([]error{retErr, fmt.Errorf("patching status: %w", err)})
			return
		}
		r.Inbox.Applied(news)
		recordTransition(r.Recorder, cast, base.Status)
	}()

	return r.reconcile(ctx, cast, news)
}

// statusUnchanged: most looks at an idle Cast change nothing, and the
// standard library's walk says so at a fraction of the cost of
// apimachinery's semantic one (which looks up an equality function at
// every field); what it finds equal is semantically equal too, so only a
// difference it finds is worth the semantic check, which forgives equal
// instants in different locations.
func statusUnchanged(a, b *castv1alpha1.CastStatus) bool {
	return reflect.DeepEqual(a, b) || equality.Semantic.DeepEqual(a, b)
}

// reconcile moves the Cast's status forward in memory, given the webhook
// news taken from the inbox; the only API writes it causes are GitHub's.
func (r *CastReconciler) reconcile(ctx context.Context, cast *castv1alpha1.Cast, news News) (ctrl.Result, error) {
	now := r.now()
	initStatus(cast, now)

	for _, run := range news.Runs {
		r.applyRun(ctx, cast, run, now)
	}
	for _, job := range news.Jobs {
		if runstatus.ApplyJob(&cast.Status, job) {
			r.touch(cast, now)
		}
	}

	gh, ghErr := r.GitHub.For(ctx, cast)
	if ae, ok := ghapi.AccessProblem(ghErr); ok {
		setAccess(cast, ae.Reason, accessMessage(cast, ae), now)
	}
	if res, handled, err := r.cancelRequested(ctx, cast, gh, ghErr, now); handled {
		return res, err
	}
	settleRerun(cast, now)
	if cast.Status.RunID == 0 && !cast.Status.Phase.IsTerminal() {
		res, err := r.dispatch(ctx, cast, gh, ghErr, now)
		if err != nil || (cast.Status.RunID == 0 && !cast.Status.Phase.IsTerminal()) {
			return res, err
		}
	}

	if !cast.Status.Phase.IsTerminal() && gh != nil && r.resyncDue(cast, now) {
		fetched, err := r.resync(ctx, cast, gh, now)
		switch {
		case err == nil:
			clearAccess(cast, now)
			for _, j := range fetched {
				runstatus.ApplyJob(&cast.Status, j)
			}
			if len(fetched) > 0 {
				runstatus.CountOmitted(&cast.Status, fetched)
			}
		case waitsForGitHub(err):
			// No news this time; webhooks, timeout and completion go on.
			res, _ := r.githubTrouble(cast, err, now)
			r.postponeResync(cast, now.Add(res.RequeueAfter))
		default:
			return retryLater(err)
		}
	}
	if res, err := r.enforceTimeout(ctx, cast, gh, now); err != nil || res.RequeueAfter > 0 {
		return res, err
	}
	if cast.Status.Phase.IsTerminal() {
		res, err := r.complete(ctx, cast, gh, ghErr, now)
		if err != nil || res.RequeueAfter > 0 || !cast.Status.Concluded() {
			return res, err
		}
		return r.followRerun(ctx, cast, gh, ghErr, now)
	}
	return r.sleepUntilWake(cast, now), nil
}

// applyRun merges one run snapshot and reports whether it changed status.
func (r *CastReconciler) applyRun(ctx context.Context, cast *castv1alpha1.Cast, run runstatus.Run, now time.Time) bool {
	res := runstatus.ApplyRun(&cast.Status, run, now)
	if !res.Applied {
		logf.FromContext(ctx).V(1).Info("run observation ignored", "run", run.ID, "status", run.Status, "reason", res.Reason)
		return false
	}
	r.touch(cast, now)
	return true
}

// gone handles a Cast the cache does not hold. Its stored news is released
// only once the API server confirms it is gone: the journal may name a
// Cast the leader's cache has not seen yet (created a moment ago and seen
// by the replica that took the delivery), and releasing its news would
// delete a delivery answered 2xx.
func (r *CastReconciler) gone(ctx context.Context, key types.NamespacedName) (ctrl.Result, error) {
	if !r.Inbox.Has(key) {
		return ctrl.Result{}, nil
	}
	reader := r.Reader
	if reader == nil {
		reader = r.Client
	}
	err := reader.Get(ctx, key, &castv1alpha1.Cast{})
	switch {
	case apierrors.IsNotFound(err):
		r.Inbox.Forget(key)
		return ctrl.Result{}, nil
	case err != nil:
		return ctrl.Result{}, fmt.Errorf("confirming cast %s is gone: %w", key, err)
	}
	// The cache is behind: look again once it has the Cast.
	return ctrl.Result{RequeueAfter: cacheLagRetry}, nil
}

// otherCasts settles news stored for another Cast of the same name: void
// if that Cast is gone (deleted, and this one created under its name), to
// wait for (lag) if the API server already holds it and the cache does not.
func (r *CastReconciler) otherCasts(ctx context.Context, key types.NamespacedName, uid types.UID) (lag bool, err error) {
	reader := r.Reader
	if reader == nil {
		reader = r.Client
	}
	current := &castv1alpha1.Cast{}
	if err := reader.Get(ctx, key, current); err != nil && !apierrors.IsNotFound(err) {
		return false, fmt.Errorf("reading cast %s from the API server: %w", key, err)
	}
	if current.UID != "" && current.UID != uid {
		return true, nil
	}
	r.Inbox.ReleaseOthers(key, current.UID)
	return false, nil
}

// cacheLagRetry is how soon a Cast the cache did not hold yet is looked at
// again.
const cacheLagRetry = 200 * time.Millisecond

func (r *CastReconciler) now() time.Time {
	if r.Clock == nil {
		return time.Now()
	}
	return r.Clock.Now()
}

// SetupWithManager registers the reconciler, the run index and the inbox.
// Status-only updates do not trigger it: it wrote them itself.
func (r *CastReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if err := addRunIndex(context.Background(), mgr.GetCache()); err != nil {
		return err
	}
	r.setDefaults()
	if err := registerPhaseMetrics(context.Background(), mgr.GetCache()); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&castv1alpha1.Cast{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		WatchesRawSource(source.Channel(r.Inbox.Source(), newsHandler())).
		WatchesRawSource(source.Func(r.startWakes)).
		Named("cast").
		WithOptions(controller.Options{MaxConcurrentReconciles: reconcileWorkers, RateLimiter: errorBackoff(r.ResyncInterval),
			LogConstructor: requestLoggers(mgr.GetLogger())}).
		Complete(r)
}

// reconcileWorkers lets a Cast whose GitHub call hangs (up to the HTTP
// client's timeout) hold up one worker, not every other Cast.
const reconcileWorkers = 4

// errorBackoff is controller-runtime's default rate limiter (per-Cast
// exponential backoff from 5 ms, 10 retries a second overall) with the
// per-Cast backoff capped at the resync interval instead of 1000 s: after
// a long GitHub outage a Cast is re-read within one interval of GitHub
// recovering, as a Cast that never failed would be.
func errorBackoff(maxDelay time.Duration) workqueue.TypedRateLimiter[reconcile.Request] {
	return workqueue.NewTypedMaxOfRateLimiter(
		workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](5*time.Millisecond, maxDelay),
		&workqueue.TypedBucketRateLimiter[reconcile.Request]{Limiter: rate.NewLimiter(rate.Limit(10), 100)},
	)
}

// Defaults for the reconciler's knobs, also the controller's flag defaults.
const (
	DefaultResyncInterval = 60 * time.Second
	// DefaultWebhookResyncInterval is the safety net while webhooks
	// deliver; it also decides when a silent webhook counts as stopped.
	DefaultWebhookResyncInterval = 15 * time.Minute
	DefaultDispatchGrace         = 60 * time.Second
	DefaultCancelGrace           = 2 * time.Minute
	DefaultCompletionGrace       = 10 * time.Minute
)

func (r *CastReconciler) setDefaults() {
	if r.Inbox == nil {
		r.Inbox = NewInbox()
	}
	if r.GitHub == nil {
		r.GitHub = ghapi.NewClients(ghapi.Options{}, r.Client)
	}
	if r.ResyncInterval == 0 {
		r.ResyncInterval = DefaultResyncInterval
	}
	if r.WebhookResyncInterval == 0 {
		r.WebhookResyncInterval = DefaultWebhookResyncInterval
	}
	if r.Rates == nil {
		r.Rates = runstatus.DefaultRates
	}
	if r.DispatchGrace == 0 {
		r.DispatchGrace = DefaultDispatchGrace
	}
	if r.CancelGrace == 0 {
		r.CancelGrace = DefaultCancelGrace
	}
	if r.CompletionGrace == 0 {
		r.CompletionGrace = DefaultCompletionGrace
	}
	r.statusWrites = newStatusWrites(r.StatusWritesInFlight)
	r.intents = map[types.UID]bool{}
	r.lastNews = map[types.UID]time.Time{}
	r.active = newActiveRuns()
	r.postponed = map[types.UID]time.Time{}
	r.owedJobs = map[types.UID]bool{}
	r.wakes = newWakes()
}
