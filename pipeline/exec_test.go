package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// world is a small DAG shaped like a real run: two sources per hospital, silver entities
// over both hospitals, gold over silver.
func world(run func(id string) error) []*Task {
	mk := func(id string, deps ...string) *Task {
		return &Task{ID: id, Deps: deps, Run: func(ctx context.Context) (Stats, error) {
			if err := ctx.Err(); err != nil {
				return Stats{}, err
			}
			return Stats{RowsIn: 1, RowsOut: 1}, run(id)
		}}
	}
	return []*Task{
		mk("bronze.hos-a.patients"), mk("bronze.hos-b.patients"),
		mk("bronze.hos-a.transactions"), mk("bronze.hos-b.transactions"),
		mk("silver.patients", "bronze.hos-a.patients", "bronze.hos-b.patients"),
		mk("silver.transactions", "bronze.hos-a.transactions", "bronze.hos-b.transactions", "silver.patients"),
		mk("silver.providers"),
		mk("gold.dim_patient", "silver.patients"),
		mk("gold.dim_provider", "silver.providers"),
		mk("gold.fact_transaction", "silver.transactions", "gold.dim_patient", "gold.dim_provider"),
	}
}

func statuses(runs []TaskRun) map[string]string {
	m := map[string]string{}
	for _, r := range runs {
		m[r.Task] = r.Status
	}
	return m
}

func noSleep(context.Context, time.Duration) error { return nil }

func TestDependenciesRunFirst(t *testing.T) {
	var mu sync.Mutex
	var order []string
	d, err := NewDAG(world(func(id string) error {
		mu.Lock()
		order = append(order, id)
		mu.Unlock()
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	runs := (&Executor{Workers: 3, Sleep: noSleep}).Run(context.Background(), "r1", d, nil)
	pos := map[string]int{}
	for i, id := range order {
		pos[id] = i
	}
	for _, id := range d.IDs() {
		task, _ := d.Task(id)
		for _, dep := range task.Deps {
			if pos[dep] > pos[id] {
				t.Errorf("%s ran before its dependency %s", id, dep)
			}
		}
	}
	for _, r := range runs {
		if r.Status != StatusSuccess {
			t.Errorf("%s: %s", r.Task, r.Status)
		}
	}
}

// The fault injection: one source fails twice then succeeds, another always fails.
// The first is retried to success; the second fails, everything downstream of it is skipped,
// and everything else finishes.
func TestRetriesAndFailureIsolation(t *testing.T) {
	var flaky atomic.Int32
	d, _ := NewDAG(world(func(id string) error {
		switch id {
		case "bronze.hos-a.patients":
			if flaky.Add(1) <= 2 {
				return errors.New("connection reset by peer")
			}
		case "bronze.hos-b.transactions":
			return errors.New("database is gone")
		}
		return nil
	}))
	var waits []time.Duration
	e := &Executor{Workers: 2, Retries: 3, Backoff: 100 * time.Millisecond, Sleep: func(_ context.Context, d time.Duration) error {
		waits = append(waits, d)
		return nil
	}}
	runs := e.Run(context.Background(), "r1", d, nil)
	st := statuses(runs)
	want := map[string]string{
		"bronze.hos-a.patients": StatusSuccess, "bronze.hos-b.patients": StatusSuccess,
		"bronze.hos-a.transactions": StatusSuccess, "bronze.hos-b.transactions": StatusFailed,
		"silver.patients": StatusSuccess, "silver.transactions": StatusSkipped, "silver.providers": StatusSuccess,
		"gold.dim_patient": StatusSuccess, "gold.dim_provider": StatusSuccess, "gold.fact_transaction": StatusSkipped,
	}
	for id, s := range want {
		if st[id] != s {
			t.Errorf("%s: %s, want %s", id, st[id], s)
		}
	}
	for _, r := range runs {
		switch r.Task {
		case "bronze.hos-a.patients":
			if r.Attempts != 3 {
				t.Errorf("flaky source: %d attempts, want 3", r.Attempts)
			}
		case "bronze.hos-b.transactions":
			if r.Attempts != 4 || !strings.Contains(r.Error, "database is gone") {
				t.Errorf("broken source: %d attempts, error %q", r.Attempts, r.Error)
			}
		}
	}
	// Backoff doubles per attempt, with jitter of at most half a step.
	if len(waits) != 5 {
		t.Fatalf("%d waits: %v", len(waits), waits)
	}
	for _, w := range waits {
		if w < 50*time.Millisecond || w > 400*time.Millisecond {
			t.Errorf("wait %s outside 50ms..400ms", w)
		}
	}

	// Resuming: only what did not succeed runs again, once the source is fixed.
	done := map[string]bool{}
	for _, r := range runs {
		if r.Status == StatusSuccess {
			done[r.Task] = true
		}
	}
	var ran []string
	var mu sync.Mutex
	d2, _ := NewDAG(world(func(id string) error {
		mu.Lock()
		ran = append(ran, id)
		mu.Unlock()
		return nil
	}))
	runs = (&Executor{Sleep: noSleep}).Run(context.Background(), "r2", d2, done)
	if len(ran) != 3 {
		t.Errorf("resume ran %v, want the failed source and its two downstream tasks", ran)
	}
	for _, r := range runs {
		if r.Status != StatusSuccess && r.Status != StatusDoneEarlier {
			t.Errorf("after resume %s is %s", r.Task, r.Status)
		}
	}
}

func TestPermanentErrorsAndPanicsAreNotRetried(t *testing.T) {
	d, _ := NewDAG(world(func(id string) error {
		switch id {
		case "silver.providers":
			return Permanent(errors.New("model has a syntax error"))
		case "bronze.hos-a.patients":
			panic("boom")
		}
		return nil
	}))
	runs := (&Executor{Retries: 5, Sleep: noSleep}).Run(context.Background(), "r", d, nil)
	for _, r := range runs {
		if (r.Task == "silver.providers" || r.Task == "bronze.hos-a.patients") && (r.Status != StatusFailed || r.Attempts != 1) {
			t.Errorf("%s: %s after %d attempts", r.Task, r.Status, r.Attempts)
		}
	}
}

func TestTimeoutPerAttempt(t *testing.T) {
	d, _ := NewDAG([]*Task{{ID: "slow", Run: func(ctx context.Context) (Stats, error) {
		<-ctx.Done()
		return Stats{}, ctx.Err()
	}}})
	runs := (&Executor{Retries: 1, Timeout: 20 * time.Millisecond, Sleep: noSleep}).Run(context.Background(), "r", d, nil)
	if runs[0].Status != StatusFailed || runs[0].Attempts != 2 || !strings.Contains(runs[0].Error, "timed out") {
		t.Errorf("%+v", runs[0])
	}
}

func TestInterruptStopsLaunching(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	d, _ := NewDAG(world(func(id string) error {
		if id == "silver.patients" {
			cancel()
		}
		return nil
	}))
	runs := (&Executor{Workers: 1, Sleep: noSleep}).Run(ctx, "r", d, nil)
	st := statuses(runs)
	if st["gold.fact_transaction"] != StatusInterrupted || st["gold.dim_patient"] != StatusInterrupted {
		t.Errorf("after the interrupt: %v", st)
	}
	if st["bronze.hos-a.patients"] != StatusSuccess {
		t.Errorf("work before the interrupt: %v", st)
	}
}

func TestSelect(t *testing.T) {
	d, _ := NewDAG(world(func(string) error { return nil }))
	cases := map[string][]string{
		"silver.patients":             {"silver.patients"},
		"+silver.patients":            {"bronze.hos-a.patients", "bronze.hos-b.patients", "silver.patients"},
		"silver.patients+":            {"gold.dim_patient", "gold.fact_transaction", "silver.patients", "silver.transactions"},
		"bronze.hos-b.*":              {"bronze.hos-b.patients", "bronze.hos-b.transactions"},
		"gold.dim_*,silver.providers": {"gold.dim_patient", "gold.dim_provider", "silver.providers"},
	}
	for expr, want := range cases {
		s, err := d.Select([]string{expr})
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(s.IDs(), " "); got != strings.Join(want, " ") {
			t.Errorf("%s: %s, want %s", expr, got, strings.Join(want, " "))
		}
	}
	if _, err := d.Select([]string{"silver.nosuch"}); err == nil {
		t.Error("a selection that matches nothing was accepted")
	}
	// Dependencies outside the selection are dropped, so the selection runs on the lake as it is.
	s, _ := d.Select([]string{"gold.fact_transaction"})
	if task, _ := s.Task("gold.fact_transaction"); len(task.Deps) != 0 {
		t.Errorf("deps kept: %v", task.Deps)
	}
}

func TestCycleIsRefused(t *testing.T) {
	_, err := NewDAG([]*Task{{ID: "a", Deps: []string{"b"}}, {ID: "b", Deps: []string{"a"}}})
	if err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Errorf("cycle: %v", err)
	}
	if _, err := NewDAG([]*Task{{ID: "a", Deps: []string{"x"}}}); err == nil {
		t.Error("a dependency on a missing task was accepted")
	}
}

// A pool's limit holds its tasks to that many at once while other tasks still run beside them.
func TestPoolLimitsItsTasks(t *testing.T) {
	var mu sync.Mutex
	inPool, maxInPool, maxAll, all := 0, 0, 0, 0
	var tasks []*Task
	for i := range 6 {
		pool := ""
		if i%2 == 0 {
			pool = "silver"
		}
		tasks = append(tasks, &Task{ID: fmt.Sprintf("t%d", i), Pool: pool, Run: func(ctx context.Context) (Stats, error) {
			mu.Lock()
			all++
			maxAll = max(maxAll, all)
			if pool != "" {
				inPool++
				maxInPool = max(maxInPool, inPool)
			}
			mu.Unlock()
			time.Sleep(20 * time.Millisecond)
			mu.Lock()
			all--
			if pool != "" {
				inPool--
			}
			mu.Unlock()
			return Stats{}, nil
		}})
	}
	d, err := NewDAG(tasks)
	if err != nil {
		t.Fatal(err)
	}
	runs := (&Executor{Workers: 4, Pools: map[string]int{"silver": 1}, Sleep: noSleep}).Run(context.Background(), "r", d, nil)
	for _, r := range runs {
		if r.Status != StatusSuccess {
			t.Fatalf("%s: %s %s", r.Task, r.Status, r.Error)
		}
	}
	if maxInPool != 1 {
		t.Errorf("pool tasks at once = %d, want 1", maxInPool)
	}
	if maxAll < 2 {
		t.Errorf("tasks at once = %d: the pool's limit held back the other tasks too", maxAll)
	}
}
