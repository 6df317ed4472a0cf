package controllers

import (
	"github.com/go-logr/logr"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// requestLoggers builds each reconcile's logger with the same values as
// controller-runtime's default (controller, group, kind, the Cast, its
// namespace and name, and the reconcile ID it adds), but applies the
// per-request values only when a line is written. zap encodes values as
// soon as they are added: with 10,000 idle Casts that was a sixth of the
// controller's CPU, spent on loggers that almost never write.
func requestLoggers(base logr.Logger) func(*reconcile.Request) logr.Logger {
	base = base.WithValues("controller", "cast", "controllerGroup", "spell.dev", "controllerKind", "Cast")
	// One frame more between the caller and the real sink: lazySink's.
	sink := base.GetSink()
	if cd, ok := sink.(logr.CallDepthLogSink); ok {
		sink = cd.WithCallDepth(1)
	}
	return func(req *reconcile.Request) logr.Logger {
		if req == nil {
			return base
		}
		return logr.New(&lazySink{base: sink, kvs: []any{
			"Cast", klog.KRef(req.Namespace, req.Name), "namespace", req.Namespace, "name", req.Name,
		}})
	}
}

// lazySink holds key/value pairs back from base until a line is written.
type lazySink struct {
	base logr.LogSink
	kvs  []any
}

var _ logr.CallDepthLogSink = (*lazySink)(nil)

// Init does not pass the call depth on: base was initialised by its own
// logger, and the frame lazySink adds is counted in requestLoggers.
func (s *lazySink) Init(logr.RuntimeInfo) {}

func (s *lazySink) Enabled(level int) bool { return s.base.Enabled(level) }

func (s *lazySink) Info(level int, msg string, kvs ...any) {
	s.bound().Info(level, msg, kvs...)
}

func (s *lazySink) Error(err error, msg string, kvs ...any) {
	s.bound().Error(err, msg, kvs...)
}

// bound is base with the held values applied, in the order they came.
func (s *lazySink) bound() logr.LogSink {
	if len(s.kvs) == 0 {
		return s.base
	}
	return s.base.WithValues(s.kvs...)
}

func (s *lazySink) WithValues(kvs ...any) logr.LogSink {
	all := make([]any, 0, len(s.kvs)+len(kvs))
	return &lazySink{base: s.base, kvs: append(append(all, s.kvs...), kvs...)}
}

// WithName applies the held values first, so they keep their place
// before the ones added under the new name.
func (s *lazySink) WithName(name string) logr.LogSink {
	return &lazySink{base: s.bound().WithName(name)}
}

func (s *lazySink) WithCallDepth(depth int) logr.LogSink {
	cd, ok := s.base.(logr.CallDepthLogSink)
	if !ok {
		return s
	}
	return &lazySink{base: cd.WithCallDepth(depth), kvs: s.kvs}
}
