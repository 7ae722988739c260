package pipeline

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/rcmlake/rcmlake/delta"
	"github.com/rcmlake/rcmlake/engine/duckdb"
	"github.com/rcmlake/rcmlake/lakehouse"
)

// The run history tables.
const (
	RunsTable     = "audit/runs"
	TaskRunsTable = "audit/task_runs"
)

// Run statuses.
const (
	RunRunning     = "running"
	RunSuccess     = "success"
	RunFailed      = "failed"      // some task failed or was skipped
	RunInterrupted = "interrupted" // stopped by a signal; resume with --from-failure
)

// RunRecord is one row of audit.runs. A run writes a row when it starts and another when it
// ends; the latest row of a run id is its state. A run whose last row says running either
// is running or crashed; --from-failure resumes it either way once the lease is free.
type RunRecord struct {
	RunID       string
	Trigger     string // cli, schedule:<name>, landing
	ConfigHash  string
	Selection   string
	ResumedFrom string
	Status      string
	Started     time.Time
	Finished    time.Time
	Tasks       int
	Failed      int
	RecordedAt  time.Time
}

// Recorder writes and reads the run history.
type Recorder struct {
	Lake *lakehouse.Lakehouse
	mu   sync.Mutex
}

func ts(t time.Time) string {
	if t.IsZero() {
		return "CAST(NULL AS TIMESTAMPTZ)"
	}
	return "TIMESTAMPTZ " + duckdb.Literal(t.UTC().Format(time.RFC3339Nano))
}

// WriteRun appends a run row.
func (r *Recorder) WriteRun(ctx context.Context, rr RunRecord) error {
	rr.RecordedAt = time.Now().UTC()
	q := fmt.Sprintf(`SELECT %s AS run_id, %s AS trigger, %s AS config_hash, %s AS selection, %s AS resumed_from,
		%s AS status, %s AS started, %s AS finished, CAST(%d AS BIGINT) AS tasks, CAST(%d AS BIGINT) AS failed, %s AS recorded_at`,
		duckdb.Literal(rr.RunID), duckdb.Literal(rr.Trigger), duckdb.Literal(rr.ConfigHash), duckdb.Literal(rr.Selection),
		duckdb.Literal(rr.ResumedFrom), duckdb.Literal(rr.Status), ts(rr.Started), ts(rr.Finished), rr.Tasks, rr.Failed, ts(rr.RecordedAt))
	return r.append(ctx, RunsTable, q)
}

// WriteTask appends a task row (its final state in this run).
func (r *Recorder) WriteTask(ctx context.Context, tr TaskRun) error {
	q := fmt.Sprintf(`SELECT %s AS run_id, %s AS task, %s AS status, CAST(%d AS BIGINT) AS attempts, %s AS started,
		%s AS finished, CAST(%d AS BIGINT) AS rows_in, CAST(%d AS BIGINT) AS rows_out, %s AS error, %s AS recorded_at`,
		duckdb.Literal(tr.RunID), duckdb.Literal(tr.Task), duckdb.Literal(tr.Status), tr.Attempts, ts(tr.Started), ts(tr.Finished),
		tr.RowsIn, tr.RowsOut, duckdb.Literal(tr.Error), ts(time.Now().UTC()))
	return r.append(ctx, TaskRunsTable, q)
}

func (r *Recorder) append(ctx context.Context, key, q string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	tbl := delta.Open(r.Lake.Store, key)
	if _, err := r.Lake.Engine.AppendDelta(ctx, tbl, q, duckdb.WriteOptions{Operation: "WRITE"}); err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	return nil
}

// Runs reads audit.runs: the latest state of every run, newest first.
func (r *Recorder) Runs(ctx context.Context) ([]RunRecord, error) {
	res, err := r.query(ctx, RunsTable, `SELECT run_id, trigger, config_hash, selection, resumed_from, status, started, finished,
		tasks, failed, recorded_at FROM (SELECT *, row_number() OVER (PARTITION BY run_id ORDER BY recorded_at DESC) AS rn FROM %s t) WHERE rn = 1
		ORDER BY started DESC, run_id DESC`)
	if err != nil || res == nil {
		return nil, err
	}
	var out []RunRecord
	for _, row := range res {
		out = append(out, RunRecord{RunID: str(row[0]), Trigger: str(row[1]), ConfigHash: str(row[2]), Selection: str(row[3]),
			ResumedFrom: str(row[4]), Status: str(row[5]), Started: tm(row[6]), Finished: tm(row[7]), Tasks: int(i64(row[8])),
			Failed: int(i64(row[9])), RecordedAt: tm(row[10])})
	}
	return out, nil
}

// Tasks reads the task rows of one run, in start order.
func (r *Recorder) Tasks(ctx context.Context, runID string) ([]TaskRun, error) {
	res, err := r.query(ctx, TaskRunsTable, `SELECT run_id, task, status, attempts, started, finished, rows_in, rows_out, error
		FROM (SELECT *, row_number() OVER (PARTITION BY task ORDER BY recorded_at DESC) AS rn FROM %s t WHERE run_id = `+duckdb.Literal(runID)+`)
		WHERE rn = 1`)
	if err != nil {
		return nil, err
	}
	var out []TaskRun
	for _, row := range res {
		out = append(out, TaskRun{RunID: str(row[0]), Task: str(row[1]), Status: str(row[2]), Attempts: int(i64(row[3])),
			Started: tm(row[4]), Finished: tm(row[5]), Stats: Stats{RowsIn: i64(row[6]), RowsOut: i64(row[7])}, Error: str(row[8])})
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Started.Equal(out[j].Started) {
			return out[i].Task < out[j].Task
		}
		if out[i].Started.IsZero() != out[j].Started.IsZero() {
			return !out[i].Started.IsZero()
		}
		return out[i].Started.Before(out[j].Started)
	})
	return out, nil
}

// query runs a query over the latest version of an audit table; nil before the table exists.
func (r *Recorder) query(ctx context.Context, key, format string) ([][]any, error) {
	tbl := delta.Open(r.Lake.Store, key)
	if ok, err := tbl.Exists(ctx); err != nil || !ok {
		return nil, err
	}
	s, err := tbl.Latest(ctx)
	if err != nil {
		return nil, err
	}
	scan, err := r.Lake.ScanSQL(ctx, s)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	res, err := r.Lake.Engine.Query(ctx, fmt.Sprintf(format, scan))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	return res.Rows, nil
}

func str(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return ""
}

func i64(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case int32:
		return int64(x)
	}
	return 0
}

func tm(v any) time.Time {
	if t, ok := v.(time.Time); ok {
		return t.UTC()
	}
	return time.Time{}
}
