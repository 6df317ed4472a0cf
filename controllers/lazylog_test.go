package controllers

import (
	"errors"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// countingSink counts the values applied to it, to show a quiet
// reconcile's logger applies none.
type countingSink struct {
	logr.LogSink
	withValues *int
}

func (s countingSink) WithValues(kvs ...any) logr.LogSink {
	*s.withValues++
	return countingSink{LogSink: s.LogSink.WithValues(kvs...), withValues: s.withValues}
}

func TestRequestLoggersWriteTheDefaultValuesInOrder(t *testing.T) {
	var lines []string
	base := funcr.New(func(prefix, args string) { lines = append(lines, prefix+" "+args) }, funcr.Options{Verbosity: 1})
	req := &reconcile.Request{NamespacedName: types.NamespacedName{Namespace: "ns", Name: "c1"}}
	log := requestLoggers(base)(req).WithValues("reconcileID", "r-1")
	log.V(1).Info("run observation ignored", "run", 7)
	log.WithName("sub").Error(errors.New("boom"), "failed", "k", "v")
	log.V(2).Info("not written")
	if len(lines) != 2 {
		t.Fatalf("got %d lines, want 2: %q", len(lines), lines)
	}
	want := `"controller"="cast" "controllerGroup"="spell.dev" "controllerKind"="Cast" "Cast"={"name"="c1" "namespace"="ns"} "namespace"="ns" "name"="c1" "reconcileID"="r-1"`
	for _, l := range lines {
		if !strings.Contains(l, want) {
			t.Errorf("line %q lacks the request's values in order: %s", l, want)
		}
	}
	if !strings.Contains(lines[0], `"run"=7`) || !strings.Contains(lines[1], `"error"="boom"`) || !strings.HasPrefix(lines[1], "sub ") {
		t.Errorf("lines lost their own values or name: %q", lines)
	}
	if got := requestLoggers(base)(nil); !got.Enabled() {
		t.Error("the controller's own logger is disabled")
	}
}

func TestRequestLoggersApplyNothingUntilALineIsWritten(t *testing.T) {
	n := 0
	sink := countingSink{LogSink: funcr.New(func(string, string) {}, funcr.Options{}).GetSink(), withValues: &n}
	newLog := requestLoggers(logr.New(sink))
	n = 0
	log := newLog(&reconcile.Request{NamespacedName: types.NamespacedName{Namespace: "ns", Name: "c1"}}).WithValues("reconcileID", "r-1")
	log.V(5).Info("Reconciling")
	if n != 0 {
		t.Fatalf("a reconcile that wrote nothing applied values %d times", n)
	}
	log.Info("written")
	if n != 1 {
		t.Fatalf("a written line applied values %d times, want once", n)
	}
}
