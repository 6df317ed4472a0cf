package streamer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/streamer/auth"
	"github.com/spell-platform/cast-operator/streamer/wire"
)

// maxActionBody bounds an action's JSON body: {"failedOnly": true} is tiny.
const maxActionBody = 4 << 10

// actionVerb is what RBAC must allow for an action: cancel and re-run are
// patches of the Cast's spec, as `kubectl patch` would send.
const actionVerb = "patch"

// fieldManager names the streamer's patches in managedFields.
const fieldManager = "cast-streamer"

var castsGVR = schema.GroupVersionResource{Group: castv1alpha1.GroupVersion.Group,
	Version: castv1alpha1.GroupVersion.Version, Resource: "casts"}

// userConfig is the streamer's API server connection with its own
// credentials removed; each action adds the caller's token, so the API
// server's RBAC, admission and audit log see the caller, never the
// streamer, which has no write rights of its own. Nil when Options has no
// RESTConfig: actions are then refused as not configured.
func userConfig(base *rest.Config) *rest.Config {
	if base == nil {
		return nil
	}
	return rest.AnonymousClientConfig(base)
}

// castActions answers GET .../casts/{name}/actions: which buttons the
// caller should see, asked of SubjectAccessReview for patch on casts.
func (s *Server) castActions(w http.ResponseWriter, r *http.Request, c call) {
	snap, ok := s.snapshot(w, c.req.scope)
	if !ok {
		return
	}
	out := wire.Actions{User: c.id.User.GetName()}
	mayPatch := "" // why not, or "" when allowed
	switch err := s.authz.AuthorizeVerb(r.Context(), c.id.User, actionVerb, c.req.scope); {
	case s.userCfg == nil:
		mayPatch = "this streamer is not configured to act on Casts"
	case errors.Is(err, auth.ErrForbidden):
		mayPatch = fmt.Sprintf("you may not change Casts in namespace %s", c.req.scope.Namespace)
	case err != nil:
		logf.FromContext(r.Context()).Error(err, "access review failed", "user", c.id.User.GetName())
		writeActionError(w, http.StatusServiceUnavailable, "Unavailable", "cannot check permissions right now, retry shortly")
		return
	}
	out.Cancel, out.Rerun, out.RerunFailed = permissions(snap, mayPatch)
	b, _ := json.Marshal(out)
	writeJSON(w, b)
}

// permissions says which actions fit a Cast in its current state, for a
// caller who may patch it unless denied says why not.
func permissions(snap wire.Snapshot, denied string) (cancel, rerun, rerunFailed wire.Permission) {
	if denied != "" {
		no := wire.Permission{Reason: denied}
		return no, no, no
	}
	if !snap.Status.IsTerminal() {
		wait := wire.Permission{Reason: "the Cast is still going: cancel it first, or wait for it to finish"}
		return wire.Permission{Allowed: true}, wait, wait
	}
	cancel = wire.Permission{Reason: fmt.Sprintf("the Cast already finished as %s: there is nothing to cancel", snap.Status)}
	if snap.RunID == 0 {
		never := wire.Permission{Reason: "the Cast has no workflow run to re-run: create a new Cast from its spec instead"}
		return cancel, never, never
	}
	rerun = wire.Permission{Allowed: true}
	rerunFailed = rerun
	if snap.Status == castv1alpha1.PhaseSucceeded {
		rerunFailed = wire.Permission{Reason: "the run succeeded: no job failed"}
	}
	return cancel, rerun, rerunFailed
}

// cancelCast answers POST .../casts/{name}/cancel by setting spec.cancel
// for the attempt the Cast is at, with the caller's own token.
func (s *Server) cancelCast(w http.ResponseWriter, r *http.Request, c call) {
	if _, ok := readActionBody[struct{}](w, r); !ok {
		return
	}
	s.act(w, r, c, wire.ActionCancel, func(snap wire.Snapshot, user string) (int64, any) {
		attempt := max(snap.RunAttempt, 1)
		return attempt, castv1alpha1.CancelRequest{RequestedBy: user, Attempt: attempt}
	})
}

// rerunCast answers POST .../casts/{name}/rerun ({"failedOnly": bool}) by
// setting spec.rerun after the Cast's latest attempt.
func (s *Server) rerunCast(w http.ResponseWriter, r *http.Request, c call) {
	in, ok := readActionBody[wire.RerunRequest](w, r)
	if !ok {
		return
	}
	action := wire.ActionRerun
	if in.FailedOnly {
		action = wire.ActionRerunFailed
	}
	s.act(w, r, c, action, func(snap wire.Snapshot, user string) (int64, any) {
		attempt := max(snap.RunAttempt, 1)
		return attempt, castv1alpha1.RerunRequest{RequestedBy: user, AfterAttempt: attempt, FailedOnly: in.FailedOnly}
	})
}

// act checks that the caller may patch the Cast, patches spec.cancel or
// spec.rerun (the field named after the action) as the caller, and writes
// one audit line whatever the outcome.
func (s *Server) act(w http.ResponseWriter, r *http.Request, c call, action wire.Action,
	request func(snap wire.Snapshot, user string) (int64, any)) {
	user, sc := c.id.User.GetName(), c.req.scope
	log := logf.FromContext(r.Context())
	audit := func(result string, status int) {
		log.Info("cast action", "user", user, "action", string(action), "namespace", sc.Namespace, "name", sc.Name,
			"result", result, "status", status, "ip", s.clientIP(r))
	}
	verb := "cancel"
	if action != wire.ActionCancel {
		verb = "re-run"
	}
	if s.userCfg == nil {
		audit("NotConfigured", http.StatusNotImplemented)
		writeActionError(w, http.StatusNotImplemented, "NotConfigured", "this streamer is not configured to act on Casts")
		return
	}
	switch err := s.authz.AuthorizeVerb(r.Context(), c.id.User, actionVerb, sc); {
	case errors.Is(err, auth.ErrForbidden):
		audit("Forbidden", http.StatusForbidden)
		writeActionError(w, http.StatusForbidden, "Forbidden", fmt.Sprintf("you may not %s Casts in namespace %s (%s)", verb, sc.Namespace, err))
		return
	case err != nil:
		log.Error(err, "access review failed", "user", user)
		audit("Unavailable", http.StatusServiceUnavailable)
		writeActionError(w, http.StatusServiceUnavailable, "Unavailable", "cannot check permissions right now, retry shortly")
		return
	}
	snap, ok := s.snapshot(w, sc)
	if !ok {
		audit("NotFound", http.StatusNotFound)
		return
	}
	attempt, req := request(snap, user)
	field := "cancel"
	if action != wire.ActionCancel {
		field = "rerun"
	}
	patch, err := json.Marshal(map[string]any{"spec": map[string]any{field: req}})
	if err != nil {
		audit("Error", http.StatusInternalServerError)
		writeActionError(w, http.StatusInternalServerError, "InternalError", "cannot encode the patch")
		return
	}
	cred, _ := s.credential(r)
	if err := s.patchAsUser(r.Context(), cred.token, sc, patch); err != nil {
		status, reason, msg := apiRefusal(err, verb, sc)
		if status >= http.StatusInternalServerError {
			log.Error(err, "patching a cast as its user failed", "user", user, "namespace", sc.Namespace, "name", sc.Name)
		}
		audit(reason, status)
		writeActionError(w, status, reason, msg)
		return
	}
	audit("Accepted", http.StatusOK)
	b, _ := json.Marshal(wire.ActionResult{Action: action, Namespace: sc.Namespace, Name: sc.Name, RequestedBy: user, Attempt: attempt})
	writeJSON(w, b)
}

// patchAsUser sends a merge patch of the Cast with token as the only
// credential.
func (s *Server) patchAsUser(ctx context.Context, token string, sc auth.Scope, patch []byte) error {
	cfg := rest.CopyConfig(s.userCfg)
	cfg.BearerToken = token
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("building a client with the caller's token: %w", err)
	}
	_, err = dyn.Resource(castsGVR).Namespace(sc.Namespace).Patch(ctx, sc.Name, types.MergePatchType, patch,
		metav1.PatchOptions{FieldManager: fieldManager})
	if err != nil {
		return fmt.Errorf("patching cast %s/%s: %w", sc.Namespace, sc.Name, err)
	}
	return nil
}

// apiRefusal turns the API server's answer into the caller's: its own
// words (a CEL rule's message, RBAC's refusal) with a status code to match.
func apiRefusal(err error, verb string, sc auth.Scope) (status int, reason, msg string) {
	var se apierrors.APIStatus
	if !errors.As(err, &se) {
		return http.StatusBadGateway, "Unavailable", "the API server could not be asked; retry shortly"
	}
	st := se.Status()
	switch {
	case apierrors.IsForbidden(err):
		return http.StatusForbidden, "Forbidden", fmt.Sprintf("you may not %s Casts in namespace %s: %s", verb, sc.Namespace, st.Message)
	case apierrors.IsNotFound(err):
		return http.StatusNotFound, "NotFound", fmt.Sprintf("cast %s/%s not found", sc.Namespace, sc.Name)
	case apierrors.IsInvalid(err):
		return http.StatusUnprocessableEntity, "Invalid", invalidMessage(st)
	case apierrors.IsConflict(err):
		return http.StatusConflict, "Conflict", st.Message
	case apierrors.IsUnauthorized(err):
		return http.StatusUnauthorized, "Unauthorized", "the API server did not accept your token"
	}
	return http.StatusBadGateway, string(st.Reason), st.Message
}

// invalidMessage is a validation refusal's causes, which carry the CRD's
// CEL messages ("the Cast already finished as Succeeded: there is nothing
// to cancel"), without the API server's long preamble.
func invalidMessage(st metav1.Status) string {
	if st.Details == nil || len(st.Details.Causes) == 0 {
		return st.Message
	}
	msgs := make([]string, 0, len(st.Details.Causes))
	for _, c := range st.Details.Causes {
		msgs = append(msgs, strings.TrimPrefix(c.Message, "Invalid value: "))
	}
	return strings.Join(msgs, "; ")
}

// snapshot is the Cast the hub holds for sc, or a 404 written to w.
func (s *Server) snapshot(w http.ResponseWriter, sc auth.Scope) (wire.Snapshot, bool) {
	var snap wire.Snapshot
	data, found := s.hub.Get(types.NamespacedName{Namespace: sc.Namespace, Name: sc.Name})
	if found && json.Unmarshal(data, &snap) == nil {
		return snap, true
	}
	writeActionError(w, http.StatusNotFound, "NotFound", fmt.Sprintf("cast %s/%s not found", sc.Namespace, sc.Name))
	return snap, false
}

// readActionBody decodes an optional JSON body of at most maxActionBody
// bytes, refusing unknown fields so a typo is not silently ignored.
func readActionBody[T any](w http.ResponseWriter, r *http.Request) (T, bool) {
	var in T
	body := http.MaxBytesReader(w, r.Body, maxActionBody)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	err := dec.Decode(&in)
	var tooLarge *http.MaxBytesError
	switch {
	case err == nil, errors.Is(err, io.EOF):
		return in, true
	case errors.As(err, &tooLarge):
		writeActionError(w, http.StatusRequestEntityTooLarge, "TooLarge", "request body too large")
	default:
		writeActionError(w, http.StatusBadRequest, "BadRequest", fmt.Sprintf("invalid JSON body: %s", err))
	}
	return in, false
}

// requireActionHeader refuses an action without wire.ActionHeader: see
// there why that makes the session cookie safe from CSRF.
func requireActionHeader(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(wire.ActionHeader) != wire.ActionHeaderValue {
			writeActionError(w, http.StatusForbidden, "MissingHeader",
				fmt.Sprintf("actions need the header %s: %s", wire.ActionHeader, wire.ActionHeaderValue))
			return
		}
		next.ServeHTTP(w, r)
	})
}

func writeActionError(w http.ResponseWriter, status int, reason, msg string) {
	b, _ := json.Marshal(wire.Error{Message: msg, Reason: reason})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
