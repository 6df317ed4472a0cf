package controllers

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/spell-platform/cast-operator/controllers/ghapi"
	"github.com/spell-platform/cast-operator/controllers/runstatus"
)

// activeRuns shares one listing of a repository's queued and in-progress
// runs among every Cast of that repository and credential: a resync reads
// its run from a listing at most maxAge old, and only the first Cast to
// find none fresh asks GitHub. A thousand Casts in ten repositories cost
// ten listings per resync round instead of a thousand GETs.
type activeRuns struct {
	group singleflight.Group
	mu    sync.Mutex
	lists map[string]repoListing
}

// repoListing indexes a listing by run ID. It points into the ghapi
// Client's decoded pages instead of copying them: with 100,000 Casts the
// runs were otherwise held twice, in the Client's listing memo and here.
// The index is a slice sorted by ID, not a map: 8 bytes a run instead of
// about 60.
type repoListing struct {
	at   time.Time
	runs []*runstatus.Run
}

func newRepoListing(at time.Time, pages [][]runstatus.Run) repoListing {
	n := 0
	for _, p := range pages {
		n += len(p)
	}
	l := repoListing{at: at, runs: make([]*runstatus.Run, 0, n)}
	for _, p := range pages {
		for i := range p {
			l.runs = append(l.runs, &p[i])
		}
	}
	slices.SortStableFunc(l.runs, func(a, b *runstatus.Run) int { return cmp.Compare(a.ID, b.ID) })
	return l
}

// find returns the listed run with this ID, if any. A run listed twice
// (it moved from one status to the next between two pages) is taken from
// the later page.
func (l repoListing) find(id int64) (*runstatus.Run, bool) {
	i, ok := slices.BinarySearchFunc(l.runs, id, func(r *runstatus.Run, id int64) int { return cmp.Compare(r.ID, id) })
	if !ok {
		return nil, false
	}
	for i+1 < len(l.runs) && l.runs[i+1].ID == id {
		i++
	}
	return l.runs[i], true
}

// maxListings bounds the remembered listings (one per repository and
// credential); past it they are all dropped and listed again.
const maxListings = 4096

func newActiveRuns() *activeRuns {
	return &activeRuns{lists: map[string]repoListing{}}
}

// lookup returns the run as a listing no older than maxAge shows it;
// found is false when the run is not among the repository's active runs
// (it finished, or waits for approval), so the caller reads it alone.
func (a *activeRuns) lookup(ctx context.Context, gh *ghapi.Client, repository string, runID int64, maxAge time.Duration, now time.Time) (runstatus.Run, bool, error) {
	key := gh.Budget().Name + " " + strings.ToLower(repository)
	a.mu.Lock()
	l, ok := a.lists[key]
	a.mu.Unlock()
	if !ok || now.Sub(l.at) > maxAge {
		v, err, _ := a.group.Do(key, func() (any, error) {
			// Another Cast may have listed while this one waited its turn.
			a.mu.Lock()
			l, ok := a.lists[key]
			a.mu.Unlock()
			if ok && now.Sub(l.at) <= maxAge {
				return l, nil
			}
			pages, err := gh.ListActiveRunPages(ctx, repository)
			if err != nil {
				return repoListing{}, err
			}
			l = newRepoListing(now, pages)
			a.mu.Lock()
			if len(a.lists) >= maxListings {
				clear(a.lists)
			}
			a.lists[key] = l
			a.mu.Unlock()
			return l, nil
		})
		if err != nil {
			return runstatus.Run{}, false, err
		}
		l = v.(repoListing)
	}
	run, found := l.find(runID)
	if !found {
		return runstatus.Run{}, false, nil
	}
	return *run, true, nil
}
