package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"time"
)

// Report is what a bench run measured; docs/benchmarks.json holds it and docs/BENCHMARKS.md
// is rendered from it.
type Report struct {
	Started  time.Time  `json:"started"`
	Finished time.Time  `json:"finished"`
	Command  string     `json:"command"`
	Machine  Machine    `json:"machine"`
	Settings Settings   `json:"settings"`
	Worlds   []*World   `json:"worlds"`
	Scaling  *Scaling   `json:"scaling,omitempty"`
	Changes  []*Scaling `json:"change_months,omitempty"` // the 1%-changed month on long histories, smallest first
	Change   *Scaling   `json:"change_month,omitempty"`  // an older report's single change month; read into Changes
	Targets  []Target   `json:"targets"`
}

// Machine describes where the figures were taken.
type Machine struct {
	Cores       int     `json:"cores"`
	MemoryBytes int64   `json:"memory_bytes"`
	CPU         string  `json:"cpu"`
	OS          string  `json:"os"`
	Go          string  `json:"go"`
	DuckDB      string  `json:"duckdb"`
	LoadAvg     float64 `json:"load_avg_1m_at_start"` // other work on the machine when the bench began
}

// Settings are the bench's options that shape the figures.
type Settings struct {
	Sizes       []float64 `json:"sizes"`
	Months      int       `json:"months"`
	MemoryLimit string    `json:"memory_limit"`
	Profile     bool      `json:"profile"`
}

// Step is one measured command, run once per repeat: the median wall time, the peak RSS over
// the repeats, and what it moved.
type Step struct {
	Name       string    `json:"name"`
	Command    string    `json:"command,omitempty"`
	Seconds    float64   `json:"seconds"` // median of Runs
	Runs       []float64 `json:"runs"`
	PeakRSS    int64     `json:"peak_rss_bytes"` // highest over the runs
	Rows       int64     `json:"rows,omitempty"`
	RowsPerSec float64   `json:"rows_per_sec,omitempty"`
	Bytes      int64     `json:"bytes_written,omitempty"` // lake growth during the step (median)
	Profiles   []string  `json:"profiles,omitempty"`
	byteRuns   []int64
	rssRuns    []int64
}

func (s *Step) add(x sample, rows, bytes int64) {
	s.Runs = append(s.Runs, x.Seconds)
	s.rssRuns = append(s.rssRuns, x.MaxRSS)
	s.byteRuns = append(s.byteRuns, bytes)
	s.Rows = rows
	s.Seconds = median(s.Runs)
	s.PeakRSS = maxInt(s.rssRuns)
	s.Bytes = medianInt(s.byteRuns)
	if s.Seconds > 0 {
		s.RowsPerSec = float64(s.Rows) / s.Seconds
	}
}

// Phase is a pipeline run split into its stages, each a subprocess.
type Phase struct {
	Stages []*Step     `json:"stages"`
	Total  Step        `json:"total"` // per repeat, the sum of the stages
	Tasks  []taskRow   `json:"tasks"` // the first repeat's tasks, for where the time goes
	Lake   int64       `json:"lake_bytes_after"`
	Runs   [][]float64 `json:"-"`
}

// peakStage names the stage with the highest peak RSS.
func (p *Phase) peakStage() string {
	var name string
	var peak int64
	for _, s := range p.Stages {
		if s.PeakRSS > peak {
			name, peak = s.Name, s.PeakRSS
		}
	}
	return name
}

func (p *Phase) stage(name, command string) *Step {
	for _, s := range p.Stages {
		if s.Name == name {
			return s
		}
	}
	s := &Step{Name: name, Command: command}
	p.Stages = append(p.Stages, s)
	return s
}

// World is one world size and everything measured on it.
type World struct {
	Scale        float64 `json:"scale"`
	Months       int     `json:"months"`
	Transactions int64   `json:"transactions"`
	EMRRows      int64   `json:"emr_rows"`
	ClaimsFiles  int     `json:"claims_files"`
	Repeat       int     `json:"repeat"`
	SourceBytes  int64   `json:"source_bytes"`

	Generate    Step  `json:"generate"`
	Full        Phase `json:"full"`
	Incremental Phase `json:"incremental"`
	AppendMonth Step  `json:"append_month"`
	// IncrementalRows is what the incremental month extracted from the EMRs and landing files;
	// ChangedFraction relates it to the rows the full run extracted.
	IncrementalRows  int64   `json:"incremental_rows"`
	ChangedFraction  float64 `json:"changed_fraction"`
	IncrementalRatio float64 `json:"incremental_ratio"` // incremental total / full total
	SilverRatio      float64 `json:"silver_incremental_ratio"`

	Queries []*Step `json:"queries"`
	Floor   Step    `json:"floor"`
	// FloorError says why the floor has no figure, when it failed.
	FloorError string `json:"floor_error,omitempty"`
	// FloorRatio is rcmlake's full run (all stages) over the floor.
	FloorRatio float64 `json:"floor_ratio"`

	ExtractPostgres *Step  `json:"extract_postgres,omitempty"`
	PostgresNote    string `json:"postgres_note,omitempty"`
	API             *API   `json:"api,omitempty"`
}

// API is a load test of the dashboard's KPI API.
type API struct {
	Clients   int     `json:"clients"`
	Requests  int     `json:"requests"`
	P50ms     float64 `json:"p50_ms"`
	P99ms     float64 `json:"p99_ms"`
	MaxMs     float64 `json:"max_ms"`
	ReqPerSec float64 `json:"req_per_sec"`
	Errors    int     `json:"errors"`
	PeakRSS   int64   `json:"server_peak_rss_bytes"`
}

// Scaling is the incremental month's cost as the lake's history grows (or, for the change
// world, on one long history).
type Scaling struct {
	Scale        float64            `json:"scale"`
	FirstMonths  int                `json:"first_months,omitempty"`       // history of the full run
	Transactions int64              `json:"transactions,omitempty"`       // after the full run's months
	Full         Step               `json:"full"`                         // the full run on FirstMonths
	FullStages   map[string]float64 `json:"full_stage_seconds,omitempty"` // its stages
	FullRows     int64              `json:"full_rows,omitempty"`          // rows the full run extracted
	FullPeakIn   string             `json:"full_peak_stage,omitempty"`    // the stage of its peak RSS
	Points       []ScalingPoint     `json:"points"`
}

// changedShare is the first incremental month's extracted rows against the full run's.
func (s *Scaling) changedShare() float64 {
	if s.FullRows == 0 || len(s.Points) == 0 {
		return 0
	}
	return float64(s.Points[0].Rows) / float64(s.FullRows)
}

// ScalingPoint is one incremental month on a lake holding Months months of history.
type ScalingPoint struct {
	Months  int                `json:"history_months"`
	Seconds float64            `json:"seconds"`
	Stages  map[string]float64 `json:"stage_seconds"`
	Silver  float64            `json:"silver_seconds"`
	PeakRSS int64              `json:"peak_rss_bytes"`
	PeakIn  string             `json:"peak_stage,omitempty"` // the stage of PeakRSS
	Rows    int64              `json:"rows"`
}

// Target is one acceptance target and how the run did against it.
type Target struct {
	Name     string  `json:"name"`
	Want     string  `json:"want"`
	Measured string  `json:"measured"`
	Met      bool    `json:"met"`
	Margin   string  `json:"margin"`
	Value    float64 `json:"value"`
	Limit    float64 `json:"limit"`
	Scale    float64 `json:"scale"`
}

// WriteJSON writes the report.
func (r *Report) WriteJSON(path string) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func medianInt(xs []int64) int64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]int64(nil), xs...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func maxInt(xs []int64) int64 {
	var m int64
	for _, x := range xs {
		m = max(m, x)
	}
	return m
}

// Merge adds the worlds of an earlier report (path) whose sizes this run did not measure, and
// its scaling run and change months when this one has none, so that sizes can be measured in separate runs (the
// 10M world takes long) and reported together. Each world keeps its own figures; the targets
// are stated again over the merged worlds.
func (r *Report) Merge(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var old Report
	if err := json.Unmarshal(data, &old); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	have := map[float64]bool{}
	for _, w := range r.Worlds {
		have[w.Scale] = true
	}
	for _, w := range old.Worlds {
		if !have[w.Scale] {
			r.Worlds = append(r.Worlds, w)
		}
	}
	sort.Slice(r.Worlds, func(i, j int) bool { return r.Worlds[i].Scale < r.Worlds[j].Scale })
	r.Settings.Sizes = nil
	for _, w := range r.Worlds {
		r.Settings.Sizes = append(r.Settings.Sizes, w.Scale)
	}
	old.upgrade()
	for _, c := range old.Changes {
		r.setChange(c, false)
	}
	if r.Scaling == nil {
		r.Scaling = old.Scaling
	}
	if old.Command != "" && old.Command != r.Command {
		r.Command = old.Command + "` and `" + r.Command
	}
	if !old.Started.IsZero() && old.Started.Before(r.Started) {
		r.Started = old.Started
	}
	if old.Finished.After(r.Finished) {
		r.Finished = old.Finished
	}
	r.Targets = targets(r)
	return nil
}

// ReadReport reads a benchmarks.json.
func ReadReport(path string) (*Report, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Report
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	r.upgrade()
	return &r, nil
}

// Restate states the targets again over the report's worlds.
func (r *Report) Restate() { r.Targets = targets(r) }

// upgrade moves an older report's single change month into Changes.
func (r *Report) upgrade() {
	if r.Change != nil {
		r.setChange(r.Change, false)
		r.Change = nil
	}
}

// setChange records the change month of one world size: it replaces the one of the same size
// when replace is set, and otherwise is added only when that size has none.
func (r *Report) setChange(s *Scaling, replace bool) {
	for i, c := range r.Changes {
		if c.Scale == s.Scale {
			if replace {
				r.Changes[i] = s
			}
			return
		}
	}
	r.Changes = append(r.Changes, s)
	sort.SliceStable(r.Changes, func(i, j int) bool { return r.Changes[i].size() < r.Changes[j].size() })
}

// size orders history worlds by their transactions (scale per 12 months when not recorded).
func (s *Scaling) size() float64 {
	if s.Transactions > 0 {
		return float64(s.Transactions)
	}
	return s.Scale * float64(max(s.FirstMonths, 12)) / 12 * 20000
}
