package controllers

import (
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/spell-platform/cast-operator/controllers/ghapi"
)

// retryLater turns a GitHub error into a requeue: after the rate-limit reset
// or Retry-After GitHub asked for, otherwise through the controller's
// exponential backoff, so an outage never becomes a hot loop.
func retryLater(err error) (ctrl.Result, error) {
	if after := ghapi.RetryAfter(err); after > 0 {
		return ctrl.Result{RequeueAfter: after}, nil
	}
	return ctrl.Result{}, err
}
