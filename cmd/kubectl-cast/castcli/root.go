// Package castcli holds the commands of kubectl-cast. Reads and writes go
// to the API server with the user's kubeconfig, so RBAC decides; watch
// goes to the streamer with the bearer token the kubeconfig yields.
package castcli

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	ctrlclient "sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/spell-platform/cast-operator/cmd/watch"
	"github.com/spell-platform/cast-operator/internal/scheme"
	"github.com/spell-platform/cast-operator/internal/version"
)

// options are the flags every command shares: kubectl's kubeconfig flags,
// plus -A and -l for the commands that list.
type options struct {
	flags         *genericclioptions.ConfigFlags
	streams       genericiooptions.IOStreams
	allNamespaces bool
	selector      string
}

// New is the kubectl-cast root command with its subcommands.
func New(streams genericiooptions.IOStreams) *cobra.Command {
	o := &options{flags: genericclioptions.NewConfigFlags(true), streams: streams}
	root := &cobra.Command{
		Use:   "kubectl-cast",
		Short: "Watch, cancel, re-run and copy Casts (GitHub Actions runs as Kubernetes objects)",
		Annotations: map[string]string{
			cobra.CommandDisplayNameAnnotation: "kubectl cast",
		},
		Version:       version.Get().String(),
		SilenceUsage:  true,
		SilenceErrors: true,
		// A root that runs, so an unknown command is a usage error (exit 2)
		// rather than cobra's plain error.
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageError(fmt.Errorf("unknown command %q; see kubectl cast --help", args[0]))
			}
			return cmd.Help()
		},
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	o.flags.AddFlags(root.PersistentFlags())
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError(err) })
	root.AddCommand(o.newWatch(), o.newGet(), o.newCancel(), o.newRerun(), o.newCreate())
	return root
}

// addListFlags adds -A and -l to a command that lists Casts.
func (o *options) addListFlags(cmd *cobra.Command) {
	cmd.Flags().BoolVarP(&o.allNamespaces, "all-namespaces", "A", false, "Casts in every namespace")
	cmd.Flags().StringVarP(&o.selector, "selector", "l", "", "label selector, e.g. team=blue (not with NAME)")
}

// ExitCode prints err (if it has something to say) and returns the exit
// code main exits with: a command's own (watch's), else 1.
func ExitCode(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	var ee *watch.ExitError
	if errors.As(err, &ee) {
		if ee.Msg != "" {
			fmt.Fprintf(stderr, "kubectl cast: %s\n", ee.Msg)
		}
		return ee.Code
	}
	fmt.Fprintf(stderr, "kubectl cast: %s\n", err)
	return watch.ExitFailed
}

func usageError(err error) error {
	return &watch.ExitError{Code: watch.ExitUsage, Msg: err.Error()}
}

// maxArgs is cobra.MaximumNArgs with the usage exit code.
func maxArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := cobra.MaximumNArgs(n)(cmd, args); err != nil {
			return usageError(err)
		}
		return nil
	}
}

func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := cobra.ExactArgs(n)(cmd, args); err != nil {
			return usageError(err)
		}
		return nil
	}
}

// namespace is -n, else the kubeconfig context's, else default.
func (o *options) namespace() (string, error) {
	ns, _, err := o.flags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return "", fmt.Errorf("the namespace from the kubeconfig: %w", err)
	}
	return ns, nil
}

// clients are the API server clients for the kubeconfig's user.
func (o *options) clients() (ctrlclient.Client, kubernetes.Interface, *rest.Config, error) {
	rc, err := o.flags.ToRESTConfig()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("the kubeconfig: %w", err)
	}
	cl, err := ctrlclient.New(rc, ctrlclient.Options{Scheme: scheme.New()})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("an API client: %w", err)
	}
	kube, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("an API client: %w", err)
	}
	return cl, kube, rc, nil
}
