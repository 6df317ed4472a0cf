package controllers

import (
	"context"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// inFlight counts the status writes a client sends at once; each is held
// a moment, so writes the controller would send together do overlap.
type inFlight struct {
	mu          sync.Mutex
	now, most   int
	total       int
	holdEachFor time.Duration
}

func (f *inFlight) wrap(c client.Client) client.Client { return statusCounting{Client: c, f: f} }

type statusCounting struct {
	client.Client
	f *inFlight
}

func (c statusCounting) Status() client.SubResourceWriter {
	return countedWrites{SubResourceWriter: c.Client.Status(), f: c.f}
}

type countedWrites struct {
	client.SubResourceWriter
	f *inFlight
}

func (w countedWrites) Update(ctx context.Context, obj client.Object, opts ...client.SubResourceUpdateOption) error {
	f := w.f
	f.mu.Lock()
	f.now++
	f.total++
	f.most = max(f.most, f.now)
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.now--
		f.mu.Unlock()
	}()
	time.Sleep(f.holdEachFor)
	return w.SubResourceWriter.Update(ctx, obj, opts...)
}

func (f *inFlight) counts() (most, total int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.most, f.total
}

var _ = Describe("Status writes", func() {
	It("sends one Cast status write at a time by default, while several Casts have news at once", func() {
		writes := &inFlight{holdEachFor: 30 * time.Millisecond}
		stopTheManager()
		startManagerWith(managerOptions{wrapClient: writes.wrap})
		DeferCleanup(func() { stopTheManager(); startManager() })

		// Twelve Casts attach to running runs at once: each needs status
		// writes, and the reconciler's four workers would send them together.
		runningCasts("writes-org", 12, 7300)
		most, total := writes.counts()
		Expect(total).To(BeNumerically(">=", 12), "status writes for 12 Casts")
		Expect(most).To(Equal(1), "status writes in flight at once")
	})
})
