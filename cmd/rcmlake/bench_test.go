package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rcmlake/rcmlake/bench"
)

// testAsCLI makes the test binary behave as rcmlake (see TestMain).
const testAsCLI = "RCMLAKE_TEST_AS_CLI"

// TestBenchSmoke runs the harness once on a tiny world (this test binary stands in for the
// rcmlake binary of the steps) and checks the report: every stage, the floor, the queries and
// the API were measured with positive figures, and the Markdown states the targets.
func TestBenchSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the pipeline twice")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(testAsCLI, "1")
	out := t.TempDir()
	b, err := bench.New(bench.Options{Bin: exe, Dir: t.TempDir(), OutDir: out, Sizes: []float64{0.1}, Months: 3, Repeat: 1,
		APIClients: 5, APIRequests: 4})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := b.Run(t.Context(), "smoke")
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Worlds) != 1 {
		t.Fatalf("%d worlds, want 1", len(rep.Worlds))
	}
	w := rep.Worlds[0]
	if w.Transactions <= 0 || w.Generate.Seconds <= 0 {
		t.Errorf("world: %d transactions, generated in %g s", w.Transactions, w.Generate.Seconds)
	}
	var names []string
	for _, ph := range []bench.Phase{w.Full, w.Incremental} {
		names = names[:0]
		var sum float64
		for _, s := range ph.Stages {
			names = append(names, s.Name)
			if s.Seconds <= 0 || s.PeakRSS <= 0 || len(s.Runs) != 1 {
				t.Errorf("stage %s: %g s, %d bytes RSS, %d runs", s.Name, s.Seconds, s.PeakRSS, len(s.Runs))
			}
			sum += s.Seconds
		}
		if got := strings.Join(names, ","); got != "extract,landing,silver,gold,kpi" {
			t.Errorf("stages %s", got)
		}
		if d := ph.Total.Seconds - sum; d > 1e-9 || d < -1e-9 {
			t.Errorf("total %g s is not the sum of the stages, %g s", ph.Total.Seconds, sum)
		}
		if ph.Lake <= 0 {
			t.Error("no lake bytes")
		}
	}
	for _, name := range []string{"extract", "silver", "gold"} {
		for _, s := range w.Full.Stages {
			if s.Name == name && (s.Rows <= 0 || s.RowsPerSec <= 0) {
				t.Errorf("full %s: %d rows, %g rows/s", name, s.Rows, s.RowsPerSec)
			}
		}
	}
	if w.IncrementalRows <= 0 || w.ChangedFraction <= 0 || w.ChangedFraction >= 1 || w.IncrementalRatio <= 0 {
		t.Errorf("incremental: %d rows, changed %g, ratio %g", w.IncrementalRows, w.ChangedFraction, w.IncrementalRatio)
	}
	if w.Floor.Seconds <= 0 || w.Floor.PeakRSS <= 0 || w.FloorRatio <= 0 || w.Floor.Bytes <= 0 {
		t.Errorf("floor: %+v, ratio %g", w.Floor, w.FloorRatio)
	}
	if len(w.Queries) < 3 {
		t.Errorf("%d queries", len(w.Queries))
	}
	if w.API == nil || w.API.Requests != 20 || w.API.P99ms <= 0 || w.API.P99ms < w.API.P50ms {
		t.Errorf("api: %+v", w.API)
	}
	if len(rep.Targets) != 4 {
		t.Errorf("%d targets, want 4", len(rep.Targets))
	}
	if rep.Machine.Cores <= 0 || !strings.HasPrefix(rep.Machine.DuckDB, "v") {
		t.Errorf("machine: %+v", rep.Machine)
	}

	md := filepath.Join(out, "BENCHMARKS.md")
	os.WriteFile(md, []byte("old\n<!-- notes:begin -->\nhand-written\n<!-- notes:end -->\n"), 0o644)
	if err := rep.WriteMarkdown(md); err != nil {
		t.Fatal(err)
	}
	text, _ := os.ReadFile(md)
	for _, want := range []string{"## Targets", "full run vs the floor", "### Scale 0.1", "hand-written"} {
		if !strings.Contains(string(text), want) {
			t.Errorf("BENCHMARKS.md lacks %q", want)
		}
	}
	js := filepath.Join(out, "benchmarks.json")
	if err := rep.WriteJSON(js); err != nil {
		t.Fatal(err)
	}
	var back bench.Report
	data, _ := os.ReadFile(js)
	if err := json.Unmarshal(data, &back); err != nil || len(back.Worlds) != 1 || back.Worlds[0].Full.Total.Seconds != w.Full.Total.Seconds {
		t.Errorf("benchmarks.json does not read back: %v", err)
	}
}
