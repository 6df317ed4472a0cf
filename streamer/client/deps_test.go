package client

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLinksNoInformerMachinery keeps the client small for the programs
// that embed it: it shares the wire contract (streamer/wire) with the
// server, not the server's hub, so neither the hub nor client-go's
// informers come along.
func TestLinksNoInformerMachinery(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/spell-platform/cast-operator/streamer/client").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if dep == "k8s.io/client-go/tools/cache" || strings.HasPrefix(dep, "github.com/spell-platform/cast-operator/streamer/hub") {
			t.Errorf("the client depends on %s", dep)
		}
	}
	if !strings.Contains(string(out), "github.com/spell-platform/cast-operator/streamer/wire") {
		t.Error("the client does not use streamer/wire: the test no longer looks at the right package")
	}
}
