package castcli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrlclient "sigs.k8s.io/controller-runtime/pkg/client"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
)

func (o *options) newCreate() *cobra.Command {
	var from string
	cmd := &cobra.Command{
		Use:   "create --from=cast/NAME",
		Short: "Start a new Cast like an old one: a copy of its spec, under a generated name",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			name, ok := castRef(from)
			if !ok {
				return usageError(fmt.Errorf("--from=%q: want cast/NAME", from))
			}
			cl, _, _, err := o.clients()
			if err != nil {
				return err
			}
			ns, err := o.namespace()
			if err != nil {
				return err
			}
			var old castv1alpha1.Cast
			if err := cl.Get(cmd.Context(), ctrlclient.ObjectKey{Namespace: ns, Name: name}, &old); err != nil {
				return fmt.Errorf("reading cast %s/%s: %w", ns, name, err)
			}
			c := copyCast(&old)
			if err := cl.Create(cmd.Context(), c); err != nil {
				return fmt.Errorf("creating a cast like %s/%s: %w", ns, name, err)
			}
			fmt.Fprintf(o.streams.Out, "cast.spell.dev/%s created\n", c.Name)
			return nil
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "the Cast to copy, as cast/NAME")
	_ = cmd.RegisterFlagCompletionFunc("from", func(cmd *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		return o.castNames(cmd, "cast/", toComplete), cobra.ShellCompDirectiveNoFileComp
	})
	return cmd
}

// castRef is NAME from cast/NAME (also casts/ and the full resource name,
// as kubectl accepts them).
func castRef(s string) (string, bool) {
	kind, name, ok := strings.Cut(s, "/")
	switch kind {
	case "cast", "casts", "cast.spell.dev", "casts.spell.dev":
	default:
		return "", false
	}
	return name, ok && name != "" && !strings.Contains(name, "/")
}

// copyCast is a new Cast with old's spec and labels, as the README's
// "Start a new one like it" says: without cancel (it would be cancelled
// before dispatch), rerun (refused in a new Cast) and runID (it would
// attach to the old run), under a generated name.
func copyCast(old *castv1alpha1.Cast) *castv1alpha1.Cast {
	c := &castv1alpha1.Cast{ObjectMeta: metav1.ObjectMeta{
		Namespace:    old.Namespace,
		GenerateName: old.Name + "-",
		Labels:       old.Labels,
	}}
	old.Spec.DeepCopyInto(&c.Spec)
	c.Spec.Cancel, c.Spec.Rerun, c.Spec.RunID = nil, nil, nil
	return c
}
