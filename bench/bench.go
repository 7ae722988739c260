// Package bench is `rcmlake bench`: it generates worlds of several sizes and times rcmlake on
// them, stage by stage, against a floor (the same full refresh as one plain DuckDB script),
// and writes docs/BENCHMARKS.md and a JSON twin. Every step runs the rcmlake binary as a
// subprocess, so each peak RSS is that step's own.
package bench

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/rcmlake/rcmlake/config"
)

// Options say what to measure.
type Options struct {
	Binary        string    // the rcmlake binary to time
	Work          string    // scratch folder for the worlds and lakes
	Scales        []float64 // world sizes: 1 is the seed's (20k transactions a year)
	Months        int       // months of history per world
	Repeat        int       // runs per size below RepeatOnceFrom; the median is reported
	RepeatOnceAt  float64   // scales from here run once (10M transactions take a while)
	MemoryLimit   string    // engine.memory_limit for rcmlake and the floor
	ScalingScale  float64   // world size of the history-scaling runs
	ScalingMonths []int     // months of history the scaling runs hold before the timed month
	PostgresDSN   string    // when set, extraction is also timed from PostgreSQL
	APIClients    int       // dashboard KPI API load: concurrent clients
	APIRequests   int       // and requests per client
	Log           io.Writer
}

// Report is everything one bench run measured.
type Report struct {
	Command string       `json:"command"` // how to rerun it
	Started time.Time    `json:"started"`
	Machine Machine      `json:"machine"`
	Options ReportOpts   `json:"options"`
	Sizes   []SizeReport `json:"sizes"`
	Scaling []ScalePoint `json:"scaling"`
	Targets []Target     `json:"targets"`
}

// ReportOpts are the options a reader needs to rerun the report.
type ReportOpts struct {
	Scales        []float64 `json:"scales"`
	Months        int       `json:"months"`
	Repeat        int       `json:"repeat"`
	MemoryLimit   string    `json:"memory_limit"`
	ScalingScale  float64   `json:"scaling_scale"`
	ScalingMonths []int     `json:"scaling_months"`
	Postgres      bool      `json:"postgres"`
}

// SizeReport is one world's figures, medians over its repeats.
type SizeReport struct {
	Scale        float64 `json:"scale"`
	Transactions int64   `json:"transactions"`
	EMRRows      int64   `json:"emr_rows"`
	ClaimRows    int64   `json:"claim_rows"`
	Repeats      int     `json:"repeats"`
	Generate     Step    `json:"generate"`
	// The full run, source to KPIs, as its three stage commands.
	Stages []Step `json:"stages"`
	Full   Step   `json:"full"`
	// One more month appended to the sources, then the same stages.
	Incremental      []Step  `json:"incremental_stages"`
	IncrementalTotal Step    `json:"incremental"`
	IncrementalRatio float64 `json:"incremental_ratio"`
	// Rows the incremental month read, as a share of the rows of the full run.
	IncrementalRowsPct float64  `json:"incremental_rows_pct"`
	KPI                []Step   `json:"kpi_queries"`
	Floor              Step     `json:"floor"`
	FloorRatio         float64  `json:"floor_ratio"`
	ExtractSQLite      Step     `json:"extract_sqlite"`
	ExtractPostgres    *Step    `json:"extract_postgres,omitempty"`
	API                *APILoad `json:"kpi_api,omitempty"`
}

// ScalePoint is the cost of one incremental month on a lake holding Months of history.
type ScalePoint struct {
	Months      int     `json:"months"`
	Seconds     float64 `json:"seconds"`
	PeakRSSMB   float64 `json:"peak_rss_mb"`
	RowsRead    int64   `json:"rows_read"`
	FullSeconds float64 `json:"full_seconds"`
}

// Target is one goal of issue #9 with the measured figure.
type Target struct {
	Name     string  `json:"name"`
	Goal     string  `json:"goal"`
	Measured string  `json:"measured"`
	Met      bool    `json:"met"`
	Value    float64 `json:"value"`
	Limit    float64 `json:"limit"`
}

func (o *Options) logf(format string, args ...any) {
	if o.Log != nil {
		fmt.Fprintf(o.Log, format+"\n", args...)
	}
}

// Run measures every size, then the history scaling, and returns the report.
func Run(ctx context.Context, o Options) (*Report, error) {
	if o.Months <= 0 {
		o.Months = 12
	}
	if o.Repeat <= 0 {
		o.Repeat = 3
	}
	if err := os.MkdirAll(o.Work, 0o755); err != nil {
		return nil, err
	}
	rep := &Report{Started: time.Now().UTC(), Machine: DescribeMachine(o.Binary),
		Options: ReportOpts{Scales: o.Scales, Months: o.Months, Repeat: o.Repeat, MemoryLimit: o.MemoryLimit,
			ScalingScale: o.ScalingScale, ScalingMonths: o.ScalingMonths, Postgres: o.PostgresDSN != ""}}
	r := &runner{bin: o.Binary, log: o.logf}
	for _, scale := range o.Scales {
		s, err := o.measureSize(ctx, r, scale)
		if err != nil {
			return rep, fmt.Errorf("scale %g: %w", scale, err)
		}
		rep.Sizes = append(rep.Sizes, s)
	}
	for _, months := range o.ScalingMonths {
		p, err := o.measureScaling(ctx, r, months)
		if err != nil {
			return rep, fmt.Errorf("scaling at %d months: %w", months, err)
		}
		rep.Scaling = append(rep.Scaling, p)
	}
	rep.Targets = targets(rep)
	return rep, nil
}

// generate makes a world in dir (reused when a complete one is there) with the bench's
// engine limits in its config.
func (o *Options) generate(ctx context.Context, r *runner, dir string, scale float64, months int, extra ...string) (Step, error) {
	done := filepath.Join(dir, ".bench-generated")
	if _, err := os.Stat(done); err == nil {
		o.logf("  reusing the world in %s", dir)
		return Step{Name: "generate (reused)"}, nil
	}
	os.RemoveAll(dir)
	args := append([]string{"generate", "--out", dir, "--scale", fmt.Sprint(scale), "--months", fmt.Sprint(months)}, extra...)
	st, _, err := r.run(ctx, o.Work, "generate", args...)
	if err != nil {
		return st, err
	}
	if err := o.limitEngine(dir); err != nil {
		return st, err
	}
	return st, os.WriteFile(done, nil, 0o644)
}

// limitEngine adds the bench's engine limits to a generated world's config.
func (o *Options) limitEngine(dir string) error {
	if o.MemoryLimit == "" {
		return nil
	}
	f, err := os.OpenFile(filepath.Join(dir, "rcmlake.yaml"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	fmt.Fprintf(f, "\nengine:\n  memory_limit: %s\n  temp_dir: %s\n", o.MemoryLimit, filepath.Join(dir, "spill"))
	return f.Close()
}

var stageCommands = []struct {
	name string
	args []string
}{
	{"ingest (bronze)", []string{"ingest"}},
	{"silver", []string{"transform", "silver"}},
	{"gold + KPI tables", []string{"transform", "gold"}},
}

// stages runs ingest, silver and gold in a world, with the rows each read.
func (o *Options) stages(ctx context.Context, r *runner, dir string) ([]Step, int64, error) {
	before, err := o.bronzeRows(ctx, r, dir)
	if err != nil {
		return nil, 0, err
	}
	var out []Step
	for _, c := range stageCommands {
		lake := dirBytes(filepath.Join(dir, "lake"))
		st, _, err := r.run(ctx, dir, c.name, c.args...)
		if err != nil {
			return out, 0, err
		}
		st.BytesOut = dirBytes(filepath.Join(dir, "lake")) - lake
		out = append(out, st)
	}
	after, err := o.bronzeRows(ctx, r, dir)
	if err != nil {
		return out, 0, err
	}
	for i := range out {
		out[i].Rows = after - before // every stage handles the rows this run brought in
		out[i].RowsPerSec = float64(out[i].Rows) / out[i].Seconds
	}
	return out, after - before, nil
}

func total(name string, steps []Step) Step {
	t := Step{Name: name}
	for _, s := range steps {
		t.Seconds += s.Seconds
		t.PeakRSSMB = max(t.PeakRSSMB, s.PeakRSSMB)
		t.BytesOut += s.BytesOut
		t.Rows = max(t.Rows, s.Rows)
	}
	if t.Seconds > 0 {
		t.RowsPerSec = float64(t.Rows) / t.Seconds
	}
	return t
}

func (o *Options) measureSize(ctx context.Context, r *runner, scale float64) (SizeReport, error) {
	s := SizeReport{Scale: scale, Repeats: o.Repeat}
	if o.RepeatOnceAt > 0 && scale >= o.RepeatOnceAt {
		s.Repeats = 1
	}
	o.logf("== scale %g (%d months, %d repeat(s))", scale, o.Months, s.Repeats)
	world := filepath.Join(o.Work, fmt.Sprintf("world-%g", scale))
	var err error
	if s.Generate, err = o.generate(ctx, r, world, scale, o.Months); err != nil {
		return s, err
	}
	cfg, err := config.Load(filepath.Join(world, "rcmlake.yaml"))
	if err != nil {
		return s, err
	}

	// The floor first, on the pristine world (ingest moves landing files away).
	exports := filepath.Join(o.Work, fmt.Sprintf("export-%g", scale))
	if _, err := os.Stat(filepath.Join(exports, ".done")); err != nil {
		if err := ExportEMR(ctx, cfg, exports); err != nil {
			return s, err
		}
		os.WriteFile(filepath.Join(exports, ".done"), nil, 0o644)
	}
	var floors []Step
	for i := 0; i < s.Repeats; i++ {
		out := filepath.Join(o.Work, "floor-out")
		os.RemoveAll(out)
		st, _, err := r.run(ctx, o.Work, "floor (plain DuckDB)", "bench", "floor", "--world", world, "--exports", exports,
			"--out", out, "--memory-limit", o.MemoryLimit)
		if err != nil {
			return s, err
		}
		st.BytesOut = dirBytes(out)
		floors = append(floors, st)
	}
	s.Floor = medianStep(floors)

	var stages, incs [][]Step
	var pct []float64
	run := filepath.Join(o.Work, "run")
	for i := 0; i < s.Repeats; i++ {
		if err := cloneWorld(world, run); err != nil {
			return s, err
		}
		full, rows, err := o.stages(ctx, r, run)
		if err != nil {
			return s, err
		}
		stages = append(stages, full)
		if i == 0 {
			if err := o.countWorld(ctx, r, run, &s); err != nil {
				return s, err
			}
			if s.KPI, err = o.kpiQueries(ctx, r, run); err != nil {
				return s, err
			}
			if o.APIClients > 0 {
				api, err := measureAPI(ctx, r, run, o.APIClients, o.APIRequests)
				if err != nil {
					return s, err
				}
				s.API = &api
			}
		}
		if _, _, err := r.run(ctx, o.Work, "append a month (untimed)", "generate", "--out", run, "--append-month"); err != nil {
			return s, err
		}
		inc, incRows, err := o.stages(ctx, r, run)
		if err != nil {
			return s, err
		}
		incs = append(incs, inc)
		pct = append(pct, 100*float64(incRows)/float64(rows))
	}
	for i := range stageCommands {
		var a, b []Step
		for j := range stages {
			a = append(a, stages[j][i])
			b = append(b, incs[j][i])
		}
		s.Stages = append(s.Stages, medianStep(a))
		s.Incremental = append(s.Incremental, medianStep(b))
	}
	s.Full = total("full run", s.Stages)
	s.IncrementalTotal = total("incremental month", s.Incremental)
	s.IncrementalRatio = s.IncrementalTotal.Seconds / s.Full.Seconds
	s.IncrementalRowsPct = median(pct)
	s.FloorRatio = s.Full.Seconds / s.Floor.Seconds
	s.ExtractSQLite = s.Stages[0]
	s.ExtractSQLite.Name = "extract (SQLite EMRs + claims CSVs)"
	s.ExtractSQLite.Rows = s.EMRRows + s.ClaimRows
	s.ExtractSQLite.RowsPerSec = float64(s.ExtractSQLite.Rows) / s.ExtractSQLite.Seconds

	if o.PostgresDSN != "" {
		st, err := o.measurePostgres(ctx, r, scale, s.EMRRows+s.ClaimRows)
		if err != nil {
			return s, err
		}
		s.ExtractPostgres = &st
	}
	return s, nil
}

// measurePostgres generates the same world with its EMRs in PostgreSQL and times the ingest.
func (o *Options) measurePostgres(ctx context.Context, r *runner, scale float64, rows int64) (Step, error) {
	dir := filepath.Join(o.Work, fmt.Sprintf("world-pg-%g", scale))
	os.Remove(filepath.Join(dir, ".bench-generated")) // the database is shared: always regenerate
	if _, err := o.generate(ctx, r, dir, scale, o.Months, "--emr-dsn", o.PostgresDSN); err != nil {
		return Step{}, err
	}
	st, _, err := r.run(ctx, dir, "extract (PostgreSQL EMRs + claims CSVs)", "ingest")
	if err != nil {
		return st, err
	}
	st.Name = "extract (PostgreSQL EMRs + claims CSVs)"
	st.Rows = rows
	st.RowsPerSec = float64(rows) / st.Seconds
	return st, nil
}

// measureScaling times one appended month on a lake that already holds months of history.
func (o *Options) measureScaling(ctx context.Context, r *runner, months int) (ScalePoint, error) {
	o.logf("== scaling: %d months of history at scale %g", months, o.ScalingScale)
	world := filepath.Join(o.Work, fmt.Sprintf("scaling-%d", months))
	if _, err := o.generate(ctx, r, world, o.ScalingScale, months); err != nil {
		return ScalePoint{}, err
	}
	run := filepath.Join(o.Work, "run")
	if err := cloneWorld(world, run); err != nil {
		return ScalePoint{}, err
	}
	full, _, err := o.stages(ctx, r, run)
	if err != nil {
		return ScalePoint{}, err
	}
	if _, _, err := r.run(ctx, o.Work, "append a month (untimed)", "generate", "--out", run, "--append-month"); err != nil {
		return ScalePoint{}, err
	}
	inc, rows, err := o.stages(ctx, r, run)
	if err != nil {
		return ScalePoint{}, err
	}
	t := total("incremental", inc)
	return ScalePoint{Months: months, Seconds: t.Seconds, PeakRSSMB: t.PeakRSSMB, RowsRead: rows, FullSeconds: total("full", full).Seconds}, nil
}

// query runs SQL through `rcmlake query` and returns the first cell.
func (o *Options) query(ctx context.Context, r *runner, dir, sql string) (string, error) {
	saved := r.log
	r.log = func(string, ...any) {}
	defer func() { r.log = saved }()
	_, out, err := r.run(ctx, dir, "query", "query", "--format", "csv", "--log-level", "error", sql)
	if err != nil {
		return "", err
	}
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(recs) < 2 || len(recs[1]) == 0 {
		return "", fmt.Errorf("query %q: unexpected output %q", sql, out)
	}
	return recs[1][0], nil
}

func (o *Options) queryInt(ctx context.Context, r *runner, dir, sql string) (int64, error) {
	v, err := o.query(ctx, r, dir, sql)
	if err != nil {
		return 0, err
	}
	if v == "" {
		return 0, nil
	}
	return strconv.ParseInt(v, 10, 64)
}

// bronzeRows is the number of rows every committed bronze load has copied so far.
func (o *Options) bronzeRows(ctx context.Context, r *runner, dir string) (int64, error) {
	if _, err := os.Stat(filepath.Join(dir, "lake", "audit", "load_logs")); err != nil {
		return 0, nil
	}
	return o.queryInt(ctx, r, dir, "SELECT sum(numberofrowscopied) FROM audit.load_logs WHERE status = 'success'")
}

func (o *Options) countWorld(ctx context.Context, r *runner, dir string, s *SizeReport) error {
	var err error
	if s.Transactions, err = o.queryInt(ctx, r, dir, "SELECT count(*) FROM gold.fact_transaction"); err != nil {
		return err
	}
	if s.EMRRows, err = o.queryInt(ctx, r, dir, "SELECT sum(numberofrowscopied) FROM audit.load_logs WHERE status = 'success' AND data_source <> 'ref' AND tablename <> 'claims'"); err != nil {
		return err
	}
	s.ClaimRows, err = o.queryInt(ctx, r, dir, "SELECT sum(numberofrowscopied) FROM audit.load_logs WHERE status = 'success' AND tablename = 'claims'")
	return err
}

// kpiQueries times `rcmlake kpi` and every named query.
func (o *Options) kpiQueries(ctx context.Context, r *runner, dir string) ([]Step, error) {
	st, _, err := r.run(ctx, dir, "kpi", "kpi", "--format", "json")
	if err != nil {
		return nil, err
	}
	out := []Step{st}
	_, list, err := r.run(ctx, dir, "query --list", "query", "--list")
	if err != nil {
		return nil, err
	}
	for _, name := range strings.Fields(list) {
		st, _, err := r.run(ctx, dir, "query --named "+name, "query", "--named", name, "--format", "csv")
		if err != nil {
			return out, err
		}
		out = append(out, st)
	}
	return out, nil
}
