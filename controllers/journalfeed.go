package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/spell-platform/cast-operator/controllers/journal"
)

// JournalFeed hands the leader's reconciler the news every replica's
// receiver stored in the webhook journal, and deletes each batch once
// every Cast it names holds its news. It runs only on the leader: when a
// replica starts leading, its cache lists the batches left behind, so news
// a dead leader never applied is applied now.
type JournalFeed struct {
	// Cache holds the journal's ConfigMaps (and only them: see
	// JournalCache).
	Cache cache.Informers
	// Client deletes applied batches.
	Client client.Writer
	// Namespace is the journal's.
	Namespace string
	// Inbox takes the news to the reconciler.
	Inbox *Inbox
	// Activity hears, from the journal, which repositories' webhooks
	// deliver, whichever replica received them.
	Activity *WebhookActivity
}

// NeedLeaderElection is true: only the leader writes status.
func (f *JournalFeed) NeedLeaderElection() bool { return true }

// Start feeds the inbox until ctx ends.
func (f *JournalFeed) Start(ctx context.Context) error {
	inf, err := f.Cache.GetInformer(ctx, &corev1.ConfigMap{})
	if err != nil {
		return fmt.Errorf("getting the webhook journal informer: %w", err)
	}
	reg, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { f.add(ctx, obj) },
		UpdateFunc: func(_, obj any) { f.add(ctx, obj) },
		DeleteFunc: func(obj any) {
			if tomb, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
				obj = tomb.Obj
			}
			if cm, ok := obj.(*corev1.ConfigMap); ok {
				f.Inbox.BatchDeleted(cm.Name)
			}
		},
	})
	if err != nil {
		return fmt.Errorf("watching the webhook journal: %w", err)
	}
	defer func() { _ = inf.RemoveEventHandler(reg) }()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-f.Inbox.Signal():
			for _, batch := range f.Inbox.AppliedBatches() {
				f.delete(ctx, batch)
			}
		}
	}
}

func (f *JournalFeed) add(ctx context.Context, obj any) {
	cm, ok := obj.(*corev1.ConfigMap)
	if !ok || cm.Namespace != f.Namespace || !journal.IsBatch(cm) {
		return
	}
	entries, err := journal.Decode(cm)
	if err != nil {
		// Not written by this version of the operator, or damaged: it can
		// never be applied, and keeping it would replay the error at every
		// takeover.
		logf.FromContext(ctx).Error(err, "webhook journal batch unreadable, deleting it", "batch", cm.Name)
		f.delete(ctx, cm.Name)
		return
	}
	if f.Activity != nil {
		for _, e := range entries {
			f.Activity.Heard(e.Repository)
		}
	}
	f.Inbox.DeliverBatch(cm.Name, entries)
}

// delete removes an applied batch, and tries again later if that fails; a
// batch left behind only costs the next leader a harmless replay.
func (f *JournalFeed) delete(ctx context.Context, batch string) {
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: f.Namespace, Name: batch}}
	err := f.Client.Delete(ctx, cm)
	switch {
	case err == nil || apierrors.IsNotFound(err):
		f.Inbox.BatchDeleted(batch)
	case errors.Is(err, context.Canceled):
	default:
		logf.FromContext(ctx).Error(err, "deleting an applied webhook journal batch failed; trying again", "batch", batch, "in", deleteRetry)
		time.AfterFunc(deleteRetry, func() { f.Inbox.Retry(batch) })
	}
}

// deleteRetry spaces attempts to delete an applied batch.
const deleteRetry = 5 * time.Second

// JournalCache restricts the manager's cache of ConfigMaps to the
// journal's, in its namespace: the operator has no business with others.
func JournalCache(namespace string) cache.ByObject {
	return cache.ByObject{
		Namespaces: map[string]cache.Config{namespace: {}},
		Label:      journal.Selector(),
	}
}
