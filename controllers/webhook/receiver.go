// Package webhook receives GitHub's workflow_run and workflow_job webhooks
// and stores them as runstatus observations for the Casts they concern.
// Webhooks make Cast status follow a run within seconds without polling
// the GitHub API. The receiver answers 2xx only once the news is stored
// through the API server (the journal): GitHub never redelivers what it
// saw succeed.
package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/cache"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/spell-platform/cast-operator/controllers/runstatus"
	"github.com/spell-platform/cast-operator/internal/httpserve"
)

// Index finds the Casts that track a run (a field index on status.runID +
// repository behind it). It must answer from a local cache: it runs inside
// GitHub's 10 second delivery timeout.
type Index interface {
	CastsForRun(ctx context.Context, repository string, runID int64) ([]CastRef, error)
}

// CastRef names a Cast, with the UID the index knew it by: news stored for
// a Cast must never reach another created later under its name.
type CastRef struct {
	types.NamespacedName
	UID types.UID
}

// Store keeps a delivery's observation for the Casts it concerns. Store
// returns nil only once the observation is stored durably, through the API
// server; it gives up with an error when ctx ends. It may see the same
// observation twice (concurrent redeliveries of one delivery ID are not
// serialised), which is harmless because merging an observation is
// idempotent.
type Store interface {
	Store(ctx context.Context, repository string, casts []CastRef, obs runstatus.Observation) error
}

// Options configures a Receiver. Zero values take the defaults below,
// except Secret, without which no request could be trusted.
type Options struct {
	// BindAddress is host:port for Start, e.g. ":8082".
	BindAddress string
	// Path is where GitHub posts; default "/webhooks/github".
	Path string
	// Secret is the webhook's HMAC secret, as configured on GitHub.
	Secret []byte
	// MaxBodyBytes bounds a payload; GitHub caps payloads at 25 MiB,
	// the default.
	MaxBodyBytes int64
	// DeliveryTTL is how long handled delivery IDs are remembered to drop
	// redeliveries; default 1h.
	DeliveryTTL time.Duration
	// MaxDeliveries bounds the remembered delivery IDs; default 10000.
	MaxDeliveries int
	// ShutdownTimeout bounds how long open requests may finish after the
	// manager stops; default 10s.
	ShutdownTimeout time.Duration
	// StoreTimeout bounds finding and storing one delivery's news;
	// default DefaultStoreTimeout.
	StoreTimeout time.Duration
	// OnDelivery, if set, hears the repository of every verified workflow
	// delivery, matched to a Cast or not: proof that the repository's
	// webhook works, so its Casts need only a slow safety-net resync.
	OnDelivery func(repository string)
}

// Defaults for Options.
const (
	DefaultPath = "/webhooks/github"
	// DefaultShutdownTimeout: GitHub waits 10 s for an answer; longer helps no delivery.
	DefaultShutdownTimeout = 10 * time.Second
	DefaultMaxBodyBytes    = 25 << 20
	DefaultDeliveryTTL     = time.Hour
	DefaultMaxDeliveries   = 10000
)

// Request headers GitHub sets on every delivery.
const (
	HeaderEvent     = "X-GitHub-Event"
	HeaderDelivery  = "X-GitHub-Delivery"
	HeaderSignature = "X-Hub-Signature-256"
)

// DefaultStoreTimeout bounds looking up and storing one delivery, within
// GitHub's 10 s: past it the receiver answers 503 while GitHub still
// listens, so the delivery shows as failed in GitHub's log (where it can be
// redelivered by hand) and the resync covers it.
const DefaultStoreTimeout = 8 * time.Second

// Receiver is the webhook endpoint: an http.Handler for tests and custom
// muxes, and a manager.Runnable that serves it on its own port.
type Receiver struct {
	opts       Options
	secret     []byte
	index      Index
	store      Store
	deliveries *cache.LRUExpireCache
}

// New checks opts so a misconfigured receiver fails at startup instead of
// rejecting every delivery.
func New(opts Options, index Index, store Store) (*Receiver, error) {
	if len(opts.Secret) == 0 {
		return nil, errors.New("webhook receiver: a secret is required to verify X-Hub-Signature-256")
	}
	if index == nil || store == nil {
		return nil, errors.New("webhook receiver: index and store are required")
	}
	if opts.Path == "" {
		opts.Path = DefaultPath
	}
	if !strings.HasPrefix(opts.Path, "/") {
		return nil, fmt.Errorf("webhook receiver: path %q must start with /", opts.Path)
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.DeliveryTTL <= 0 {
		opts.DeliveryTTL = DefaultDeliveryTTL
	}
	if opts.MaxDeliveries <= 0 {
		opts.MaxDeliveries = DefaultMaxDeliveries
	}
	if opts.ShutdownTimeout <= 0 {
		opts.ShutdownTimeout = DefaultShutdownTimeout
	}
	if opts.StoreTimeout <= 0 {
		opts.StoreTimeout = DefaultStoreTimeout
	}
	// Keep a private copy so neither the caller nor a printed Options value
	// can change or reveal the secret later.
	secret := slices.Clone(opts.Secret)
	opts.Secret = nil
	return &Receiver{
		opts:       opts,
		secret:     secret,
		index:      index,
		store:      store,
		deliveries: cache.NewLRUExpireCache(opts.MaxDeliveries),
	}, nil
}

// Signature returns the X-Hub-Signature-256 header value ("sha256=<hex>")
// for body, the way GitHub computes it; for tests, benchmarks and docs.
func Signature(secret, body []byte) string {
	return "sha256=" + hex.EncodeToString(mac(secret, body))
}

func mac(secret, body []byte) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write(body)
	return h.Sum(nil)
}

var errSignatureMismatch = errors.New("signature does not match")

// verifySignature compares in constant time so response timing reveals
// nothing about the expected signature.
func verifySignature(secret, body []byte, header string) error {
	hexSig, ok := strings.CutPrefix(header, "sha256=")
	if !ok {
		return errors.New("malformed X-Hub-Signature-256: want sha256=<hex>")
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil || len(got) != sha256.Size {
		return errors.New("malformed X-Hub-Signature-256: want sha256=<64 hex digits>")
	}
	if !hmac.Equal(got, mac(secret, body)) {
		return errSignatureMismatch
	}
	return nil
}

// outcome is one request's answer, counted and logged in one place so every
// request is counted exactly once.
type outcome struct {
	code   int
	result string
	msg    string
	err    error // internal cause, logged but never sent
	keys   []any // log key/values learnt while handling
}

// ServeHTTP answers every delivery quickly and with a short text reason:
// GitHub shows the reason in the hook's delivery log, which is where people
// look when status does not move.
func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	out := r.handle(w, req)
	receivedTotal.WithLabelValues(eventLabel(req.Header.Get(HeaderEvent)), out.result).Inc()

	log := logf.FromContext(req.Context()).WithName("webhook")
	keys := append([]any{"result", out.result, "status", out.code}, out.keys...)
	switch out.result {
	case resultError:
		log.Error(out.err, "webhook delivery failed", keys...)
	case resultInvalid, resultUnauthorized, resultTooLarge:
		log.Info("webhook delivery rejected", append(keys, "reason", out.msg, "remoteAddr", req.RemoteAddr)...)
	default:
		log.V(1).Info("webhook delivery handled", append(keys, "reason", out.msg)...)
	}

	if out.code == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", http.MethodPost)
	}
	httpserve.WriteText(w, out.code, out.msg)
}

func (r *Receiver) handle(w http.ResponseWriter, req *http.Request) outcome {
	if req.Method != http.MethodPost {
		return outcome{code: http.StatusMethodNotAllowed, result: resultInvalid, msg: "only POST is allowed"}
	}
	if ct, _, _ := mime.ParseMediaType(req.Header.Get("Content-Type")); ct == "application/x-www-form-urlencoded" {
		return outcome{code: http.StatusUnsupportedMediaType, result: resultInvalid,
			msg: "webhook content type must be application/json"}
	}
	// Refuse unsigned requests before reading a byte of their body.
	sig := req.Header.Get(HeaderSignature)
	if sig == "" {
		return outcome{code: http.StatusUnauthorized, result: resultUnauthorized, msg: "missing " + HeaderSignature}
	}
	tooLarge := outcome{code: http.StatusRequestEntityTooLarge, result: resultTooLarge,
		msg: fmt.Sprintf("payload larger than %d bytes", r.opts.MaxBodyBytes)}
	if req.ContentLength > r.opts.MaxBodyBytes {
		return tooLarge
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, r.opts.MaxBodyBytes))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return tooLarge
		}
		return outcome{code: http.StatusBadRequest, result: resultInvalid, msg: "reading the payload failed", err: err}
	}
	if err := verifySignature(r.secret, body, sig); err != nil {
		return outcome{code: http.StatusUnauthorized, result: resultUnauthorized, msg: err.Error()}
	}

	// From here on the request is GitHub's, so its headers may be logged.
	eventType, delivery := req.Header.Get(HeaderEvent), req.Header.Get(HeaderDelivery)
	keys := []any{"delivery", delivery, "event", eventType}
	if delivery != "" {
		if _, seen := r.deliveries.Get(delivery); seen {
			return outcome{code: http.StatusOK, result: resultDuplicate, msg: "duplicate delivery, already handled", keys: keys}
		}
	}
	if eventType == EventPing {
		return outcome{code: http.StatusOK, result: resultIgnored, msg: "pong", keys: keys}
	}

	ev, err := Parse(eventType, body)
	switch {
	case errors.Is(err, ErrIgnored):
		return outcome{code: http.StatusAccepted, result: resultIgnored, msg: err.Error(), keys: keys}
	case err != nil:
		return outcome{code: http.StatusBadRequest, result: resultInvalid, msg: err.Error(), keys: keys}
	}
	keys = append(keys, "action", ev.Action, "repository", ev.Repository, "runID", ev.RunID)
	if r.opts.OnDelivery != nil {
		r.opts.OnDelivery(ev.Repository)
	}

	ctx, cancel := context.WithTimeout(req.Context(), r.opts.StoreTimeout)
	defer cancel()
	casts, err := r.index.CastsForRun(ctx, ev.Repository, ev.RunID)
	if err != nil {
		return outcome{code: http.StatusServiceUnavailable, result: resultError,
			msg: "looking up casts failed, redeliver later", err: err, keys: keys}
	}
	if len(casts) == 0 {
		// Not remembered: the Cast may record this run ID a moment later,
		// and a redelivery should then get through.
		return outcome{code: http.StatusAccepted, result: resultUnmatched,
			msg: fmt.Sprintf("no cast tracks run %d of %s", ev.RunID, ev.Repository), keys: keys}
	}
	if err := r.store.Store(ctx, ev.Repository, casts, ev.Observation); err != nil {
		return outcome{code: http.StatusServiceUnavailable, result: resultError,
			msg: "storing the delivery failed, redeliver later", err: err, keys: keys}
	}
	// Remember only what had an effect; failed and ignored deliveries stay
	// redeliverable.
	if delivery != "" {
		r.deliveries.Add(delivery, struct{}{}, r.opts.DeliveryTTL)
	}
	return outcome{code: http.StatusAccepted, result: resultAccepted,
		msg: fmt.Sprintf("stored in %d cast(s)", len(casts)), keys: append(keys, "casts", len(casts))}
}
