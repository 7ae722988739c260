package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/rcmlake/rcmlake/bronze"
	"github.com/rcmlake/rcmlake/config"
	"github.com/rcmlake/rcmlake/lakehouse"
	"github.com/rcmlake/rcmlake/models"
	"github.com/rcmlake/rcmlake/pipeline"
)

func init() {
	register(newRunCmd)
	register(newRunsCmd)
}

func newRunCmd() *cobra.Command {
	var o pipeline.Options
	var dryRun bool
	var retries int
	var from, to, engineName string
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the pipeline end to end: sources to bronze, silver, gold and KPIs, as a DAG of tasks",
		Long: `Plans one task per active source table, silver entity, gold model and KPI model, and runs them in
parallel (--workers) as their inputs become ready. A failed task is retried with exponential
backoff; when it still fails, what depends on it is skipped and everything else finishes. Each
run and task is recorded in audit.runs and audit.task_runs (see rcmlake runs).

Select tasks as dbt does: --select silver.patients (one task), 'bronze.hos-a.*' (a glob),
+gold.fact_claim (it and everything upstream), silver.patients+ (it and everything downstream).
Ctrl-C or SIGTERM stops cleanly: every table stays at a committed version; resume with
--from-failure, which redoes only what did not finish. Runs on one lake take turns through a
lease in the lake.

--from and --to (months 2024-01, or days 2024-01-15, both inclusive) backfill a period, as a
tumbling-window trigger does: incremental source tables take the rows whose watermark falls in
the period again, without moving their stored marks; silver applies whatever changed (rows it
already holds are ignored) and gold rebuilds.`,
		Example: `  rcmlake run
  rcmlake run --dry-run
  rcmlake run --select 'bronze.hos-a.*+'
  rcmlake run --from-failure
  rcmlake run --full-refresh --select +silver.patients
  rcmlake run --from 2024-01 --to 2024-06`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			cfg, lh, err := openLakeEngine(ctx, engineName)
			if err != nil {
				return err
			}
			defer lh.Close()
			if cmd.Flags().Changed("retries") {
				o.Retries = &retries
			}
			if from != "" || to != "" {
				p, err := parsePeriod(from, to)
				if err != nil {
					return err
				}
				if o.FullRefresh || o.FromFailure {
					return usagef("--from/--to backfill a period; they do not combine with --full-refresh or --from-failure")
				}
				o.Backfill = p
			}
			if dryRun {
				return printPlan(cmd.OutOrStdout(), cfg, lh, &o)
			}
			out, err := runOnce(ctx, cfg, lh, o, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			printTaskRuns(cmd.OutOrStdout(), out.Tasks)
			fmt.Fprintf(cmd.OutOrStdout(), "\nrun %s: %s in %s\n", out.Run.RunID, out.Run.Status, out.Run.Finished.Sub(out.Run.Started).Round(time.Millisecond))
			return out.Err()
		},
	}
	f := cmd.Flags()
	f.StringSliceVarP(&o.Select, "select", "s", nil, "tasks to run (comma-separated; globs, +upstream, downstream+)")
	f.BoolVar(&o.FromFailure, "from-failure", false, "resume the latest run that did not succeed, redoing only what did not finish")
	f.BoolVar(&o.FullRefresh, "full-refresh", false, "reread sources whole, rebuild silver from every bronze load and gold from all of silver")
	f.BoolVar(&dryRun, "dry-run", false, "print the plan (tasks in waves, with dependencies) and stop")
	f.StringVar(&from, "from", "", "backfill from this month (2024-01) or day (2024-01-15), inclusive")
	f.StringVar(&to, "to", "", "backfill up to this month or day, inclusive")
	f.IntVar(&o.Workers, "workers", 0, "tasks at once (default run.workers, else 4)")
	f.IntVar(&retries, "retries", 2, "attempts after a failure (default run.retries, else 2)")
	f.StringVar(&engineName, "engine", "", "engine that runs the gold models and KPIs: duckdb or spark (default engine.name; spark needs engine.remote or $SPARK_REMOTE)")
	return cmd
}

// runOnce runs the pipeline with the CLI's defaults: the embedded models, the resolver, and
// a live task table on a terminal.
func runOnce(ctx context.Context, cfg *config.Config, lh *lakehouse.Lakehouse, o pipeline.Options, progress io.Writer) (pipeline.Outcome, error) {
	o.Config, o.Lake, o.Resolver, o.Models = cfg, lh, resolver, models.Embedded()
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if f, ok := progress.(*os.File); ok && isTerminal(f) {
		live := newLiveTable(f)
		defer live.stop()
		o.OnEvent = live.update
		// The live table replaces per-task info lines; warnings and errors still show.
		o.Log = slog.New(levelFilter{slog.Default().Handler(), slog.LevelWarn})
	}
	return pipeline.Run(ctx, o)
}

type levelFilter struct {
	slog.Handler
	min slog.Level
}

func (l levelFilter) Enabled(ctx context.Context, lv slog.Level) bool {
	return lv >= l.min && l.Handler.Enabled(ctx, lv)
}

func printPlan(w io.Writer, cfg *config.Config, lh *lakehouse.Lakehouse, o *pipeline.Options) error {
	o.Config, o.Lake, o.Resolver, o.Models, o.Log = cfg, lh, resolver, models.Embedded(), slog.Default()
	dag, err := pipeline.Plan(o, "dry-run")
	if err != nil {
		return err
	}
	if dag, err = dag.Select(o.Select); err != nil {
		return usageError{err}
	}
	levels, err := dag.Levels()
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%d tasks in %d waves (a task starts as soon as its own inputs are done)\n", dag.Len(), len(levels))
	for i, ids := range levels {
		fmt.Fprintf(w, "\nwave %d\n", i+1)
		for _, id := range ids {
			t, _ := dag.Task(id)
			if len(t.Deps) == 0 {
				fmt.Fprintf(w, "  %s\n", id)
				continue
			}
			deps := append([]string{}, t.Deps...)
			sort.Strings(deps)
			fmt.Fprintf(w, "  %s  <- %s\n", id, strings.Join(deps, ", "))
		}
	}
	return nil
}

func printTaskRuns(w io.Writer, tasks []pipeline.TaskRun) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TASK\tSTATUS\tATTEMPTS\tROWS IN\tROWS OUT\tSECONDS\tERROR")
	for _, t := range tasks {
		secs := ""
		if !t.Started.IsZero() && !t.Finished.IsZero() {
			secs = fmt.Sprintf("%.1f", t.Finished.Sub(t.Started).Seconds())
		}
		errText := t.Error
		if len(errText) > 120 {
			errText = errText[:117] + "..."
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\t%s\n", t.Task, t.Status, t.Attempts, t.RowsIn, t.RowsOut, secs, strings.ReplaceAll(errText, "\n", " "))
	}
	tw.Flush()
}

// liveTable redraws the task states on a terminal once a second.
type liveTable struct {
	w     *os.File
	mu    sync.Mutex
	state map[string]pipeline.TaskRun
	order []string
	lines int
	done  chan struct{}
	wg    sync.WaitGroup
}

func newLiveTable(w *os.File) *liveTable {
	l := &liveTable{w: w, state: map[string]pipeline.TaskRun{}, done: make(chan struct{})}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-l.done:
				l.draw()
				return
			case <-t.C:
				l.draw()
			}
		}
	}()
	return l
}

func (l *liveTable) update(tr pipeline.TaskRun) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.state[tr.Task]; !ok {
		l.order = append(l.order, tr.Task)
	}
	l.state[tr.Task] = tr
}

func (l *liveTable) draw() {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	if l.lines > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", l.lines) // back to the table's first line
	}
	counts := map[string]int{}
	for _, id := range l.order {
		counts[l.state[id].Status]++
	}
	fmt.Fprintf(&b, "\x1b[2K%d running, %d done, %d failed, %d skipped\n", counts[pipeline.StatusRunning],
		counts[pipeline.StatusSuccess]+counts[pipeline.StatusDoneEarlier], counts[pipeline.StatusFailed], counts[pipeline.StatusSkipped])
	lines := 1
	for _, id := range l.order {
		tr := l.state[id]
		if tr.Status != pipeline.StatusRunning && tr.Status != pipeline.StatusFailed {
			continue
		}
		el := ""
		if tr.Status == pipeline.StatusRunning {
			el = time.Since(tr.Started).Round(time.Second).String()
		}
		fmt.Fprintf(&b, "\x1b[2K  %-40s %-8s %s\n", id, tr.Status, el)
		lines++
	}
	for i := lines; i < l.lines; i++ {
		b.WriteString("\x1b[2K\n") // clear lines left over from a longer table
		lines++
	}
	l.lines = lines
	l.w.WriteString(b.String())
}

func (l *liveTable) stop() {
	close(l.done)
	l.wg.Wait()
}

func newRunsCmd() *cobra.Command {
	var limit int
	cmd := &cobra.Command{
		Use:   "runs",
		Short: "List pipeline runs (audit.runs); runs show RUN_ID shows one with its task timeline",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			_, lh, err := openLake(ctx)
			if err != nil {
				return err
			}
			defer lh.Close()
			runs, err := (&pipeline.Recorder{Lake: lh}).Runs(ctx)
			if err != nil {
				return err
			}
			if len(runs) == 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "no runs yet: rcmlake run starts one")
				return nil
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "RUN\tSTATUS\tTRIGGER\tSTARTED\tSECONDS\tTASKS\tFAILED\tRESUMES\tSELECTION")
			for i, r := range runs {
				if i == limit {
					break
				}
				secs := ""
				if !r.Finished.IsZero() {
					secs = fmt.Sprintf("%.1f", r.Finished.Sub(r.Started).Seconds())
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\n", r.RunID, r.Status, r.Trigger, r.Started.Format(time.RFC3339), secs, r.Tasks, r.Failed, r.ResumedFrom, r.Selection)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 20, "show at most this many runs")
	show := &cobra.Command{
		Use:   "show RUN_ID",
		Short: "Show one run: each task's status, attempts, rows and a timeline",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			_, lh, err := openLake(ctx)
			if err != nil {
				return err
			}
			defer lh.Close()
			rec := &pipeline.Recorder{Lake: lh}
			runs, err := rec.Runs(ctx)
			if err != nil {
				return err
			}
			var run *pipeline.RunRecord
			for i := range runs {
				if runs[i].RunID == args[0] || (args[0] == "latest" && i == 0) {
					run = &runs[i]
					break
				}
			}
			if run == nil {
				return fmt.Errorf("no run %s in audit.runs (rcmlake runs lists them)", args[0])
			}
			tasks, err := rec.Tasks(ctx, run.RunID)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "run %s  %s  trigger %s  config %s\n", run.RunID, run.Status, run.Trigger, run.ConfigHash)
			if run.ResumedFrom != "" {
				fmt.Fprintf(w, "resumes %s\n", run.ResumedFrom)
			}
			fmt.Fprintln(w)
			printTaskRuns(w, tasks)
			fmt.Fprintln(w)
			printTimeline(w, tasks, 60)
			return nil
		},
	}
	cmd.AddCommand(show)
	return cmd
}

// printTimeline draws each task as a bar between the run's first start and last finish.
func printTimeline(w io.Writer, tasks []pipeline.TaskRun, width int) {
	var first, last time.Time
	name := 0
	for _, t := range tasks {
		if t.Started.IsZero() {
			continue
		}
		if first.IsZero() || t.Started.Before(first) {
			first = t.Started
		}
		if t.Finished.After(last) {
			last = t.Finished
		}
		name = max(name, len(t.Task))
	}
	span := last.Sub(first)
	if first.IsZero() || span <= 0 {
		fmt.Fprintln(w, "(no task ran)")
		return
	}
	fmt.Fprintf(w, "%-*s |%s| %s\n", name, "timeline", strings.Repeat("-", width), span.Round(time.Millisecond))
	for _, t := range tasks {
		if t.Started.IsZero() {
			fmt.Fprintf(w, "%-*s |%s| %s\n", name, t.Task, strings.Repeat(" ", width), t.Status)
			continue
		}
		from := int(float64(t.Started.Sub(first)) / float64(span) * float64(width))
		to := int(float64(t.Finished.Sub(first)) / float64(span) * float64(width))
		to = min(max(to, from+1), width)
		from = min(from, width-1)
		mark := "#"
		if t.Status != pipeline.StatusSuccess {
			mark = "x"
		}
		fmt.Fprintf(w, "%-*s |%s%s%s| %s\n", name, t.Task, strings.Repeat(" ", from), strings.Repeat(mark, to-from), strings.Repeat(" ", width-to), t.Finished.Sub(t.Started).Round(time.Millisecond))
	}
}

// parsePeriod reads --from/--to: months (2024-01) or days (2024-01-15), both inclusive, as
// the half-open period [from, day after to).
func parsePeriod(from, to string) (*bronze.Period, error) {
	if from == "" || to == "" {
		return nil, usagef("give both --from and --to (e.g. --from 2024-01 --to 2024-06)")
	}
	parse := func(flag, s string, end bool) (time.Time, error) {
		if t, err := time.Parse("2006-01", s); err == nil {
			if end {
				return t.AddDate(0, 1, 0), nil
			}
			return t, nil
		}
		if t, err := time.Parse("2006-01-02", s); err == nil {
			if end {
				return t.AddDate(0, 0, 1), nil
			}
			return t, nil
		}
		return time.Time{}, usagef("--%s %q: want a month (2024-01) or a day (2024-01-15)", flag, s)
	}
	f, err := parse("from", from, false)
	if err != nil {
		return nil, err
	}
	t, err := parse("to", to, true)
	if err != nil {
		return nil, err
	}
	if !f.Before(t) {
		return nil, usagef("--from %s is after --to %s", from, to)
	}
	return &bronze.Period{From: f, To: t}, nil
}
