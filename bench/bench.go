// Package bench is rcmlake's benchmark harness (rcmlake bench): it generates worlds of
// several sizes, runs the pipeline on them as child processes (full run by stage, an
// incremental month, the KPI queries, the dashboard API under load), runs the same full refresh
// as a plain DuckDB script (the floor) and extracts from PostgreSQL, and writes what it
// measured as JSON and Markdown.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Options configure a bench run.
type Options struct {
	Bin           string    // the rcmlake binary the steps run (default: this executable)
	Dir           string    // work folder for worlds and lakes
	OutDir        string    // where benchmarks.json and BENCHMARKS.md go
	Sizes         []float64 // generate --scale values; 1 is the seed's 20k transactions
	Months        int       // months of history of each world
	Repeat        int       // runs per step; 0: 3 below scale 100, 1 from there
	MemoryLimit   string    // engine.memory_limit in the worlds' configs
	Profile       bool      // write pprof profiles of the first repeat's stages
	Postgres      []float64 // sizes at which to extract from PostgreSQL too
	ScalingScale  float64   // size of the history-scaling world; 0 skips it
	ScalingMonths []int     // history lengths the incremental month is timed at
	ChangeScales  []float64 // sizes of the long-history worlds of the 1%-changed month; none skips it
	ChangeMonths  int       // their history (96: a month is about 1% of the rows)
	APIClients    int
	APIRequests   int // per client
	Keep          bool
	// PostgresOnto, when set, is an earlier report: the run only extracts from PostgreSQL at
	// its worlds' sizes among Postgres, and adds those figures to it.
	PostgresOnto *Report
	Log          io.Writer
	// Progress, when set, gets the report so far after each phase, so that a long run that
	// is stopped still leaves its figures.
	Progress func(*Report)
}

// Bench runs the benchmarks.
type Bench struct {
	opts   Options
	report *Report
	cur    *World // the world being measured
}

// checkpoint hands the report so far, with the world being measured, to Options.Progress.
func (b *Bench) checkpoint() {
	if b.opts.Progress == nil {
		return
	}
	r := *b.report
	r.Worlds = append([]*World(nil), r.Worlds...)
	if b.cur != nil && !slices.Contains(r.Worlds, b.cur) {
		r.Worlds = append(r.Worlds, b.cur)
	}
	r.Targets = targets(&r)
	r.Finished = time.Now().UTC()
	b.opts.Progress(&r)
}

// New checks the options and fills in defaults.
func New(o Options) (*Bench, error) {
	if o.Bin == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, err
		}
		o.Bin = exe
	}
	if o.ChangeMonths <= 0 {
		o.ChangeMonths = 96
	}
	if len(o.Sizes) == 0 && o.ScalingScale <= 0 && len(o.ChangeScales) == 0 && o.PostgresOnto == nil {
		return nil, errors.New("nothing to measure: no sizes and no scaling run")
	}
	if o.Months <= 0 {
		o.Months = 12
	}
	if o.MemoryLimit == "" {
		o.MemoryLimit = "2GB"
	}
	if o.APIClients <= 0 {
		o.APIClients = 50
	}
	if o.APIRequests <= 0 {
		o.APIRequests = 40
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	abs, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, err
	}
	o.Dir = abs
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, err
	}
	return &Bench{opts: o}, nil
}

func (b *Bench) logf(format string, args ...any) {
	fmt.Fprintf(b.opts.Log, "%s  "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

func (b *Bench) repeat(scale float64) int {
	if b.opts.Repeat > 0 {
		return b.opts.Repeat
	}
	if scale >= 100 {
		return 1
	}
	return 3
}

// Run measures every size and returns the report.
func (b *Bench) Run(ctx context.Context, command string) (*Report, error) {
	b.report = &Report{Started: time.Now().UTC(), Command: command, Machine: machine(ctx),
		Settings: Settings{Sizes: b.opts.Sizes, Months: b.opts.Months, MemoryLimit: b.opts.MemoryLimit, Profile: b.opts.Profile}}
	defer func() { // a stopped run's report too says when it ended
		b.report.Targets = targets(b.report)
		b.report.Finished = time.Now().UTC()
	}()
	if r := b.opts.PostgresOnto; r != nil {
		r.Command += "` and `" + command
		b.report = r
		var sizes []float64
		for _, w := range r.Worlds {
			sizes = append(sizes, w.Scale)
		}
		return r, b.postgres(ctx, sizes)
	}
	// Small worlds and the history runs first, the big worlds last, so that a long run that is
	// stopped has measured everything but the biggest world.
	var small, big, smallChange, bigChange []float64
	for _, scale := range b.opts.Sizes {
		if scale < 100 {
			small = append(small, scale)
		} else {
			big = append(big, scale)
		}
	}
	for _, scale := range b.opts.ChangeScales {
		if scale*float64(b.opts.ChangeMonths)/12 < 100 {
			smallChange = append(smallChange, scale)
		} else {
			bigChange = append(bigChange, scale)
		}
	}
	if err := b.worlds(ctx, small); err != nil {
		return b.report, err
	}
	if err := b.changeMonths(ctx, smallChange); err != nil {
		return b.report, err
	}
	if b.opts.ScalingScale > 0 {
		err := b.scaling(ctx)
		if err != nil {
			return b.report, fmt.Errorf("scaling: %w", err)
		}
	}
	if err := b.worlds(ctx, big); err != nil {
		return b.report, err
	}
	if err := b.changeMonths(ctx, bigChange); err != nil {
		return b.report, err
	}
	return b.report, nil
}

// worlds measures each size, then extraction from PostgreSQL at those sizes.
func (b *Bench) worlds(ctx context.Context, sizes []float64) error {
	for _, scale := range sizes {
		w, err := b.world(ctx, scale)
		if w != nil {
			b.report.Worlds = append(b.report.Worlds, w)
		}
		if err != nil {
			return fmt.Errorf("scale %g: %w", scale, err)
		}
	}
	return b.postgres(ctx, sizes)
}

// stageDef is a stage of the pipeline and the tasks (rcmlake run --select) it runs.
type stageDef struct {
	name    string
	selects []string
}

// stages splits the pipeline's DAG into stages run one after another: extraction from the
// EMRs, the landing files and reference data, silver, gold's star schema and the KPI table.
func stages(w worldSize) []stageDef {
	var emr []string
	for _, t := range w.tables {
		emr = append(emr, "bronze.*."+t)
	}
	return []stageDef{
		{"extract", emr},
		{"landing", []string{"bronze.*.claims", "bronze.ref.*"}},
		{"silver", []string{"silver.*"}},
		{"gold", []string{"gold.dim_*", "gold.fact_*"}},
		{"kpi", []string{"gold.kpi_monthly"}},
	}
}

var planRe = regexp.MustCompile(`^(\d+) tasks in`)

// checkStages makes sure the stages together run every task of the plan, once.
func (b *Bench) checkStages(ctx context.Context, world string, defs []stageDef) error {
	logPath := filepath.Join(world, "bench.log")
	all, err := b.runProc(ctx, world, logPath, "run", "--dry-run")
	if err != nil {
		return err
	}
	m := planRe.FindStringSubmatch(all.Stdout)
	if m == nil {
		return fmt.Errorf("rcmlake run --dry-run: no task count in %q", all.Stdout)
	}
	want, _ := strconv.Atoi(m[1])
	got := 0
	for _, d := range defs {
		s, err := b.runProc(ctx, world, logPath, "run", "--dry-run", "--select", strings.Join(d.selects, ","))
		if err != nil {
			return err
		}
		n := planRe.FindStringSubmatch(s.Stdout)
		if n == nil {
			return fmt.Errorf("stage %s: no task count", d.name)
		}
		k, _ := strconv.Atoi(n[1])
		got += k
	}
	if got != want {
		return fmt.Errorf("the stages run %d tasks, the plan has %d: the stage selections are out of date", got, want)
	}
	return nil
}

// runPhase runs the pipeline stage by stage on a world and records each stage into p.
func (b *Bench) runPhase(ctx context.Context, world string, p *Phase, defs []stageDef, profile string) error {
	logPath := filepath.Join(world, "bench.log")
	lake := filepath.Join(world, "lake")
	var total sample
	var rows int64
	before0 := dirBytes(lake)
	first := len(p.Tasks) == 0
	for _, d := range defs {
		args := []string{"--log-level", "warn", "run", "--select", strings.Join(d.selects, ",")}
		var profs []string
		if profile != "" {
			cpu, mem := profile+"-"+d.name+".cpu.pprof", profile+"-"+d.name+".heap.pprof"
			args = append([]string{"--cpuprofile", cpu, "--memprofile", mem}, args...)
			profs = []string{cpu, mem}
		}
		before := dirBytes(lake)
		s, err := b.runProc(ctx, world, logPath, args...)
		if err != nil {
			return err
		}
		tasks, err := parseTasks(s.Stdout)
		if err != nil {
			return fmt.Errorf("stage %s: %w", d.name, err)
		}
		var n int64
		for _, t := range tasks {
			if t.Status != "success" {
				return fmt.Errorf("stage %s: task %s %s (log: %s)", d.name, t.Task, t.Status, logPath)
			}
			n += t.RowsOut
		}
		if first {
			p.Tasks = append(p.Tasks, tasks...)
		}
		st := p.stage(d.name, "rcmlake run --select '"+strings.Join(d.selects, ",")+"'")
		st.add(s, n, dirBytes(lake)-before)
		if len(profs) > 0 {
			st.Profiles = profs
		}
		total.Seconds += s.Seconds
		total.MaxRSS = max(total.MaxRSS, s.MaxRSS)
		rows += n
		b.logf("  %-8s %7.1fs  %6d MiB  %d rows", d.name, s.Seconds, s.MaxRSS>>20, n)
	}
	p.Lake = dirBytes(lake)
	p.Total.Name = "total"
	p.Total.add(total, rows, p.Lake-before0)
	return nil
}

// world measures one size.
func (b *Bench) world(ctx context.Context, scale float64) (*World, error) {
	root := filepath.Join(b.opts.Dir, fmt.Sprintf("scale-%g", scale))
	os.RemoveAll(root)
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, err
	}
	if !b.opts.Keep {
		defer os.RemoveAll(root)
	}
	pristine := filepath.Join(root, "pristine")
	w := &World{Scale: scale, Repeat: b.repeat(scale)}
	b.cur = w
	defer b.checkpoint()
	b.logf("scale %g: generate", scale)
	g, err := b.runProc(ctx, root, filepath.Join(root, "bench.log"), "generate", "--out", pristine,
		"--scale", fmt.Sprint(scale), "--months", strconv.Itoa(b.opts.Months))
	if err != nil {
		return w, err
	}
	ws, _, err := readWorld(pristine)
	if err != nil {
		return w, err
	}
	w.Months, w.Transactions, w.EMRRows, w.ClaimsFiles = ws.Months, ws.Transactions, ws.EMRRows, ws.ClaimsFiles
	w.SourceBytes = dirBytes(pristine)
	w.Generate = Step{Name: "generate", Command: fmt.Sprintf("rcmlake generate --scale %g --months %d", scale, b.opts.Months)}
	w.Generate.add(g, ws.Transactions, w.SourceBytes)
	b.logf("scale %g: %d transactions, %d EMR rows, generated in %.1fs", scale, ws.Transactions, ws.EMRRows, g.Seconds)
	if err := b.patchConfig(pristine); err != nil {
		return w, err
	}
	defs := stages(ws)
	if err := b.checkStages(ctx, pristine, defs); err != nil {
		return w, err
	}

	floorIn := filepath.Join(root, "floor")
	b.logf("scale %g: export the EMRs to CSV for the floor (untimed)", scale)
	if err := ExportForFloor(ctx, pristine, floorIn); err != nil {
		return w, fmt.Errorf("floor export: %w", err)
	}

	profDir := filepath.Join(b.opts.OutDir, "profiles")
	for r := 0; r < w.Repeat; r++ {
		work := filepath.Join(root, fmt.Sprintf("run-%d", r))
		if r == w.Repeat-1 && !b.opts.Keep {
			// The last repeat takes the pristine world itself: no copy (tens of GB at scale 500).
			if err := os.Rename(pristine, work); err != nil {
				return w, err
			}
		} else if err := copyTree(pristine, work); err != nil {
			return w, err
		}
		prof := ""
		if b.opts.Profile && r == 0 {
			os.MkdirAll(profDir, 0o755)
			prof = filepath.Join(profDir, fmt.Sprintf("scale-%g-full", scale))
		}
		b.logf("scale %g, repeat %d: full run", scale, r+1)
		if err := b.runPhase(ctx, work, &w.Full, defs, prof); err != nil {
			return w, err
		}
		b.checkpoint()
		b.logf("scale %g, repeat %d: KPI queries", scale, r+1)
		if err := b.queries(ctx, work, w); err != nil {
			return w, err
		}
		b.logf("scale %g, repeat %d: append a month (untimed) and run it", scale, r+1)
		a, err := b.runProc(ctx, work, filepath.Join(work, "bench.log"), "generate", "--out", ".", "--append-month")
		if err != nil {
			return w, err
		}
		w.AppendMonth.Name = "generate --append-month"
		w.AppendMonth.add(a, 0, 0)
		if err := b.patchConfig(work); err != nil {
			return w, err
		}
		if prof != "" {
			prof = filepath.Join(profDir, fmt.Sprintf("scale-%g-incremental", scale))
		}
		if err := b.runPhase(ctx, work, &w.Incremental, defs, prof); err != nil {
			return w, err
		}
		w.IncrementalRows = bronzeRows(w.Incremental)
		if w.Full.Total.Seconds > 0 {
			w.IncrementalRatio = w.Incremental.Total.Seconds / w.Full.Total.Seconds
		}
		b.checkpoint()
		if r == w.Repeat-1 {
			b.logf("scale %g: dashboard API, %d clients", scale, b.opts.APIClients)
			api, err := b.apiLoad(ctx, work)
			if err != nil {
				return w, fmt.Errorf("api: %w", err)
			}
			w.API = api
		}
		if !b.opts.Keep {
			os.RemoveAll(work)
		}
	}
	w.IncrementalRows = bronzeRows(w.Incremental)
	if full := bronzeRows(w.Full); full > 0 {
		w.ChangedFraction = float64(w.IncrementalRows) / float64(full)
	}
	if w.Full.Total.Seconds > 0 {
		w.IncrementalRatio = w.Incremental.Total.Seconds / w.Full.Total.Seconds
	}
	if fs, is := w.Full.stage("silver", ""), w.Incremental.stage("silver", ""); fs.Seconds > 0 {
		w.SilverRatio = is.Seconds / fs.Seconds
	}

	b.logf("scale %g: the floor", scale)
	w.Floor = Step{Name: "floor", Command: "rcmlake bench floor (bench/floor.sql on DuckDB)"}
	for r := 0; r < w.Repeat; r++ {
		os.RemoveAll(filepath.Join(floorIn, "floor.duckdb"))
		os.RemoveAll(filepath.Join(floorIn, "floor.duckdb.wal"))
		s, err := b.runProc(ctx, floorIn, filepath.Join(root, "floor.log"), "bench", "floor",
			"--memory-limit", b.opts.MemoryLimit, "--temp-dir", filepath.Join(b.opts.Dir, "duckdb-tmp"))
		if err != nil && ctx.Err() == nil {
			// The floor failing (out of memory, say) is a finding about the floor, not a
			// reason to lose the rest of the run: the report says why it is missing.
			w.Floor, w.FloorError = Step{Name: "floor", Command: w.Floor.Command}, failureReason(err)
			b.logf("  floor failed: %s", w.FloorError)
			break
		}
		if err != nil {
			return w, err
		}
		w.Floor.add(s, ws.Transactions, dirBytes(filepath.Join(floorIn, "out")))
		b.logf("  floor %7.1fs  %6d MiB", s.Seconds, s.MaxRSS>>20)
	}
	if w.Floor.Seconds > 0 {
		w.FloorRatio = w.Full.Total.Seconds / w.Floor.Seconds
	}
	return w, nil
}

// bronzeRows is what a phase extracted: the rows its bronze stages wrote.
func bronzeRows(p Phase) int64 {
	var n int64
	for _, s := range p.Stages {
		if s.Name == "extract" || s.Name == "landing" {
			n += s.Rows
		}
	}
	return n
}

// queries runs the headline KPIs and every named query, each as its own process.
func (b *Bench) queries(ctx context.Context, world string, w *World) error {
	list, err := b.runProc(ctx, world, filepath.Join(world, "bench.log"), "query", "--list")
	if err != nil {
		return err
	}
	cmds := [][]string{{"kpi"}, {"kpi", "--format", "json"}}
	for _, line := range strings.Split(list.Stdout, "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && regexp.MustCompile(`^[a-z0-9_]+$`).MatchString(f[0]) {
			cmds = append(cmds, []string{"query", "--named", f[0], "--format", "csv"})
		}
	}
	if len(cmds) < 3 {
		return fmt.Errorf("rcmlake query --list named no queries: %q", list.Stdout)
	}
	for _, c := range cmds {
		s, err := b.runProc(ctx, world, filepath.Join(world, "bench.log"), append([]string{"--log-level", "warn"}, c...)...)
		if err != nil {
			return err
		}
		name := strings.Join(c, " ")
		var st *Step
		for _, q := range w.Queries {
			if q.Name == name {
				st = q
			}
		}
		if st == nil {
			st = &Step{Name: name, Command: "rcmlake " + name}
			w.Queries = append(w.Queries, st)
		}
		st.add(s, int64(strings.Count(s.Stdout, "\n")), 0)
	}
	return nil
}

func machine(ctx context.Context) Machine {
	m := Machine{Cores: runtime.NumCPU(), OS: runtime.GOOS + "/" + runtime.GOARCH, Go: runtime.Version()}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		if mm := regexp.MustCompile(`(?m)^model name\s*:\s*(.+)$`).FindSubmatch(data); mm != nil {
			m.CPU = strings.TrimSpace(string(mm[1]))
		}
	}
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		if mm := regexp.MustCompile(`(?m)^MemTotal:\s*(\d+) kB`).FindSubmatch(data); mm != nil {
			kb, _ := strconv.ParseInt(string(mm[1]), 10, 64)
			m.MemoryBytes = kb * 1024
		}
	}
	if data, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(data)); len(f) > 0 {
			m.LoadAvg, _ = strconv.ParseFloat(f[0], 64)
		}
	}
	m.DuckDB = duckdbVersion(ctx)
	return m
}

// failureReason is the line of a failed step's error that says why: the child's own
// "Error: ..." line when it printed one, else the first line.
func failureReason(err error) string {
	lines := strings.Split(err.Error(), "\n")
	for _, l := range lines[1:] {
		if l = strings.TrimSpace(l); strings.HasPrefix(l, "Error: ") {
			return strings.TrimPrefix(l, "Error: ")
		}
	}
	return lines[0]
}
