package castcli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	authenticationv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	ctrlclient "sigs.k8s.io/controller-runtime/pkg/client"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/cmd/watch"
)

// actFlags are cancel's and rerun's: whether to wait for the controller's answer.
type actFlags struct {
	wait    bool
	timeout time.Duration
}

func (f *actFlags) add(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&f.wait, "wait", false, "wait until the controller answers the request in status")
	cmd.Flags().DurationVar(&f.timeout, "timeout", 5*time.Minute, "how long --wait waits")
}

func (o *options) newCancel() *cobra.Command {
	var f actFlags
	cmd := &cobra.Command{
		Use:   "cancel NAME",
		Short: "Cancel the Cast's run (its current attempt), keeping the Cast",
		Long: "Sets spec.cancel with your user name (from a SelfSubjectReview) and the run's current attempt;\n" +
			"the controller cancels the run on GitHub and answers in status.cancel.",
		Args:              exactArgs(1),
		ValidArgsFunction: o.completeCasts,
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.act(cmd.Context(), args[0], f, cancelAction{})
		},
	}
	f.add(cmd)
	return cmd
}

func (o *options) newRerun() *cobra.Command {
	var f actFlags
	var failedOnly bool
	cmd := &cobra.Command{
		Use:   "rerun NAME",
		Short: "Re-run the Cast's finished run on GitHub as a new attempt",
		Long: "Sets spec.rerun with your user name (from a SelfSubjectReview) and the finished attempt;\n" +
			"the controller asks GitHub once and the Cast follows the new attempt.",
		Args:              exactArgs(1),
		ValidArgsFunction: o.completeCasts,
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.act(cmd.Context(), args[0], f, rerunAction{failedOnly: failedOnly})
		},
	}
	cmd.Flags().BoolVar(&failedOnly, "failed-only", false, "re-run only the failed jobs (and those depending on them)")
	f.add(cmd)
	return cmd
}

// action is a request written into a Cast's spec.
type action interface {
	verb() string
	// request is spec's field name and value for a user and the Cast as read.
	request(c *castv1alpha1.Cast, user string) (field string, value any, attempt int64, err error)
	// asked says whether the Cast already holds this very request.
	asked(c *castv1alpha1.Cast, attempt int64) bool
	// answer is the controller's answer in status, once there: done, its
	// words, and whether it is a success.
	answer(c *castv1alpha1.Cast, attempt int64) (done bool, msg string, ok bool)
}

// act patches the request into the Cast, as the user, so RBAC and the
// requester policy decide; with --wait it then waits for the answer.
func (o *options) act(ctx context.Context, name string, f actFlags, a action) error {
	cl, kube, _, err := o.clients()
	if err != nil {
		return err
	}
	ns, err := o.namespace()
	if err != nil {
		return err
	}
	id := ns + "/" + name
	var c castv1alpha1.Cast
	if err := cl.Get(ctx, ctrlclient.ObjectKey{Namespace: ns, Name: name}, &c); err != nil {
		return fmt.Errorf("reading cast %s: %w", id, err)
	}
	user, err := whoami(ctx, kube)
	if err != nil {
		return err
	}
	field, value, attempt, err := a.request(&c, user)
	if err != nil {
		return fmt.Errorf("cannot %s cast %s: %w", a.verb(), id, err)
	}
	if a.asked(&c, attempt) {
		fmt.Fprintf(o.streams.Out, "cast.spell.dev/%s: %s of attempt %d was already requested\n", name, a.verb(), attempt)
	} else {
		// The resourceVersion makes the patch conditional: the attempt was
		// read from this version's status, so a Cast that moved on meanwhile
		// is not acted on with a stale attempt.
		patch, err := json.Marshal(map[string]any{
			"metadata": map[string]any{"resourceVersion": c.ResourceVersion},
			"spec":     map[string]any{field: value},
		})
		if err != nil {
			return fmt.Errorf("encoding the patch: %w", err)
		}
		if err := cl.Patch(ctx, &c, ctrlclient.RawPatch(types.MergePatchType, patch)); err != nil {
			return explainRefusal(a.verb(), id, user, err)
		}
		fmt.Fprintf(o.streams.Out, "cast.spell.dev/%s: %s of attempt %d requested by %s\n", name, a.verb(), attempt, user)
	}
	if !f.wait {
		return nil
	}
	return o.waitAnswer(ctx, cl, &c, f.timeout, a, attempt)
}

// whoami is the user's name as the API server knows it, which the
// requester policy holds requestedBy to.
func whoami(ctx context.Context, kube kubernetes.Interface) (string, error) {
	r, err := kube.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("asking the API server who you are (SelfSubjectReview): %w", err)
	}
	if r.Status.UserInfo.Username == "" {
		return "", fmt.Errorf("the API server's SelfSubjectReview gave no user name")
	}
	return r.Status.UserInfo.Username, nil
}

// explainRefusal turns the API server's answer into words: the CRD's CEL
// rules and the requester policy say why in their messages.
func explainRefusal(verb, id, user string, err error) error {
	switch {
	case apierrors.IsInvalid(err):
		var msgs []string
		var st apierrors.APIStatus
		if errors.As(err, &st) && st.Status().Details != nil {
			for _, c := range st.Status().Details.Causes {
				msgs = append(msgs, c.Message)
			}
		}
		if len(msgs) == 0 {
			msgs = append(msgs, err.Error())
		}
		return fmt.Errorf("cannot %s cast %s: %s", verb, id, strings.Join(msgs, "; "))
	case apierrors.IsForbidden(err):
		return fmt.Errorf("cannot %s cast %s: you (%s) may not: %w", verb, id, user, err)
	case apierrors.IsConflict(err):
		return fmt.Errorf("cannot %s cast %s: it changed while the request was made; run the command again", verb, id)
	}
	return fmt.Errorf("cannot %s cast %s: %w", verb, id, err)
}

// waitAnswer polls the Cast until the controller answers the request.
func (o *options) waitAnswer(ctx context.Context, cl ctrlclient.Client, c *castv1alpha1.Cast, timeout time.Duration, a action, attempt int64) error {
	var msg string
	var ok bool
	err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		if err := cl.Get(ctx, ctrlclient.ObjectKeyFromObject(c), c); err != nil {
			return false, fmt.Errorf("reading cast %s/%s: %w", c.Namespace, c.Name, err)
		}
		var done bool
		done, msg, ok = a.answer(c, attempt)
		return done, nil
	})
	if err != nil {
		if wait.Interrupted(err) {
			return &watch.ExitError{Code: watch.ExitFailed, Msg: fmt.Sprintf("no answer to the %s of cast %s/%s within %s", a.verb(), c.Namespace, c.Name, timeout)}
		}
		return err
	}
	fmt.Fprintf(o.streams.Out, "cast.spell.dev/%s: %s\n", c.Name, msg)
	if !ok {
		return &watch.ExitError{Code: watch.ExitFailed}
	}
	return nil
}

type cancelAction struct{}

func (cancelAction) verb() string { return "cancel" }

func (cancelAction) request(c *castv1alpha1.Cast, user string) (string, any, int64, error) {
	attempt := max(c.Status.RunAttempt, 1)
	return "cancel", castv1alpha1.CancelRequest{RequestedBy: user, Attempt: attempt}, attempt, nil
}

func (cancelAction) asked(c *castv1alpha1.Cast, attempt int64) bool {
	return c.Spec.Cancel != nil && c.Spec.Cancel.Attempt == attempt
}

func (cancelAction) answer(c *castv1alpha1.Cast, attempt int64) (bool, string, bool) {
	st := c.Status.Cancel
	if st == nil || st.Attempt != attempt {
		return false, "", false
	}
	msg := fmt.Sprintf("cancel %s", st.Result)
	if st.Message != "" {
		msg += ": " + st.Message
	}
	return true, msg, st.Result != castv1alpha1.CancelResultFailed
}

type rerunAction struct{ failedOnly bool }

func (rerunAction) verb() string { return "re-run" }

func (r rerunAction) request(c *castv1alpha1.Cast, user string) (string, any, int64, error) {
	attempt := c.Status.RunAttempt
	if attempt == 0 {
		// The schema's minimum would refuse attempt 0 in less helpful words.
		return "", nil, 0, fmt.Errorf("it never had a run on GitHub, so there is nothing to re-run: "+
			"create a new Cast from its spec instead (kubectl cast create --from=cast/%s)", c.Name)
	}
	return "rerun", castv1alpha1.RerunRequest{RequestedBy: user, AfterAttempt: attempt, FailedOnly: r.failedOnly}, attempt, nil
}

func (rerunAction) asked(c *castv1alpha1.Cast, attempt int64) bool {
	return c.Spec.Rerun != nil && c.Spec.Rerun.AfterAttempt == attempt
}

func (rerunAction) answer(c *castv1alpha1.Cast, attempt int64) (bool, string, bool) {
	st := c.Status.Rerun
	if st == nil || st.AfterAttempt != attempt || (st.State != castv1alpha1.RerunRequested && st.State != castv1alpha1.RerunRefused) {
		return false, "", false
	}
	msg := fmt.Sprintf("re-run %s", st.State)
	if st.Message != "" {
		msg += ": " + st.Message
	}
	return true, msg, st.State == castv1alpha1.RerunRequested
}
