// Command kubectl-cast is the kubectl plugin for Casts: `kubectl cast
// watch|get|cancel|rerun|create`, with kubectl's own kubeconfig flags.
// Install it on the PATH (make kubectl-cast, or krew with
// hack/krew/cast.yaml) and kubectl finds it.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/spell-platform/cast-operator/cmd/kubectl-cast/castcli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := castcli.New(genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}).ExecuteContext(ctx)
	stop()
	os.Exit(castcli.ExitCode(err, os.Stderr))
}
