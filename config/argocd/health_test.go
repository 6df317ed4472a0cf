// Package argocd holds the Argo CD health check for Casts; its test runs
// the Lua script in a Lua VM against Casts as the controller leaves them.
package argocd

import (
	"os"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	castv1alpha1 "github.com/spell-platform/cast-operator/api/v1alpha1"
	"github.com/spell-platform/cast-operator/controllers/runstatus"
)

// toLua turns a decoded JSON value into what Argo CD hands its scripts.
func toLua(L *lua.LState, v any) lua.LValue {
	switch x := v.(type) {
	case map[string]any:
		t := L.NewTable()
		for k, e := range x {
			t.RawSetString(k, toLua(L, e))
		}
		return t
	case []any:
		t := L.NewTable()
		for _, e := range x {
			t.Append(toLua(L, e))
		}
		return t
	case string:
		return lua.LString(x)
	case bool:
		return lua.LBool(x)
	case int64:
		return lua.LNumber(x)
	case float64:
		return lua.LNumber(x)
	}
	return lua.LNil
}

func health(t *testing.T, script string, c *castv1alpha1.Cast) (string, string) {
	t.Helper()
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(c)
	if err != nil {
		t.Fatal(err)
	}
	L := lua.NewState()
	defer L.Close()
	L.SetGlobal("obj", toLua(L, u))
	if err := L.DoString(script); err != nil {
		t.Fatalf("running health.lua: %v", err)
	}
	hs, ok := L.Get(-1).(*lua.LTable)
	if !ok {
		t.Fatalf("health.lua returned %s, want a table", L.Get(-1).Type())
	}
	return hs.RawGetString("status").String(), hs.RawGetString("message").String()
}

func TestHealthByPhase(t *testing.T) {
	script, err := os.ReadFile("health.lua")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		phase     castv1alpha1.CastPhase
		concluded bool
		want      string
	}{
		{castv1alpha1.PhasePending, false, "Progressing"},
		{castv1alpha1.PhaseQueued, false, "Progressing"},
		{castv1alpha1.PhaseRunning, false, "Progressing"},
		{castv1alpha1.PhaseFailed, false, "Progressing"}, // outcome not recorded yet
		{castv1alpha1.PhaseSucceeded, true, "Healthy"},
		{castv1alpha1.PhaseFailed, true, "Degraded"},
		{castv1alpha1.PhaseCancelled, true, "Degraded"},
		{castv1alpha1.PhaseTimedOut, true, "Degraded"},
	}
	for _, tt := range tests {
		c := &castv1alpha1.Cast{ObjectMeta: metav1.ObjectMeta{Name: "c", Generation: 1}}
		c.Status.Phase, c.Status.Message = tt.phase, "run "+string(tt.phase)
		runstatus.SetProgress(&c.Status, tt.phase, at)
		if tt.concluded {
			runstatus.Conclude(&c.Status, c.Status.Message, 1, at)
		}
		got, msg := health(t, string(script), c)
		if got != tt.want {
			t.Errorf("%s (concluded %v): health %s (%q), want %s", tt.phase, tt.concluded, got, msg, tt.want)
		}
		if msg == "" {
			t.Errorf("%s: empty health message", tt.phase)
		}
	}
	// A Cast the controller has not seen yet has no status at all.
	if got, _ := health(t, string(script), &castv1alpha1.Cast{}); got != "Progressing" {
		t.Errorf("a Cast without status: health %s, want Progressing", got)
	}
}
