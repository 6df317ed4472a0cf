package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/cache"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/spell-platform/cast-operator/controllers/runstatus"
)

var testSecret = []byte("It's a Secret to Everybody")

// fakeIndex maps repository and run ID to Casts; err, when set, fails every
// lookup.
type fakeIndex struct {
	mu    sync.Mutex
	casts map[string][]types.NamespacedName
	err   error
	calls int
}

func runKey(repo string, runID int64) string { return repo + "#" + strconv.FormatInt(runID, 10) }

func (f *fakeIndex) CastsForRun(_ context.Context, repo string, runID int64) ([]CastRef, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.err != nil {
		return nil, f.err
	}
	var out []CastRef
	for _, c := range f.casts[runKey(repo, runID)] {
		out = append(out, CastRef{NamespacedName: c, UID: types.UID("uid-of-" + c.Name)})
	}
	return out, nil
}

func (f *fakeIndex) setErr(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

type delivery struct {
	cast types.NamespacedName
	obs  runstatus.Observation
}

// fakeStore stands in for the journal (tested on envtest in package
// journal): it records, fails, or hangs until the deadline.
type fakeStore struct {
	mu   sync.Mutex
	got  []delivery
	err  error
	hang bool
}

func (f *fakeStore) Store(ctx context.Context, _ string, casts []CastRef, obs runstatus.Observation) error {
	f.mu.Lock()
	err, hang := f.err, f.hang
	f.mu.Unlock()
	if hang {
		<-ctx.Done()
		return ctx.Err()
	}
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range casts {
		if c.UID != types.UID("uid-of-"+c.Name) {
			return fmt.Errorf("cast %s stored with UID %q, not the index's", c.NamespacedName, c.UID)
		}
		f.got = append(f.got, delivery{c.NamespacedName, obs})
	}
	return nil
}

func (f *fakeStore) set(err error, hang bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err, f.hang = err, hang
}

func (f *fakeStore) deliveries() []delivery {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]delivery(nil), f.got...)
}

var (
	castA = types.NamespacedName{Namespace: "team-a", Name: "nightly"}
	castB = types.NamespacedName{Namespace: "team-b", Name: "release"}
)

type harness struct {
	r     *Receiver
	srv   *httptest.Server
	index *fakeIndex
	store *fakeStore
}

func newHarness(t *testing.T, opts Options) *harness {
	t.Helper()
	if opts.Secret == nil {
		opts.Secret = testSecret
	}
	h := &harness{
		index: &fakeIndex{casts: map[string][]types.NamespacedName{
			runKey(testRepo, testRunID): {castA, castB},
		}},
		store: &fakeStore{},
	}
	r, err := New(opts, h.index, h.store)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	h.r = r
	h.srv = httptest.NewServer(r)
	t.Cleanup(h.srv.Close)
	return h
}

type request struct {
	method, event, delivery string
	body                    []byte
	signature               *string // nil: sign body with testSecret
	chunked                 bool    // hide the length so only MaxBytesReader can stop the body
}

func (h *harness) do(t *testing.T, rq request) (int, string, http.Header) {
	t.Helper()
	if rq.method == "" {
		rq.method = http.MethodPost
	}
	var body io.Reader = bytes.NewReader(rq.body)
	if rq.chunked {
		body = io.MultiReader(body)
	}
	req, err := http.NewRequest(rq.method, h.srv.URL+DefaultPath, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if rq.event != "" {
		req.Header.Set(HeaderEvent, rq.event)
	}
	if rq.delivery != "" {
		req.Header.Set(HeaderDelivery, rq.delivery)
	}
	switch {
	case rq.signature == nil:
		req.Header.Set(HeaderSignature, Signature(testSecret, rq.body))
	case *rq.signature != "":
		req.Header.Set(HeaderSignature, *rq.signature)
	}
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
		t.Errorf("Content-Type = %q, want text/plain", ct)
	}
	return resp.StatusCode, strings.TrimSpace(string(b)), resp.Header
}

func ptr(s string) *string { return &s }

// counter reads one series of receivedTotal, as prometheus/testutil's
// ToFloat64 would; testutil itself needs a module go.mod does not list.
// Tests compare before and after because the counter is process-global.
func counter(t *testing.T, event, result string) float64 {
	t.Helper()
	var m dto.Metric
	if err := receivedTotal.WithLabelValues(event, result).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

func TestServeHTTP(t *testing.T) {
	runCompleted := readTestdata(t, "workflow_run.completed.json")
	tests := []struct {
		name       string
		opts       Options
		req        request
		wantCode   int
		wantBody   string // substring
		wantResult string
		wantEvent  string // metric label; default req.event
	}{
		{name: "missing signature", req: request{event: EventWorkflowRun, body: runCompleted, signature: ptr("")},
			wantCode: 401, wantBody: "missing X-Hub-Signature-256", wantResult: resultUnauthorized},
		{name: "wrong secret", req: request{event: EventWorkflowRun, body: runCompleted, signature: ptr(Signature([]byte("guess"), runCompleted))},
			wantCode: 401, wantBody: "signature does not match", wantResult: resultUnauthorized},
		{name: "signature of another body", req: request{event: EventWorkflowRun, body: runCompleted, signature: ptr(Signature(testSecret, []byte("{}")))},
			wantCode: 401, wantBody: "signature does not match", wantResult: resultUnauthorized},
		{name: "sha1 signature", req: request{event: EventWorkflowRun, body: runCompleted, signature: ptr("sha1=0123")},
			wantCode: 401, wantBody: "malformed X-Hub-Signature-256", wantResult: resultUnauthorized},
		{name: "over the limit", opts: Options{MaxBodyBytes: 64}, req: request{event: EventWorkflowRun, body: runCompleted},
			wantCode: 413, wantBody: "payload larger than 64 bytes", wantResult: resultTooLarge},
		{name: "over the limit, chunked", opts: Options{MaxBodyBytes: 64}, req: request{event: EventWorkflowRun, body: runCompleted, chunked: true},
			wantCode: 413, wantBody: "payload larger than 64 bytes", wantResult: resultTooLarge},
		{name: "GET", req: request{method: http.MethodGet, event: EventWorkflowRun},
			wantCode: 405, wantBody: "only POST", wantResult: resultInvalid},
		{name: "invalid JSON", req: request{event: EventWorkflowRun, body: readTestdata(t, "truncated.json")},
			wantCode: 400, wantBody: "invalid JSON", wantResult: resultInvalid},
		{name: "missing workflow_run", req: request{event: EventWorkflowRun, body: readTestdata(t, "workflow_run.missing-object.json")},
			wantCode: 400, wantBody: "payload has no workflow_run object", wantResult: resultInvalid},
		{name: "missing run id", req: request{event: EventWorkflowJob, body: readTestdata(t, "workflow_job.missing-run-id.json")},
			wantCode: 400, wantBody: "workflow_job.run_id is missing", wantResult: resultInvalid},
		{name: "ping", req: request{event: EventPing, body: readTestdata(t, "ping.json")},
			wantCode: 200, wantBody: "pong", wantResult: resultIgnored},
		{name: "other event", req: request{event: "pull_request", body: []byte(`{"action":"opened"}`)},
			wantCode: 202, wantBody: `event type "pull_request"`, wantResult: resultIgnored, wantEvent: eventOther},
		{name: "unknown action", req: request{event: EventWorkflowRun, body: readTestdata(t, "workflow_run.unknown-action.json")},
			wantCode: 202, wantBody: `action "rerequested"`, wantResult: resultIgnored},
		{name: "unmatched run", req: request{event: EventWorkflowRun, body: readTestdata(t, "workflow_run.requested.action_required.json")},
			wantCode: 202, wantBody: "no cast tracks run 9100200999 of spell-platform/spellbook", wantResult: resultUnmatched},
		{name: "matched run", req: request{event: EventWorkflowRun, body: runCompleted},
			wantCode: 202, wantBody: "stored in 2 cast(s)", wantResult: resultAccepted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, tt.opts)
			event := tt.wantEvent
			if event == "" {
				event = tt.req.event
			}
			before := counter(t, event, tt.wantResult)
			code, body, header := h.do(t, tt.req)
			if code != tt.wantCode || !strings.Contains(body, tt.wantBody) {
				t.Errorf("got %d %q, want %d with %q", code, body, tt.wantCode, tt.wantBody)
			}
			if code == 405 && header.Get("Allow") != http.MethodPost {
				t.Errorf("Allow = %q, want POST", header.Get("Allow"))
			}
			if strings.Contains(body, string(testSecret)) || (tt.req.signature != nil && *tt.req.signature != "" && strings.Contains(body, *tt.req.signature)) {
				t.Errorf("body %q echoes the secret or the signature", body)
			}
			if got := counter(t, event, tt.wantResult) - before; got != 1 {
				t.Errorf("%s{event=%q,result=%q} grew by %v, want 1", "cast_operator_webhooks_received_total", event, tt.wantResult, got)
			}
			if tt.wantResult != resultAccepted && len(h.store.deliveries()) != 0 {
				t.Errorf("store got %v, want nothing", h.store.deliveries())
			}
		})
	}
}

func TestMatchedRunReachesEveryCast(t *testing.T) {
	h := newHarness(t, Options{})
	payload := readTestdata(t, "workflow_job.completed.json")
	want, err := Parse(EventWorkflowJob, payload)
	if err != nil {
		t.Fatal(err)
	}
	if code, body, _ := h.do(t, request{event: EventWorkflowJob, delivery: "d-job", body: payload}); code != 202 {
		t.Fatalf("got %d %q, want 202", code, body)
	}
	got := h.store.deliveries()
	if len(got) != 2 || got[0].cast != castA || got[1].cast != castB {
		t.Fatalf("delivered to %v, want %v and %v", got, castA, castB)
	}
	for _, d := range got {
		if !reflect.DeepEqual(d.obs, want.Observation) {
			t.Errorf("%v got %+v, want %+v", d.cast, *d.obs.Job, *want.Observation.Job)
		}
	}
}

func TestDuplicateDeliveryHandledOnce(t *testing.T) {
	h := newHarness(t, Options{})
	payload := readTestdata(t, "workflow_run.in_progress.json")
	before := counter(t, EventWorkflowRun, resultDuplicate)
	rq := request{event: EventWorkflowRun, delivery: "d-dup", body: payload}
	if code, body, _ := h.do(t, rq); code != 202 {
		t.Fatalf("first delivery: %d %q, want 202", code, body)
	}
	code, body, _ := h.do(t, rq)
	if code != 200 || !strings.Contains(body, "duplicate") {
		t.Errorf("redelivery: %d %q, want 200 duplicate", code, body)
	}
	if n := len(h.store.deliveries()); n != 2 { // once per Cast
		t.Errorf("store called %d times, want 2 (one delivery to two Casts)", n)
	}
	if got := counter(t, EventWorkflowRun, resultDuplicate) - before; got != 1 {
		t.Errorf("duplicate counter grew by %v, want 1", got)
	}
	// A different delivery of the same payload is news again.
	rq.delivery = "d-dup-2"
	if code, _, _ := h.do(t, rq); code != 202 {
		t.Errorf("second delivery ID: %d, want 202", code)
	}
}

func TestFailedDeliveryCanBeRedelivered(t *testing.T) {
	h := newHarness(t, Options{})
	h.index.setErr(errors.New("cache not synced"))
	rq := request{event: EventWorkflowRun, delivery: "d-503", body: readTestdata(t, "workflow_run.completed.json")}
	before := counter(t, EventWorkflowRun, resultError)
	code, body, _ := h.do(t, rq)
	if code != 503 {
		t.Fatalf("with a failing index: %d %q, want 503", code, body)
	}
	if strings.Contains(body, "cache not synced") {
		t.Errorf("body %q leaks the internal error", body)
	}
	if got := counter(t, EventWorkflowRun, resultError) - before; got != 1 {
		t.Errorf("error counter grew by %v, want 1", got)
	}
	if n := len(h.store.deliveries()); n != 0 {
		t.Fatalf("store called %d times after a failure", n)
	}
	h.index.setErr(nil)
	if code, body, _ := h.do(t, rq); code != 202 {
		t.Fatalf("redelivery: %d %q, want 202 (not a duplicate)", code, body)
	}
	if n := len(h.store.deliveries()); n != 2 {
		t.Errorf("store called %d times after redelivery, want 2", n)
	}
}

func TestUnmatchedDeliveryIsNotRemembered(t *testing.T) {
	h := newHarness(t, Options{})
	rq := request{event: EventWorkflowRun, delivery: "d-early", body: readTestdata(t, "workflow_run.requested.action_required.json")}
	if code, _, _ := h.do(t, rq); code != 202 || len(h.store.deliveries()) != 0 {
		t.Fatalf("got %d and %d deliveries, want 202 and none", code, len(h.store.deliveries()))
	}
	// The Cast records the run ID after the webhook arrived; GitHub redelivers.
	h.index.mu.Lock()
	h.index.casts[runKey(testRepo, 9100200999)] = []types.NamespacedName{castA}
	h.index.mu.Unlock()
	if code, body, _ := h.do(t, rq); code != 202 || !strings.Contains(body, "stored in 1") {
		t.Errorf("redelivery: %d %q, want stored in 1", code, body)
	}
}

func TestDeliveryIDsExpire(t *testing.T) {
	h := newHarness(t, Options{DeliveryTTL: time.Minute})
	clock := clocktesting.NewFakeClock(time.Now())
	h.r.deliveries = cache.NewLRUExpireCacheWithClock(10, clock)
	rq := request{event: EventWorkflowRun, delivery: "d-ttl", body: readTestdata(t, "workflow_run.completed.json")}
	h.do(t, rq)
	if code, _, _ := h.do(t, rq); code != 200 {
		t.Fatalf("within the TTL: %d, want 200 duplicate", code)
	}
	clock.Step(time.Minute + time.Second)
	if code, _, _ := h.do(t, rq); code != 202 {
		t.Errorf("after the TTL: %d, want 202 (forgotten)", code)
	}
}

func TestUnsignedRequestsNeverReachIndexOrSink(t *testing.T) {
	h := newHarness(t, Options{})
	h.do(t, request{event: EventWorkflowRun, body: readTestdata(t, "workflow_run.completed.json"), signature: ptr("sha256=" + strings.Repeat("0", 64))})
	h.do(t, request{event: EventWorkflowRun, body: readTestdata(t, "workflow_run.completed.json"), signature: ptr("")})
	if h.index.calls != 0 || len(h.store.deliveries()) != 0 {
		t.Errorf("index called %d times, sink %d times; want neither", h.index.calls, len(h.store.deliveries()))
	}
}

func TestFormEncodedHookIsRejected(t *testing.T) {
	h := newHarness(t, Options{})
	body := []byte("payload=%7B%7D")
	req, _ := http.NewRequest(http.MethodPost, h.srv.URL, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set(HeaderEvent, EventPing)
	req.Header.Set(HeaderSignature, Signature(testSecret, body))
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("got %d, want 415", resp.StatusCode)
	}
}

// A 2xx means stored: news the store could not keep gets a 503 GitHub shows
// in its delivery log, and stays redeliverable.
func TestUnstoredDeliveryIsNotAcknowledged(t *testing.T) {
	h := newHarness(t, Options{StoreTimeout: 300 * time.Millisecond})
	rq := request{event: EventWorkflowRun, delivery: "d-unstored", body: readTestdata(t, "workflow_run.completed.json")}
	for _, tt := range []struct {
		name string
		err  error
		hang bool
	}{
		{"the API server refuses", errors.New("etcdserver: request timed out"), false},
		{"the API server is slower than GitHub's patience", nil, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h.store.set(tt.err, tt.hang)
			start := time.Now()
			code, body, _ := h.do(t, rq)
			if code != http.StatusServiceUnavailable || !strings.Contains(body, "storing the delivery failed") {
				t.Errorf("got %d %q, want 503 storing the delivery failed", code, body)
			}
			if strings.Contains(body, "etcdserver") {
				t.Errorf("body %q leaks the internal error", body)
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("answered after %v, past the store timeout of 300ms", took)
			}
		})
	}
	h.store.set(nil, false)
	if code, body, _ := h.do(t, rq); code != http.StatusAccepted || !strings.Contains(body, "stored in 2 cast(s)") {
		t.Errorf("redelivery once the store works: %d %q, want 202 stored in 2 cast(s)", code, body)
	}
}
