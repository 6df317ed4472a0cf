package wire

import (
	"strings"
	"testing"
)

func TestParseKinds(t *testing.T) {
	tests := []struct {
		in      string
		has     []Kind
		hasNot  []Kind
		all     bool
		str     string
		wantErr string
	}{
		{in: "", all: true, has: []Kind{KindStatus, KindProgress, KindComplete, KindDeleted, KindSynced}},
		{in: " , ,", all: true},
		{in: "complete,deleted", has: []Kind{KindComplete, KindDeleted, KindSynced},
			hasNot: []Kind{KindStatus, KindProgress}, str: "complete,deleted"},
		{in: " deleted , complete ,", has: []Kind{KindComplete, KindDeleted}, hasNot: []Kind{KindStatus}, str: "complete,deleted"},
		{in: "progress", has: []Kind{KindProgress, KindSynced}, hasNot: []Kind{KindStatus, KindComplete, KindDeleted}, str: "progress"},
		{in: "status,status", has: []Kind{KindStatus}, hasNot: []Kind{KindProgress}, str: "status"},
		{in: "status,progress,complete,deleted", all: true},
		{in: "synced", has: []Kind{KindSynced}, hasNot: []Kind{KindStatus, KindProgress, KindComplete, KindDeleted}, str: "synced"},
		{in: "synced,complete", has: []Kind{KindComplete}, hasNot: []Kind{KindStatus}, str: "complete"},
		{in: "foo", wantErr: `unknown event type "foo" in events: want status, progress, complete, deleted`},
		{in: "complete,Deleted", wantErr: `unknown event type "Deleted"`},
		{in: "complete;deleted", wantErr: `unknown event type "complete;deleted"`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseKinds(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseKinds(%q) = %v, %v; want an error with %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseKinds(%q): %v", tt.in, err)
			}
			if got.All() != tt.all {
				t.Errorf("All() = %v, want %v", got.All(), tt.all)
			}
			for _, k := range tt.has {
				if !got.Has(k) {
					t.Errorf("set %q lacks %s", got, k)
				}
			}
			for _, k := range tt.hasNot {
				if got.Has(k) {
					t.Errorf("set %q holds %s", got, k)
				}
			}
			if got.String() != tt.str {
				t.Errorf("String() = %q, want %q", got.String(), tt.str)
			}
			// Kinds lists the set for a client's options: nil for no filter.
			if got.All() != (got.Kinds() == nil) || (!got.All() && KindsOf(got.Kinds()...) != got) {
				t.Errorf("Kinds() = %q for %q", got.Kinds(), got)
			}
			// What String spells, ParseKinds reads back: clients send it.
			if back, err := ParseKinds(got.String()); err != nil || back != got {
				t.Errorf("ParseKinds(%q) = %v, %v; want %v", got.String(), back, err, got)
			}
		})
	}
}

// The zero set filters nothing, so a Filter or option left unset sends
// everything.
func TestZeroKindSetHasEverything(t *testing.T) {
	var s KindSet
	for _, k := range []Kind{KindStatus, KindProgress, KindComplete, KindDeleted, KindSynced} {
		if !s.Has(k) {
			t.Errorf("zero set lacks %s", k)
		}
	}
	if !s.All() || s.String() != "" {
		t.Errorf("zero set: All %v, String %q", s.All(), s.String())
	}
	if got := KindsOf(KindComplete, "nonsense"); got.String() != "complete" || got.Has(KindStatus) {
		t.Errorf("KindsOf(complete, nonsense) = %q", got)
	}
}
