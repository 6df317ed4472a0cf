// Command cast-operator runs the Cast controller, the streamer, or both on a
// local control plane for development:
//
//	cast-operator controller [flags]   reconcile Casts in a cluster
//	cast-operator streamer [flags]     serve Cast status to HTTP clients
//	cast-operator dev [flags]          local kube-apiserver + both of the above
//	cast-operator watch [NAME]         follow Cast status from the streamer
//	cast-operator version [-o json]    print the release and commit (also --version)
//
// Each command lives in its own package under cmd/. dev starts envtest's
// control plane, so it is only in builds with the dev tag (`make run`);
// the shipped binary answers it with a pointer to `make run`.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/spell-platform/cast-operator/cmd/controller"
	"github.com/spell-platform/cast-operator/cmd/streamer"
	"github.com/spell-platform/cast-operator/cmd/watch"
	"github.com/spell-platform/cast-operator/internal/version"
)

const usage = `Usage: cast-operator <command> [flags]

Commands:
  controller   reconcile Casts against GitHub (in-cluster config or --kubeconfig)
  streamer     serve Cast status changes to HTTP clients
  dev          start a local control plane and run controller and streamer on it
  watch        follow Cast status from the streamer; with NAME, wait for it to finish
  version      print the release, commit and Go version (also --version)

Run 'cast-operator <command> -h' for a command's flags.
`

// commands maps each command to its entry point. devcommand.go replaces
// dev's entry in builds with the dev tag.
var commands = map[string]func([]string, io.Writer) error{
	"controller": controller.Run,
	"streamer":   streamer.Run,
	"dev":        devNotBuilt,
	"watch":      watch.Run,
	"version":    printVersion,
}

// errNoDev answers dev in a binary built without the dev tag: the command
// exists, so "unknown command" would mislead.
var errNoDev = errors.New("this binary is built without the dev command, which runs a local control plane " +
	"from the envtest binaries; use `make run` (it builds bin/cast-operator with -tags dev)")

func devNotBuilt([]string, io.Writer) error { return errNoDev }

// printVersion is the version command: one line, or JSON with -o json.
func printVersion(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	fs.SetOutput(out)
	format := fs.String("o", "text", "output format: text or json")
	if err := fs.Parse(args); err != nil {
		return err
	}
	v := version.Get()
	switch *format {
	case "text":
		_, err := fmt.Fprintln(out, v)
		return err
	case "json":
		return json.NewEncoder(out).Encode(v)
	default:
		return fmt.Errorf("-o %q: want text or json", *format)
	}
}

// exitCoder is an error that carries its own exit code (watch's), so main
// need not know the command's error type.
type exitCoder interface {
	error
	ExitCode() int
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	if args[0] == "--version" || args[0] == "-version" {
		args[0] = "version"
	}
	cmd, ok := commands[args[0]]
	if !ok {
		if args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
			fmt.Fprint(stderr, usage)
			return 0
		}
		fmt.Fprintf(stderr, "unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	out := stderr
	if args[0] == "version" {
		out = stdout // the answer, for scripts, not a diagnostic
	}
	if err := cmd(args[1:], out); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		// watch exits with the watched Cast's outcome; an empty message
		// means it already said why.
		var ee exitCoder
		if errors.As(err, &ee) {
			if msg := ee.Error(); msg != "" {
				fmt.Fprintf(stderr, "cast-operator %s: %s\n", args[0], msg)
			}
			return ee.ExitCode()
		}
		fmt.Fprintf(stderr, "cast-operator %s: %v\n", args[0], err)
		return 1
	}
	return 0
}
