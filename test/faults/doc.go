// Package faults is the operator's fault-injection suite: the streamer and
// the controller run as real subprocesses of the cast-operator binary
// against an envtest control plane, and the tests kill them, stop the
// kube-apiserver under them, make the (fake) GitHub API fail, and flood
// the webhook receiver, then assert that every Cast and every client ends
// up in the right final state. docs/reliability.md maps each fault to its
// spec.
//
// The non-test files are the process harness the suite shares with the
// soak test (test/soak): building the binary, running and killing
// subprocesses, reading a process's resources from /proc and /metrics,
// and following the streamer with many Go clients. They import no Ginkgo
// so a plain program can use them.
//
// Specs labelled "long" run only when FAULTS=all (make test-faults); the
// suite sets Ginkgo's label filter itself, so `go test ./...` runs the
// fast set without reporting the long ones as skipped failures.
package faults
