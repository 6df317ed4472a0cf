package controllers

import (
	"testing"
	"time"

	"github.com/spell-platform/cast-operator/controllers/runstatus"
)

// A resync finds its run in the repository's listing whatever page and
// order GitHub listed it in; a run listed twice (it moved from queued to
// in_progress between the two status listings) is read from the later
// page, and a run not listed is not found.
func TestRepoListingFindsEveryListedRun(t *testing.T) {
	queued := []runstatus.Run{{ID: 907, Status: "queued"}, {ID: 12, Status: "queued"}, {ID: 500, Status: "queued"}}
	inProgress := []runstatus.Run{{ID: 500, Status: "in_progress"}, {ID: 3, Status: "in_progress"}}
	more := []runstatus.Run{{ID: 64, Status: "in_progress"}}
	l := newRepoListing(time.Unix(0, 0), [][]runstatus.Run{queued, inProgress, more})

	want := map[int64]string{907: "queued", 12: "queued", 500: "in_progress", 3: "in_progress", 64: "in_progress"}
	for id, status := range want {
		run, ok := l.find(id)
		if !ok || run.ID != id || run.Status != status {
			t.Errorf("find(%d) = %+v, %t; want the %s run", id, run, ok, status)
		}
	}
	for _, id := range []int64{0, 1, 13, 499, 501, 908} {
		if run, ok := l.find(id); ok {
			t.Errorf("find(%d) = %+v; want not found", id, run)
		}
	}
	// The listing points into the pages (the ghapi Client's memo) rather
	// than holding copies.
	if run, _ := l.find(64); run != &more[0] {
		t.Error("find(64) returned a copy, not the page's run")
	}
}
