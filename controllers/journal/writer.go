package journal

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/spell-platform/cast-operator/controllers/runstatus"
	"github.com/spell-platform/cast-operator/controllers/webhook"
)

// Bounds on one batch: a ConfigMap holds at most 1 MiB, and a batch that is
// written while the next fills should stay quick to write and to read.
const (
	maxBatchBytes   = 512 << 10
	maxBatchEntries = 1000
)

// Writer appends deliveries to the journal with group commit: a few
// creates at a time, each carrying every delivery that arrived while the
// earlier ones were in flight. Under load a write serves many deliveries;
// at rest a delivery waits for one write. It runs on every replica (a
// manager.Runnable that needs no leadership).
type Writer struct {
	client    client.Writer
	namespace string

	mu      sync.Mutex
	pending []*appendReq
	kick    chan struct{}
}

type appendReq struct {
	raw  []json.RawMessage
	size int
	done chan error
}

// NewWriter writes batches into namespace with c.
func NewWriter(c client.Writer, namespace string) *Writer {
	return &Writer{client: c, namespace: namespace, kick: make(chan struct{}, 1)}
}

// Store appends the delivery's news for each Cast and returns once the
// batch holding it is stored, or with an error once ctx ends or the write
// failed: then the news may or may not be stored, and the receiver must
// not answer 2xx.
func (w *Writer) Store(ctx context.Context, repository string, casts []webhook.CastRef, obs runstatus.Observation) error {
	req := &appendReq{done: make(chan error, 1)}
	for _, c := range casts {
		b, err := json.Marshal(Entry{Namespace: c.Namespace, Name: c.Name, UID: c.UID, Repository: repository, Observation: obs})
		if err != nil {
			return fmt.Errorf("encoding webhook journal entry: %w", err)
		}
		req.raw = append(req.raw, b)
		req.size += len(b) + 1
	}
	w.mu.Lock()
	w.pending = append(w.pending, req)
	w.mu.Unlock()
	select {
	case w.kick <- struct{}{}:
	default:
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("storing webhook news in the journal: %w", context.Cause(ctx))
	}
}

// Start writes batches until ctx ends; appends still waiting then fail.
// Up to maxInFlight batches are written at once: a write mostly waits for
// etcd to sync its log, which concurrent writes share.
func (w *Writer) Start(ctx context.Context) error {
	slots := make(chan struct{}, maxInFlight)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		select {
		case <-ctx.Done():
			w.failPending(ctx.Err())
			return nil
		case <-w.kick:
		}
		for {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				w.failPending(ctx.Err())
				return nil
			}
			batch := w.take()
			if len(batch) == 0 {
				<-slots
				break
			}
			wg.Go(func() {
				err := w.commit(ctx, batch)
				for _, r := range batch {
					r.done <- err
				}
				<-slots
				// Appends that queued while every slot was busy.
				select {
				case w.kick <- struct{}{}:
				default:
				}
			})
		}
	}
}

// maxInFlight bounds the batches being written at once.
const maxInFlight = 4

// NeedLeaderElection is false: every replica receives webhooks.
func (w *Writer) NeedLeaderElection() bool { return false }

// take removes the next batch's appends from the queue, in arrival order.
func (w *Writer) take() []*appendReq {
	w.mu.Lock()
	defer w.mu.Unlock()
	size, entries, n := 0, 0, 0
	for _, r := range w.pending {
		if n > 0 && (size+r.size > maxBatchBytes || entries+len(r.raw) > maxBatchEntries) {
			break
		}
		size, entries, n = size+r.size, entries+len(r.raw), n+1
	}
	batch := w.pending[:n:n]
	w.pending = w.pending[n:]
	return batch
}

func (w *Writer) failPending(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, r := range w.pending {
		r.done <- err
	}
	w.pending = nil
}

// commitAttempts bounds retries of a batch whose create failed in a way
// worth retrying (the API server briefly overloaded or unreachable); each
// append's own deadline bounds how long its caller waits.
const commitAttempts = 4

func (w *Writer) commit(ctx context.Context, batch []*appendReq) error {
	var buf bytes.Buffer
	buf.WriteByte('[')
	for _, r := range batch {
		for _, raw := range r.raw {
			if buf.Len() > 1 {
				buf.WriteByte(',')
			}
			buf.Write(raw)
		}
	}
	buf.WriteByte(']')
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: w.namespace, GenerateName: namePrefix, Labels: map[string]string{Label: LabelValue}},
		Data:       map[string]string{DataKey: buf.String()},
	}
	delay := 50 * time.Millisecond
	var err error
	for attempt := 1; ; attempt++ {
		err = w.create(ctx, cm.DeepCopy())
		if err == nil || attempt == commitAttempts || !retriable(err) {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("writing webhook journal batch: %w", ctx.Err())
		case <-time.After(delay):
		}
		delay *= 2
	}
	if err != nil {
		return fmt.Errorf("writing webhook journal batch in %s: %w", w.namespace, err)
	}
	return nil
}

// commitTimeout bounds one create: a connection that hangs must not hold a
// slot for longer than any delivery waiting on it could wait.
const commitTimeout = webhook.DefaultStoreTimeout

func (w *Writer) create(ctx context.Context, cm *corev1.ConfigMap) error {
	ctx, cancel := context.WithTimeout(ctx, commitTimeout)
	defer cancel()
	return w.client.Create(ctx, cm)
}

// retriable: an API server that is slow, overloaded or briefly unreachable
// may take the next try; a refusal (forbidden, invalid, namespace gone) will
// refuse it again.
func retriable(err error) bool {
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		return true
	}
	return apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) || apierrors.IsTooManyRequests(err) ||
		apierrors.IsServiceUnavailable(err) || apierrors.IsInternalError(err) || apierrors.IsAlreadyExists(err)
}
