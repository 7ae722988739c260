package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/rcmlake/rcmlake/bronze"
	"github.com/rcmlake/rcmlake/config"
	"github.com/rcmlake/rcmlake/gold"
	"github.com/rcmlake/rcmlake/lakehouse"
	"github.com/rcmlake/rcmlake/models"
	"github.com/rcmlake/rcmlake/secrets"
	"github.com/rcmlake/rcmlake/silver"
)

// Options describe one pipeline run.
type Options struct {
	Config   *config.Config
	Lake     *lakehouse.Lakehouse
	Resolver *secrets.Resolver
	Log      *slog.Logger
	Models   models.Source

	Select      []string // dbt-style task selection; empty runs everything
	FromFailure bool     // resume the latest run that did not succeed
	FullRefresh bool     // reread sources whole and rebuild silver from every bronze load
	// Backfill reprocesses a period: incremental tables take the rows whose watermark falls in
	// it again (their marks stay), then silver applies what changed and gold rebuilds.
	Backfill *bronze.Period
	Trigger  string // cli (default), schedule:<name>, landing, backfill
	Workers  int    // override run.workers
	Retries  *int   // override run.retries
	LeaseTTL time.Duration
	OnEvent  func(TaskRun) // progress display; called from the run's goroutine
	// Sleep between retry attempts (tests).
	Sleep func(ctx context.Context, d time.Duration) error
}

// Plan builds the DAG of a config: one task per active source table and landing table,
// silver entity and gold/KPI model, with dependencies from the entity mappings, the quality
// rules' relationships and the models' refs.
func Plan(o *Options, runID string) (*DAG, error) {
	cfg, lh := o.Config, o.Lake
	in := &bronze.Ingester{Config: cfg, Lake: lh, Resolver: o.Resolver, Log: o.Log}
	bopts := bronze.Options{RunID: runID, FullRefresh: o.FullRefresh, Backfill: o.Backfill}
	var tasks []*Task
	ids := map[string]bool{}
	add := func(t *Task) {
		if !ids[t.ID] {
			ids[t.ID] = true
			tasks = append(tasks, t)
		}
	}
	loadStats := func(logs []bronze.LoadLog, err error) (Stats, error) {
		var st Stats
		for _, l := range logs {
			st.RowsIn += l.RowsRead
			st.RowsOut += l.NumberOfRowsCopied
		}
		return st, err
	}
	for _, db := range cfg.Sources.EMR {
		for _, t := range db.Tables {
			if !t.IsActive() {
				continue
			}
			ds, table := db.Datasource, t.TargetName()
			add(&Task{ID: "bronze." + ds + "." + table, Inputs: []string{"emr:" + ds + "." + t.Name}, Outputs: []string{"bronze/" + ds + "/" + table},
				Run: func(ctx context.Context) (Stats, error) {
					o := bopts
					o.Datasource, o.Table = ds, table
					return loadStats(in.Run(ctx, o))
				}})
		}
	}
	if l := cfg.Sources.Landing; l != nil {
		for _, f := range l.Files {
			if !f.IsActive() {
				continue
			}
			ds, table := f.Datasource, f.Table
			add(&Task{ID: "bronze." + ds + "." + table, Inputs: []string{"landing:" + f.Pattern}, Outputs: []string{"bronze/" + ds + "/" + table},
				Run: func(ctx context.Context) (Stats, error) {
					o := bopts
					o.Datasource, o.Table = ds, table
					return loadStats(in.RunLanding(ctx, o))
				}})
		}
	}
	// Reference data: NPIs are looked up once the providers tables have loaded.
	for _, ref := range in.References() {
		ref := ref
		t := &Task{ID: "bronze." + bronze.RefDatasource + "." + ref.Table, Inputs: []string{"api:" + ref.Table},
			Outputs: []string{"bronze/" + bronze.RefDatasource + "/" + ref.Table},
			Run: func(ctx context.Context) (Stats, error) {
				l := ref.Load(ctx, bopts)
				var err error
				if l.Status != "success" {
					err = fmt.Errorf("%s", l.Error)
				}
				return loadStats([]bronze.LoadLog{l}, err)
			}}
		if ref.Table == bronze.RefNPI {
			for _, e := range cfg.Silver.Entities {
				if e.Name != "providers" {
					continue
				}
				for _, s := range e.Sources {
					if dep := "bronze." + s.Datasource + "." + s.Table; ids[dep] && !contains(t.Deps, dep) {
						t.Deps = append(t.Deps, dep)
						t.Inputs = append(t.Inputs, "bronze/"+s.Datasource+"/"+s.Table)
					}
				}
			}
		}
		add(t)
	}
	sb := &silver.Builder{Config: cfg, Lake: lh, Models: o.Models, Log: o.Log, FullRefresh: o.FullRefresh, RunID: runID}
	entities := map[string]bool{}
	for _, e := range cfg.Silver.Entities {
		entities[e.Name] = true
	}
	for _, e := range cfg.Silver.Entities {
		t := &Task{ID: "silver." + e.Name, Outputs: []string{"silver/" + e.Name}, Pool: "silver"}
		for _, s := range e.Sources {
			dep := "bronze." + s.Datasource + "." + s.Table
			t.Inputs = append(t.Inputs, "bronze/"+s.Datasource+"/"+s.Table)
			if ids[dep] {
				t.Deps = append(t.Deps, dep)
			}
		}
		for _, r := range e.Rules {
			if r.Type != "relationships" {
				continue
			}
			other, _, _ := strings.Cut(r.To, ".")
			if other != e.Name && entities[other] && !contains(t.Deps, "silver."+other) {
				t.Deps = append(t.Deps, "silver."+other)
				t.Inputs = append(t.Inputs, "silver/"+other)
			}
		}
		name := e.Name
		t.Run = func(ctx context.Context) (Stats, error) {
			res, err := sb.Build(ctx, name)
			var st Stats
			for _, r := range res {
				st.RowsIn += r.Read
				st.RowsOut += r.Valid + r.Quarantined
			}
			return st, err
		}
		add(t)
	}
	gb := &gold.Builder{Lake: lh, Models: o.Models, Log: o.Log, FullRefresh: o.FullRefresh}
	plan, err := gb.Plan()
	if err != nil {
		return nil, Permanent(err)
	}
	for _, m := range plan {
		t := &Task{ID: "gold." + m.Name, Outputs: []string{"gold/" + m.Name}}
		for _, d := range m.Deps {
			t.Inputs = append(t.Inputs, strings.Replace(d, ".", "/", 1))
			if ids[d] && !contains(t.Deps, d) {
				t.Deps = append(t.Deps, d)
			}
		}
		m := m
		t.Run = func(ctx context.Context) (Stats, error) {
			r, err := gb.BuildModel(ctx, m)
			return Stats{RowsOut: r.Rows}, err
		}
		add(t)
		ids[t.ID] = true
	}
	return NewDAG(tasks)
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// Outcome is a finished run.
type Outcome struct {
	Run   RunRecord
	Tasks []TaskRun
}

// Err is the run's failure, if any: which tasks failed and which were skipped.
func (o Outcome) Err() error {
	var failed, skipped []string
	for _, t := range o.Tasks {
		switch t.Status {
		case StatusFailed:
			failed = append(failed, t.Task)
		case StatusSkipped, StatusInterrupted:
			skipped = append(skipped, t.Task)
		}
	}
	switch {
	case o.Run.Status == RunInterrupted:
		return fmt.Errorf("run %s was interrupted; resume it with: rcmlake run --from-failure", o.Run.RunID)
	case len(failed) > 0:
		return fmt.Errorf("run %s: %d task(s) failed (%s), %d not run; fix them and resume with: rcmlake run --from-failure",
			o.Run.RunID, len(failed), strings.Join(failed, ", "), len(skipped))
	}
	return nil
}

// ConfigHash identifies the config a run used (its file's bytes).
func ConfigHash(cfg *config.Config) string {
	data, err := os.ReadFile(cfg.File())
	if err != nil {
		return ""
	}
	h := sha256.Sum256(data)
	return hex.EncodeToString(h[:8])
}

// Run executes a pipeline run: it takes the lake's lease, plans, records the run and each
// task in audit.runs and audit.task_runs, emits lineage, and releases the lease.
func Run(ctx context.Context, o Options) (Outcome, error) {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Trigger == "" && o.Backfill != nil {
		o.Trigger = "backfill:" + o.Backfill.From.Format("2006-01-02") + ".." + o.Backfill.To.Format("2006-01-02")
	}
	if o.Trigger == "" {
		o.Trigger = "cli"
	}
	if o.LeaseTTL <= 0 {
		o.LeaseTTL = 2 * time.Minute
	}
	cfg := o.Config
	runID := bronze.NewRunID(time.Now())
	lease, err := AcquireLease(ctx, o.Lake.Store, runID, o.LeaseTTL)
	if err != nil {
		return Outcome{}, err
	}
	defer lease.Release(context.WithoutCancel(ctx))
	rec := &Recorder{Lake: o.Lake}

	done := map[string]bool{}
	resumed := ""
	if o.FromFailure {
		runs, err := rec.Runs(ctx)
		if err != nil {
			return Outcome{}, err
		}
		// Only the latest run is resumable: a later success supersedes an earlier failure.
		if len(runs) == 0 || runs[0].Status == RunSuccess {
			return Outcome{}, errors.New("--from-failure: the latest run succeeded; there is nothing to resume")
		}
		last := runs[0]
		resumed = last.RunID
		if o.Select == nil && last.Selection != "" {
			o.Select = strings.Split(last.Selection, " ")
		}
		// Tasks done by the failed run, or by the runs it resumed in turn.
		for id := last.RunID; id != ""; {
			tasks, err := rec.Tasks(ctx, id)
			if err != nil {
				return Outcome{}, err
			}
			for _, t := range tasks {
				if t.Status == StatusSuccess || t.Status == StatusDoneEarlier {
					done[t.Task] = true
				}
			}
			next := ""
			for _, r := range runs {
				if r.RunID == id {
					next = r.ResumedFrom
				}
			}
			id = next
		}
	}

	dag, err := Plan(&o, runID)
	if err != nil {
		return Outcome{}, err
	}
	if dag, err = dag.Select(o.Select); err != nil {
		return Outcome{}, err
	}
	rr := RunRecord{RunID: runID, Trigger: o.Trigger, ConfigHash: ConfigHash(cfg), Selection: strings.Join(o.Select, " "),
		ResumedFrom: resumed, Status: RunRunning, Started: time.Now().UTC(), Tasks: dag.Len()}
	if err := rec.WriteRun(ctx, rr); err != nil {
		return Outcome{}, err
	}
	o.Log.Info("run started", "run", runID, "tasks", dag.Len(), "resumes", resumed)

	var emitters []LineageEmitter
	if cfg.Run.LineageDir != "" {
		emitters = append(emitters, LineageDir(cfg.ResolvePath(cfg.Run.LineageDir)))
	}
	if cfg.Run.LineageURL != "" {
		emitters = append(emitters, LineageHTTP{URL: cfg.Run.LineageURL})
	}
	namespace := o.Lake.Store.URL()
	redact := func(s string) string { return s }
	if o.Resolver != nil {
		redact = o.Resolver.Redact
	}
	exec := &Executor{Workers: cfg.Run.Workers, Retries: 2, Backoff: 2 * time.Second, Log: o.Log, Redact: redact, Sleep: o.Sleep,
		Pools: map[string]int{"silver": silverWorkers(cfg)}}
	if o.Workers > 0 {
		exec.Workers = o.Workers
	}
	if cfg.Run.Retries > 0 {
		exec.Retries = cfg.Run.Retries
	}
	if o.Retries != nil {
		exec.Retries = *o.Retries
	}
	if d, err := time.ParseDuration(cfg.Run.Backoff); err == nil && d > 0 {
		exec.Backoff = d
	}
	if d, err := time.ParseDuration(cfg.Run.Timeout); err == nil && d > 0 {
		exec.Timeout = d
	}
	// Records must land even while the run is being interrupted.
	bg := context.WithoutCancel(ctx)
	exec.OnEvent = func(tr TaskRun) {
		if o.OnEvent != nil {
			o.OnEvent(tr)
		}
		observe(tr)
		if t, ok := dag.Task(tr.Task); ok {
			if ev, ok := taskEvent(namespace, runID, t, tr); ok {
				for _, e := range emitters {
					if err := e.Emit(bg, ev); err != nil {
						o.Log.Warn("lineage event not delivered", "task", tr.Task, "err", err)
					}
				}
			}
		}
		if tr.Status == StatusRunning {
			return
		}
		if err := rec.WriteTask(bg, tr); err != nil {
			o.Log.Error("task not recorded in audit.task_runs", "task", tr.Task, "err", err)
		}
	}
	tasks := exec.Run(ctx, runID, dag, done)

	rr.Finished = time.Now().UTC()
	rr.Status = RunSuccess
	for _, t := range tasks {
		switch t.Status {
		case StatusFailed, StatusSkipped:
			rr.Failed++
			if rr.Status == RunSuccess {
				rr.Status = RunFailed
			}
		case StatusInterrupted:
			rr.Status = RunInterrupted
		}
	}
	if ctx.Err() != nil {
		rr.Status = RunInterrupted
	}
	runsTotal.WithLabelValues(rr.Status).Inc()
	if err := rec.WriteRun(bg, rr); err != nil {
		return Outcome{Run: rr, Tasks: tasks}, err
	}
	o.Log.Info("run finished", "run", runID, "status", rr.Status, "failed", rr.Failed, "seconds", rr.Finished.Sub(rr.Started).Seconds())
	return Outcome{Run: rr, Tasks: tasks}, nil
}

// silverWorkers is how many silver entities are built at once. On the embedded engine they
// share one DuckDB and its memory limit, so by default they are built one at a time: on a 1M
// world that was faster (48.7 s vs 51.8 s) and peaked lower (2.17 vs 2.51 GiB) than four at
// once. Spark runs them as concurrent jobs, so there the default is no limit of its own.
func silverWorkers(cfg *config.Config) int {
	if cfg.Run.SilverWorkers > 0 || cfg.Engine.Name == "spark" {
		return cfg.Run.SilverWorkers
	}
	return 1
}
