// Package dev is the dev command behind `make run`: a local kube-apiserver
// and etcd from the envtest binaries, with the controller and the streamer
// in one manager on it. It links envtest, so only builds with the dev tag
// register it (see devcommand.go at the repository root); the shipped
// binary does not.
package dev

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spell-platform/cast-operator/cmd/controller"
	"github.com/spell-platform/cast-operator/cmd/internal/cli"
	"github.com/spell-platform/cast-operator/cmd/streamer"
	"github.com/spell-platform/cast-operator/hack/localcluster"
)

const devNextSteps = `
cast-operator is running on a local control plane.

  export KUBECONFIG=%[1]s
  kubectl apply -f config/samples/
  kubectl get casts -w

Stream Cast status as the cast-viewer ServiceAccount (the dashboard at
http://%[2]s/ takes the same token; %[3]s/editor.token may also cancel and
re-run Casts there):

  curl -N -H "Authorization: Bearer $(cat %[6]s)" http://%[2]s/api/v1/namespaces/default/casts/events

Webhooks:  http://%[4]s/webhooks/github (secret in %[5]s; see README)
Stop with Ctrl-C (the control plane stops with it; data stays in %[3]s).

`

// Run starts kube-apiserver and etcd from the envtest binaries, installs
// the CRD, and runs the controller and streamer against them until Ctrl-C.
func Run(args []string, out io.Writer) error {
	fs := cli.NewFlagSet("dev", out)
	var mf cli.ManagerFlags
	mf.Bind(fs, "127.0.0.1:8080", "127.0.0.1:8081", false)
	dataDir := fs.String("data-dir", ".local", "directory for etcd data and the kubeconfig")
	var sf streamer.Flags
	sf.Bind(fs, "127.0.0.1:8090")
	var cf controller.Flags
	cf.Bind(fs, "127.0.0.1:8082")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if err := cf.Validate(); err != nil {
		return err
	}

	ctx, cancel := shutdownOnSignal(out)
	defer cancel()

	if err := os.MkdirAll(*dataDir, 0o700); err != nil {
		return fmt.Errorf("creating data directory: %w", err)
	}
	dir, err := filepath.Abs(*dataDir)
	if err != nil {
		return fmt.Errorf("resolving data directory: %w", err)
	}
	env, err := localcluster.New(filepath.Join(dir, "etcd"))
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "starting local control plane (kube-apiserver, etcd)...")
	cfg, err := env.Start()
	if err != nil {
		return fmt.Errorf("starting local control plane: %w", err)
	}
	defer func() {
		fmt.Fprintln(out, "stopping local control plane...")
		if err := env.Stop(); err != nil {
			fmt.Fprintf(out, "stopping local control plane: %v\n", err)
		}
	}()

	secret, secretPath, err := devWebhookSecret(dir)
	if err != nil {
		return err
	}
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfig, env.KubeConfig, 0o600); err != nil {
		return fmt.Errorf("writing kubeconfig: %w", err)
	}

	if err := installRoles(ctx, cfg); err != nil {
		return err
	}
	viewerToken, err := writeToken(ctx, cfg, dir, "cast-viewer", viewerRole, "viewer.token")
	if err != nil {
		return err
	}
	if _, err := writeToken(ctx, cfg, dir, "cast-editor", editorRole, "editor.token"); err != nil {
		return err
	}
	mgr, err := cli.NewManager(cfg, &mf, cli.LeaderFlags{}, cf.Cache)
	if err != nil {
		return err
	}
	if err := addRoleAggregation(mgr); err != nil {
		return err
	}
	if err := controller.AddControllerAndReceiver(mgr, &cf, secret); err != nil {
		return err
	}
	if err := streamer.AddStreamer(mgr, cfg, &sf); err != nil {
		return err
	}
	if secretPath == "" {
		secretPath = "$GITHUB_WEBHOOK_SECRET"
	}
	fmt.Fprintf(out, devNextSteps, kubeconfig, sf.BindAddress(), dir, cf.WebhookAddr(), secretPath, viewerToken)
	if err := mgr.Start(ctx); err != nil {
		return fmt.Errorf("running manager: %w", err)
	}
	return nil
}

// devWebhookSecret is the secret for `make run`: GITHUB_WEBHOOK_SECRET, or
// the one in dir/webhook-secret, generated on first use.
func devWebhookSecret(dir string) (secret []byte, path string, err error) {
	if s := os.Getenv("GITHUB_WEBHOOK_SECRET"); s != "" {
		return []byte(s), "", nil
	}
	path = filepath.Join(dir, "webhook-secret")
	if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) > 0 {
		return []byte(strings.TrimSpace(string(b))), path, nil
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, "", fmt.Errorf("generating webhook secret: %w", err)
	}
	secret = []byte(hex.EncodeToString(raw))
	if err := os.WriteFile(path, secret, 0o600); err != nil {
		return nil, "", fmt.Errorf("writing webhook secret: %w", err)
	}
	return secret, path, nil
}

// shutdownOnSignal cancels the context on SIGINT or SIGTERM. Unlike
// ctrl.SetupSignalHandler, a second Ctrl-C does not exit at once: the
// control plane runs in its own process group and would be orphaned.
func shutdownOnSignal(out io.Writer) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sigs
		cancel()
		for range sigs {
			fmt.Fprintln(out, "still shutting down the local control plane...")
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		cancel()
	}
}
