package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/rcmlake/rcmlake/bench"
)

// TestBenchHarness runs the benchmark harness on a tiny world: every figure it reports is
// measured (positive), the full run is the sum of its stages, the floor ran, and both the
// Markdown and the JSON carry the targets.
func TestBenchHarness(t *testing.T) {
	if testing.Short() {
		t.Skip("bench harness: not in -short")
	}
	var log bytes.Buffer
	rep, err := bench.Run(context.Background(), bench.Options{Binary: testBinary(t), Work: t.TempDir(), Scales: []float64{0.2},
		Months: 3, Repeat: 1, MemoryLimit: "1GB", ScalingScale: 0.2, ScalingMonths: []int{2}, APIClients: 4, APIRequests: 5, Log: &log})
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	s := rep.Sizes[0]
	if s.Transactions == 0 || s.EMRRows == 0 || s.ClaimRows == 0 || len(s.Stages) != 3 || len(s.Incremental) != 3 {
		t.Fatalf("size report: %+v", s)
	}
	var sum float64
	for _, st := range append(append([]bench.Step{}, s.Stages...), s.Floor, s.IncrementalTotal, s.ExtractSQLite) {
		if st.Seconds <= 0 || st.PeakRSSMB <= 0 {
			t.Errorf("step %q: %+v", st.Name, st)
		}
	}
	for _, st := range s.Stages {
		sum += st.Seconds
		if st.Rows <= 0 || st.BytesOut <= 0 {
			t.Errorf("stage %q moved nothing: %+v", st.Name, st)
		}
	}
	if d := s.Full.Seconds - sum; d > 1e-9 || d < -1e-9 || s.FloorRatio <= 0 || s.IncrementalRowsPct <= 0 {
		t.Errorf("full %v, stages %v, floor ratio %v, incremental rows %v%%", s.Full.Seconds, sum, s.FloorRatio, s.IncrementalRowsPct)
	}
	if len(s.KPI) < 2 || s.API == nil || s.API.Errors != 0 || s.API.P99Ms <= 0 || len(rep.Scaling) != 1 || len(rep.Targets) != 4 {
		t.Errorf("kpi %v, api %+v, scaling %v, targets %v", s.KPI, s.API, rep.Scaling, rep.Targets)
	}
	var md, js bytes.Buffer
	if err := bench.WriteMarkdown(&md, rep, "rcmlake bench", "notes here"); err != nil {
		t.Fatal(err)
	}
	bench.WriteJSON(&js, rep)
	var back bench.Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || back.Sizes[0].Full.Seconds != s.Full.Seconds {
		t.Errorf("JSON round trip: %v", err)
	}
	for _, want := range []string{"## Targets", "full run vs the floor", "notes here", "| 2 |", "bench/floor.sql"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("BENCHMARKS.md lacks %q", want)
		}
	}
}
