package castcli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/duration"
	ctrlclient "sigs.k8s.io/controller-runtime/pkg/client"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
)

// newGet is one table snapshot, read from the API server (every user of
// kubectl can reach it; the streamer may be behind an ingress they lack).
func (o *options) newGet() *cobra.Command {
	cmd := &cobra.Command{
		Use:               "get [NAME]",
		Short:             "Print a table of Casts: NAME, PHASE, PROGRESS, ATTEMPT, AGE",
		Args:              maxArgs(1),
		ValidArgsFunction: o.completeCasts,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 && (o.allNamespaces || o.selector != "") {
				return usageError(fmt.Errorf("a cast NAME takes neither -A nor -l"))
			}
			casts, err := o.casts(cmd, args)
			if err != nil {
				return err
			}
			if len(casts) == 0 {
				fmt.Fprintln(o.streams.ErrOut, "No Casts found.")
				return nil
			}
			return printTable(o.streams.Out, casts, o.allNamespaces, time.Now())
		},
	}
	o.addListFlags(cmd)
	return cmd
}

// casts reads the named Cast, or the list in scope.
func (o *options) casts(cmd *cobra.Command, args []string) ([]castv1alpha1.Cast, error) {
	cl, _, _, err := o.clients()
	if err != nil {
		return nil, err
	}
	ns, err := o.namespace()
	if err != nil {
		return nil, err
	}
	if len(args) == 1 {
		var c castv1alpha1.Cast
		if err := cl.Get(cmd.Context(), ctrlclient.ObjectKey{Namespace: ns, Name: args[0]}, &c); err != nil {
			return nil, fmt.Errorf("reading cast %s/%s: %w", ns, args[0], err)
		}
		return []castv1alpha1.Cast{c}, nil
	}
	var opts []ctrlclient.ListOption
	if !o.allNamespaces {
		opts = append(opts, ctrlclient.InNamespace(ns))
	}
	if o.selector != "" {
		sel, err := labels.Parse(o.selector)
		if err != nil {
			return nil, usageError(fmt.Errorf("-l %q: %w", o.selector, err))
		}
		opts = append(opts, ctrlclient.MatchingLabelsSelector{Selector: sel})
	}
	var list castv1alpha1.CastList
	if err := cl.List(cmd.Context(), &list, opts...); err != nil {
		return nil, fmt.Errorf("listing casts: %w", err)
	}
	return list.Items, nil
}

// printTable writes casts as kubectl does: aligned columns, no borders.
func printTable(w io.Writer, casts []castv1alpha1.Cast, withNamespace bool, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	header := []string{"NAME", "PHASE", "PROGRESS", "ATTEMPT", "AGE"}
	if withNamespace {
		header = append([]string{"NAMESPACE"}, header...)
	}
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, c := range casts {
		row := tableRow(&c, now)
		if withNamespace {
			row = append([]string{c.Namespace}, row...)
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing the table: %w", err)
	}
	return nil
}

// tableRow is one Cast's cells after the namespace.
func tableRow(c *castv1alpha1.Cast, now time.Time) []string {
	phase, attempt := string(c.Status.Phase), "-"
	if phase == "" {
		phase = "-"
	}
	if c.Status.RunAttempt > 0 {
		attempt = fmt.Sprint(c.Status.RunAttempt)
	}
	age := "<unknown>"
	if !c.CreationTimestamp.IsZero() {
		age = duration.HumanDuration(now.Sub(c.CreationTimestamp.Time))
	}
	return []string{c.Name, phase, fmt.Sprintf("%d%%", c.Status.Progress), attempt, age}
}

// completeCasts offers the names of the Casts in the namespace, for shell
// completion of a NAME argument.
func (o *options) completeCasts(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return o.castNames(cmd, "", toComplete), cobra.ShellCompDirectiveNoFileComp
}

// castNames lists the namespace's Casts whose names start with the typed
// prefix (after the given kind prefix, e.g. "cast/").
func (o *options) castNames(cmd *cobra.Command, kindPrefix, toComplete string) []string {
	cl, _, _, err := o.clients()
	if err != nil {
		return nil
	}
	ns, err := o.namespace()
	if err != nil {
		return nil
	}
	var list castv1alpha1.CastList
	if err := cl.List(cmd.Context(), &list, ctrlclient.InNamespace(ns)); err != nil {
		return nil
	}
	var names []string
	for _, c := range list.Items {
		if name := kindPrefix + c.Name; strings.HasPrefix(name, toComplete) {
			names = append(names, name)
		}
	}
	return names
}
