package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sort"
	"time"
)

// Task statuses, as audit.task_runs records them.
const (
	StatusRunning     = "running"
	StatusSuccess     = "success"
	StatusFailed      = "failed"
	StatusSkipped     = "skipped"     // an upstream task failed
	StatusInterrupted = "interrupted" // the run was stopped before the task finished
	StatusDoneEarlier = "done"        // finished by the run this one resumes
)

// TaskRun is one task's outcome in a run.
type TaskRun struct {
	RunID    string
	Task     string
	Status   string
	Attempts int
	Started  time.Time
	Finished time.Time
	Stats
	Error string
}

// permanent marks an error that retrying cannot fix.
type permanent struct{ error }

func (p permanent) Unwrap() error { return p.error }

// Permanent wraps an error so that the executor does not retry it.
func Permanent(err error) error { return permanent{err} }

// Executor runs a DAG's tasks in parallel as their dependencies succeed.
type Executor struct {
	Workers    int            // tasks at once; default 4
	Pools      map[string]int // tasks at once per Task.Pool, within Workers; absent or 0: no limit of its own
	Retries    int            // attempts after the first failure
	Backoff    time.Duration  // delay before the first retry; doubles each time, with jitter; default 1s
	MaxBackoff time.Duration  // default 1m
	Timeout    time.Duration  // per attempt; 0 for none
	Log        *slog.Logger
	// OnEvent sees every task as it starts (StatusRunning) and as it ends.
	OnEvent func(TaskRun)
	// Redact cleans error text before it is recorded (secrets must not reach the audit).
	Redact func(string) string
	// Sleep waits between attempts; tests replace it.
	Sleep func(ctx context.Context, d time.Duration) error
}

func (e *Executor) defaults() {
	if e.Workers <= 0 {
		e.Workers = 4
	}
	if e.Backoff <= 0 {
		e.Backoff = time.Second
	}
	if e.MaxBackoff <= 0 {
		e.MaxBackoff = time.Minute
	}
	if e.Log == nil {
		e.Log = slog.Default()
	}
	if e.Redact == nil {
		e.Redact = func(s string) string { return s }
	}
	if e.Sleep == nil {
		e.Sleep = func(ctx context.Context, d time.Duration) error {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-t.C:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	if e.OnEvent == nil {
		e.OnEvent = func(TaskRun) {}
	}
}

// Run executes the DAG. Tasks in done count as succeeded without running (a resumed run).
// A task whose dependency failed is skipped, and independent branches go on. When ctx is
// cancelled no task starts any more; running tasks see the cancellation and end as
// interrupted. The result holds every task, sorted by id.
func (e *Executor) Run(ctx context.Context, runID string, d *DAG, done map[string]bool) []TaskRun {
	e.defaults()
	results := map[string]*TaskRun{}
	finished := make(chan TaskRun)
	running := 0
	inPool := map[string]int{}
	pending := map[string]bool{}
	for _, id := range d.IDs() {
		if done[id] {
			tr := TaskRun{RunID: runID, Task: id, Status: StatusDoneEarlier}
			results[id] = &tr
			e.OnEvent(tr)
			continue
		}
		pending[id] = true
	}
	succeeded := func(id string) bool {
		r := results[id]
		return r != nil && (r.Status == StatusSuccess || r.Status == StatusDoneEarlier)
	}
	for len(pending) > 0 || running > 0 {
		// Start or skip every task whose dependencies are settled.
		progressed := true
		for progressed {
			progressed = false
			for _, id := range sortedKeys(pending) {
				t := d.tasks[id]
				ready, blockedBy := true, ""
				for _, dep := range t.Deps {
					r := results[dep]
					switch {
					case r == nil || r.Status == StatusRunning:
						ready = false
					case !succeeded(dep):
						blockedBy = dep
					}
				}
				if blockedBy != "" && ready {
					tr := TaskRun{RunID: runID, Task: id, Status: StatusSkipped, Error: "upstream task " + blockedBy + " did not succeed"}
					if ctx.Err() != nil {
						tr.Status, tr.Error = StatusInterrupted, "not started: the run was stopped"
					}
					results[id] = &tr
					delete(pending, id)
					e.OnEvent(tr)
					progressed = true
					continue
				}
				if !ready || running >= e.Workers || (t.Pool != "" && e.Pools[t.Pool] > 0 && inPool[t.Pool] >= e.Pools[t.Pool]) {
					continue
				}
				if ctx.Err() != nil {
					tr := TaskRun{RunID: runID, Task: id, Status: StatusInterrupted, Error: "not started: the run was stopped"}
					results[id] = &tr
					delete(pending, id)
					e.OnEvent(tr)
					progressed = true
					continue
				}
				tr := TaskRun{RunID: runID, Task: id, Status: StatusRunning, Started: time.Now().UTC()}
				results[id] = &tr
				delete(pending, id)
				running++
				inPool[t.Pool]++
				e.OnEvent(tr)
				go func() { finished <- e.attempt(ctx, t, tr) }()
				progressed = true
			}
		}
		if running == 0 {
			if len(pending) > 0 {
				// Cannot happen in a checked DAG; guard against a silent hang.
				for id := range pending {
					tr := TaskRun{RunID: runID, Task: id, Status: StatusFailed, Error: "dependencies never settled"}
					results[id] = &tr
					e.OnEvent(tr)
				}
			}
			break
		}
		tr := <-finished
		running--
		inPool[d.tasks[tr.Task].Pool]--
		results[tr.Task] = &tr
		e.OnEvent(tr)
	}
	out := make([]TaskRun, 0, len(results))
	for _, id := range d.IDs() {
		out = append(out, *results[id])
	}
	return out
}

// attempt runs a task with its retries.
func (e *Executor) attempt(ctx context.Context, t *Task, tr TaskRun) TaskRun {
	log := e.Log.With("task", t.ID, "run", tr.RunID)
	for {
		tr.Attempts++
		actx, cancel := ctx, context.CancelFunc(func() {})
		if e.Timeout > 0 {
			actx, cancel = context.WithTimeout(ctx, e.Timeout)
		}
		st, err := runSafely(actx, t)
		timedOut := actx.Err() == context.DeadlineExceeded && ctx.Err() == nil
		cancel()
		if err == nil {
			tr.Status, tr.Stats, tr.Error = StatusSuccess, st, ""
			tr.Finished = time.Now().UTC()
			log.Info("task succeeded", "attempts", tr.Attempts, "rows_in", st.RowsIn, "rows_out", st.RowsOut, "seconds", tr.Finished.Sub(tr.Started).Seconds())
			return tr
		}
		if timedOut {
			err = fmt.Errorf("attempt %d timed out after %s: %w", tr.Attempts, e.Timeout, err)
		}
		tr.Error = e.Redact(err.Error())
		if ctx.Err() != nil {
			tr.Status, tr.Finished = StatusInterrupted, time.Now().UTC()
			log.Warn("task interrupted", "err", tr.Error)
			return tr
		}
		var p permanent
		if tr.Attempts > e.Retries || errors.As(err, &p) {
			tr.Status, tr.Finished = StatusFailed, time.Now().UTC()
			log.Error("task failed", "attempts", tr.Attempts, "err", tr.Error)
			return tr
		}
		wait := e.Backoff << (tr.Attempts - 1)
		if wait > e.MaxBackoff || wait <= 0 {
			wait = e.MaxBackoff
		}
		wait = wait/2 + time.Duration(rand.Int64N(int64(wait/2)+1)) // jitter: 50-100% of the step
		log.Warn("task failed; retrying", "attempt", tr.Attempts, "of", e.Retries+1, "wait", wait.String(), "err", tr.Error)
		if err := e.Sleep(ctx, wait); err != nil {
			tr.Status, tr.Finished = StatusInterrupted, time.Now().UTC()
			return tr
		}
	}
}

// runSafely turns a panicking task into a failed one instead of a crashed run.
func runSafely(ctx context.Context, t *Task) (st Stats, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = Permanent(fmt.Errorf("task %s panicked: %v", t.ID, r))
		}
	}()
	return t.Run(ctx)
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
