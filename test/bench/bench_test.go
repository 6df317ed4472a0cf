package main

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spell-platform/cast-operator/hack/localcluster"
)

// TestSmoke runs the whole harness at tiny sizes and checks its output is
// complete and well-formed. It asserts no performance goal: those live in
// the benchmark's own PASS/FAIL rows.
func TestSmoke(t *testing.T) {
	root, err := localcluster.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := localcluster.AssetsDir(root); err != nil {
		t.Fatalf("no envtest binaries (%v); `make envtest` builds them", err)
	}
	out := t.TempDir()
	// Scenario 6 (GitHub) adds about a minute: its low-budget window and
	// resync cadence cannot shrink below seconds. Scenario 7 (saturation)
	// adds about a minute: three designs climb at two sizes; scenario 9
	// (idle Casts) two windows of two 5 s resyncs.
	ctx, cancel := context.WithTimeout(context.Background(), 420*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	if err := run(ctx, []string{"-smoke", "-out", out}, &stdout, &stderr); err != nil {
		t.Fatalf("bench -smoke: %v\nprogress:\n%s", err, stderr.String())
	}
	table := stdout.String()

	results := tableRows(t, table, "### Results", 10)
	for _, scenario := range []string{"1. delivery", "2. idle memory", "3. connection storm", "4. slow consumers", "5. controller", "6. github", "7. saturation", "8. GitHub to screen", "9. idle Casts", "10. many Casts"} {
		if !hasRow(results, scenario) {
			t.Errorf("no %q row in the results table:\n%s", scenario, table)
		}
	}
	for _, design := range []string{designStreamer, designPeer, designFloor} {
		found := false
		for _, r := range results {
			found = found || (r[0] == "1. delivery" && r[1] == design)
		}
		if !found {
			t.Errorf("no delivery row for %q", design)
		}
	}
	if !strings.Contains(table, "### Saturation curve") || !strings.Contains(table, designSatFloor) {
		t.Errorf("no saturation curve with the floor in:\n%s", table)
	}
	goals := tableRows(t, table, "### Goals", 4)
	if len(goals) != 34 {
		t.Errorf("%d goal rows, want 34:\n%s", len(goals), table)
	}
	for _, g := range goals {
		if g[3] != "**PASS**" && g[3] != "**FAIL**" {
			t.Errorf("goal %q: result %q, want PASS or FAIL", g[0], g[3])
		}
	}

	doc, err := os.ReadFile(filepath.Join(out, "results.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"uname -a", "Machine:", table} {
		if !strings.Contains(string(doc), want) {
			t.Errorf("results.md lacks %q", want)
		}
	}
	svg, err := os.ReadFile(filepath.Join(out, "latency.svg"))
	if err != nil {
		t.Fatal(err)
	}
	if err := wellFormed(svg); err != nil || !bytes.Contains(svg, []byte("<polyline")) {
		t.Errorf("latency.svg is not a chart (%v):\n%s", err, svg)
	}
}

// tableRows returns the cells of the Markdown table under heading,
// checking that every row has cols cells.
func tableRows(t *testing.T, md, heading string, cols int) [][]string {
	t.Helper()
	_, after, ok := strings.Cut(md, heading+"\n")
	if !ok {
		t.Fatalf("no %q in:\n%s", heading, md)
	}
	var rows [][]string
	lines := strings.Split(strings.TrimLeft(after, "\n"), "\n")
	for i, line := range lines {
		if !strings.HasPrefix(line, "|") {
			break
		}
		if i == 1 {
			continue // the separator row
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for k := range cells {
			cells[k] = strings.TrimSpace(cells[k])
		}
		if len(cells) != cols {
			t.Fatalf("%s row %d has %d cells, want %d: %s", heading, i, len(cells), cols, line)
		}
		if i >= 2 { // header and separator
			rows = append(rows, cells)
		}
	}
	if len(rows) == 0 {
		t.Fatalf("empty table under %q", heading)
	}
	return rows
}

func hasRow(rows [][]string, scenario string) bool {
	for _, r := range rows {
		if r[0] == scenario {
			return true
		}
	}
	return false
}

func wellFormed(b []byte) error {
	d := xml.NewDecoder(bytes.NewReader(b))
	for {
		if _, err := d.Token(); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

func TestHistogramQuantiles(t *testing.T) {
	var h hist
	for i := 1; i <= 1000; i++ {
		h.record(time.Duration(i) * time.Millisecond)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Millisecond}, {0.99, 990 * time.Millisecond}, {1, time.Second}} {
		got := h.quantile(c.q)
		if diff := float64(got-c.want) / float64(c.want); diff < -0.02 || diff > 0.02 {
			t.Errorf("q%.2f = %s, want %s ± 2%%", c.q, got, c.want)
		}
	}
	var empty hist
	if empty.quantile(0.5) >= 0 {
		t.Error("an empty histogram has no quantiles")
	}
}

func TestEventReader(t *testing.T) {
	long := strings.Repeat("x", 10_000) // longer than the reader's buffer
	stream := "retry: 3000\n\n" +
		"id: 5\nevent: progress\ndata: {\"castId\":\"a/b\",\"message\":\"t=123 p=7 n=42 " + long + "\"}\n\n" +
		": heartbeat\n\n" +
		"id: 6\nevent: synced\ndata: {}\n\n" +
		"id: 7\nevent: status\ndata: {\"message\":\"created\"}\n\n"
	er := newEventReader(strings.NewReader(stream))
	type ev struct {
		kind    eventKind
		st      stamp
		stamped bool
	}
	var got []ev
	for {
		k, st, ok, err := er.next()
		if err != nil {
			break
		}
		got = append(got, ev{k, st, ok})
	}
	want := []ev{{eventChange, stamp{phase: 7, seq: 42, sent: 123}, true}, {eventSynced, stamp{}, false}, {eventChange, stamp{}, false}}
	if len(got) != len(want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("event %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}
