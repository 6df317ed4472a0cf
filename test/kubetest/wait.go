package kubetest

import (
	"testing"
	"time"
)

// Must ends the test at an error a plain Go test cannot go on from.
func Must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// WaitUntil polls cond until it holds, and fails the test naming what it
// waited for after 30 s: the plain-test counterpart of Gomega's
// Eventually, for the command packages' tests.
func WaitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
	}
}
