package ghapitest

import (
	"net/http"
	"testing"
)

// BenchmarkServe measures what one resync request costs the fake with 1000
// runs stored, to keep it far below the benchmark's ~20 ms budget per
// request at 50 requests/s.
func BenchmarkServe(b *testing.B) {
	s := NewServer()
	defer s.Close()
	s.SetRateLimitCap(1 << 30)
	var last Run
	for range 1000 {
		last = s.AddRun(Run{Repository: "o/r", Status: "in_progress"})
	}
	for _, bc := range []struct{ name, path string }{
		{"get run", runPath("o/r", last.ID)},
		{"list 100 runs", "/repos/o/r/actions/runs?status=in_progress&per_page=100"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req, err := http.NewRequest(http.MethodGet, s.URL+bc.path[1:], nil)
			if err != nil {
				b.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer x")
			for b.Loop() {
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Fatal(resp.Status)
				}
			}
		})
	}
}
