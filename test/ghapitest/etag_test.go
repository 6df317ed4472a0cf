package ghapitest

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestETagIsWeakDigestOfBody(t *testing.T) {
	s := NewServer()
	defer s.Close()
	run := s.AddRun(Run{Repository: "o/r"})
	for _, path := range []string{runPath("o/r", run.ID), "/repos/o/r/actions/workflows/cast.yml/runs?per_page=5", runPath("o/r", run.ID) + "/jobs"} {
		resp, b := do(t, s, call{path: path, auth: "Bearer x"})
		sum := sha256.Sum256(b)
		if want := `W/"` + hex.EncodeToString(sum[:]) + `"`; resp.StatusCode != http.StatusOK || resp.Header.Get("ETag") != want {
			t.Errorf("%s: %d ETag %q, want %q", path, resp.StatusCode, resp.Header.Get("ETag"), want)
		}
	}
	if resp, _ := do(t, s, call{path: runPath("o/r", 1), auth: "Bearer x"}); resp.StatusCode != http.StatusNotFound || resp.Header.Get("ETag") != "" {
		t.Errorf("404: ETag %q, want none", resp.Header.Get("ETag"))
	}
	if resp, _ := do(t, s, call{method: http.MethodPost, path: runPath("o/r", run.ID) + "/cancel", auth: "Bearer x"}); resp.StatusCode != http.StatusAccepted || resp.Header.Get("ETag") != "" {
		t.Errorf("cancel: %d ETag %q, want 202 without one", resp.StatusCode, resp.Header.Get("ETag"))
	}
}

func TestConditionalGetIsFree(t *testing.T) {
	s := NewServer()
	defer s.Close()
	run := s.AddRun(Run{Repository: "o/r", Status: "in_progress"})
	path := runPath("o/r", run.ID)
	first, _ := do(t, s, call{path: path, auth: "Bearer x"})
	tag := first.Header.Get("ETag")
	opaque := strings.TrimPrefix(tag, "W/")

	for _, tc := range []struct {
		ifNoneMatch string
		want        int
	}{
		{tag, 304},
		{opaque, 304}, // weak comparison: the strong form matches too
		{`"0000", ` + tag, 304},
		{"*", 304},
		{`W/"0000"`, 200},
	} {
		before := s.StatsFor("x")
		resp, b := do(t, s, call{path: path, auth: "Bearer x", header: map[string]string{"If-None-Match": tc.ifNoneMatch}})
		after := s.StatsFor("x")
		if resp.StatusCode != tc.want {
			t.Errorf("If-None-Match %s: %d, want %d", tc.ifNoneMatch, resp.StatusCode, tc.want)
			continue
		}
		if tc.want == 304 {
			if len(b) != 0 || resp.Header.Get("ETag") != tag || resp.Header.Get("X-RateLimit-Remaining") != "4999" ||
				resp.Header.Get("X-RateLimit-Reset") == "" || resp.Header.Get("Content-Type") != "" {
				t.Errorf("If-None-Match %s: body %q headers %v, want no body, the same ETag and an unchanged budget", tc.ifNoneMatch, b, resp.Header)
			}
			if after.NotModified != before.NotModified+1 || after.Counted != before.Counted {
				t.Errorf("If-None-Match %s: stats %+v -> %+v, want one more NotModified and nothing counted", tc.ifNoneMatch, before, after)
			}
		} else if after.Counted != before.Counted+1 || resp.Header.Get("X-RateLimit-Remaining") != "4998" {
			t.Errorf("If-None-Match %s: stats %+v -> %+v, headers %v, want one counted", tc.ifNoneMatch, before, after, resp.Header)
		}
	}
	reqs := s.Requests()
	if r := reqs[1]; r.IfNoneMatch != tag || r.Status != 304 {
		t.Errorf("logged %+v, want If-None-Match %s answered 304", r, tag)
	}

	s.UpdateRun(run.ID, func(r *Run) {
		r.Status, r.Conclusion, r.UpdatedAt = "completed", "success", r.UpdatedAt.Add(time.Minute)
	})
	resp, b := do(t, s, call{path: path, auth: "Bearer x", header: map[string]string{"If-None-Match": tag}})
	if resp.StatusCode != http.StatusOK || resp.Header.Get("ETag") == tag || decode(t, b)["conclusion"] != "success" {
		t.Errorf("after UpdateRun: %d ETag %s, want 200 with the new body and a new ETag", resp.StatusCode, resp.Header.Get("ETag"))
	}
}
