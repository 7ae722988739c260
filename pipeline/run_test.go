package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rcmlake/rcmlake/config"
	"github.com/rcmlake/rcmlake/delta"
	"github.com/rcmlake/rcmlake/lake"
	"github.com/rcmlake/rcmlake/lake/file"
	"github.com/rcmlake/rcmlake/lakehouse"
	"github.com/rcmlake/rcmlake/models"
	"github.com/rcmlake/rcmlake/secrets"
	"github.com/rcmlake/rcmlake/synth"
)

// flakyStore fails writes under a prefix a set number of times: a real storage outage, seen
// by the real task code.
type flakyStore struct {
	lake.Storage
	prefix string
	left   atomic.Int32
}

func (f *flakyStore) fail(key string) error {
	if strings.HasPrefix(key, f.prefix) && f.left.Add(-1) >= 0 {
		return errors.New("storage: 503 Service Unavailable (injected)")
	}
	return nil
}

func (f *flakyStore) Put(ctx context.Context, key string, r io.Reader) error {
	if err := f.fail(key); err != nil {
		return err
	}
	return f.Storage.Put(ctx, key, r)
}

func (f *flakyStore) PutIfAbsent(ctx context.Context, key string, data []byte) error {
	if err := f.fail(key); err != nil {
		return err
	}
	return f.Storage.PutIfAbsent(ctx, key, data)
}

type testWorld struct {
	dir string
	cfg *config.Config
	lh  *lakehouse.Lakehouse
}

func newTestWorld(t *testing.T, store func(lake.Storage) lake.Storage) *testWorld {
	t.Helper()
	dir := t.TempDir()
	if _, err := synth.Generate(context.Background(), dir, synth.Options{Seed: 3, Scale: 0.05, Months: 2}); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(filepath.Join(dir, "rcmlake.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	fs, err := file.New(cfg.ResolvePath(cfg.Lake.Root))
	if err != nil {
		t.Fatal(err)
	}
	var s lake.Storage = fs
	if store != nil {
		s = store(fs)
	}
	lh, err := lakehouse.OpenStorage(s)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lh.Close() })
	return &testWorld{dir: dir, cfg: cfg, lh: lh}
}

func (w *testWorld) options(log *bytes.Buffer) Options {
	var h slog.Handler = slog.NewTextHandler(io.Discard, nil)
	if log != nil {
		h = slog.NewTextHandler(log, nil)
	}
	return Options{Config: w.cfg, Lake: w.lh, Resolver: secrets.NewResolver(secrets.Env{}), Models: models.Embedded(),
		Log: slog.New(h), Sleep: func(context.Context, time.Duration) error { return nil }}
}

// tableDigest is a digest of a gold table's rows, order-insensitive.
func tableDigest(t *testing.T, lh *lakehouse.Lakehouse, key string) string {
	t.Helper()
	s, err := delta.Open(lh.Store, key).Latest(context.Background())
	if err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	scan, err := lh.ScanSQL(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	res, err := lh.Engine.Query(context.Background(), "SELECT count(*) || ':' || coalesce(md5(string_agg(CAST(t AS VARCHAR), '|' ORDER BY CAST(t AS VARCHAR))), '') FROM "+scan+" t")
	if err != nil {
		t.Fatal(err)
	}
	return res.Rows[0][0].(string)
}

// The fault-injection acceptance, on real tasks: hospital A's patients load meets two
// storage outages and then succeeds; hospital B's transactions table is broken. The run retries
// the first to success, fails the second, skips only what depends on it, and records it all.
// Once the table is fixed, --from-failure finishes the run, redoing only what did not finish.
func TestRunRetriesIsolatesAndResumes(t *testing.T) {
	var flaky *flakyStore
	w := newTestWorld(t, func(s lake.Storage) lake.Storage {
		flaky = &flakyStore{Storage: s, prefix: "bronze/hos-a/patients/"}
		flaky.left.Store(2)
		return flaky
	})
	hb := &w.cfg.Sources.EMR[1]
	for i := range hb.Tables {
		if hb.Tables[i].Name == "transactions" {
			hb.Tables[i].Name = "transactions_gone" // no such table: fails every attempt
			hb.Tables[i].Target = "transactions"
		}
	}
	var logs bytes.Buffer
	o := w.options(&logs)
	out, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	st := statuses(out.Tasks)
	if st["bronze.hos-a.patients"] != StatusSuccess || st["bronze.hos-b.transactions"] != StatusFailed {
		t.Fatalf("statuses: %v", st)
	}
	for _, tr := range out.Tasks {
		if tr.Task == "bronze.hos-a.patients" && tr.Attempts != 3 {
			t.Errorf("flaky load took %d attempts, want 3", tr.Attempts)
		}
	}
	for _, id := range []string{"silver.transactions", "gold.fact_transaction", "gold.fact_claim", "gold.kpi_monthly"} {
		if st[id] != StatusSkipped {
			t.Errorf("%s should be skipped (it depends on the broken table): %s", id, st[id])
		}
	}
	for _, id := range []string{"silver.patients", "silver.claims", "gold.dim_patient", "gold.dim_provider"} {
		if st[id] != StatusSuccess {
			t.Errorf("%s does not depend on the broken table but is %s", id, st[id])
		}
	}
	if out.Run.Status != RunFailed || out.Err() == nil || !strings.Contains(out.Err().Error(), "bronze.hos-b.transactions") {
		t.Errorf("run %s: %v", out.Run.Status, out.Err())
	}
	rec := &Recorder{Lake: w.lh}
	recorded, err := rec.Tasks(context.Background(), out.Run.RunID)
	if err != nil || len(recorded) != len(out.Tasks) {
		t.Fatalf("audit.task_runs holds %d rows for the run, want %d (%v)", len(recorded), len(out.Tasks), err)
	}

	// Fix the table and resume.
	for i := range hb.Tables {
		if hb.Tables[i].Name == "transactions_gone" {
			hb.Tables[i].Name = "transactions"
		}
	}
	o.FromFailure = true
	var ran []string
	var mu sync.Mutex
	o.OnEvent = func(tr TaskRun) {
		if tr.Status == StatusRunning {
			mu.Lock()
			ran = append(ran, tr.Task)
			mu.Unlock()
		}
	}
	out2, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if out2.Err() != nil || out2.Run.ResumedFrom != out.Run.RunID {
		t.Fatalf("resume: %v (resumes %q)", out2.Err(), out2.Run.ResumedFrom)
	}
	// The resume redoes exactly what the first run did not finish: the failed load and what
	// was skipped because of it.
	var want []string
	for _, tr := range out.Tasks {
		if tr.Status == StatusFailed || tr.Status == StatusSkipped {
			want = append(want, tr.Task)
		}
	}
	sort.Strings(want)
	sort.Strings(ran)
	if len(want) < 4 || strings.Join(ran, " ") != strings.Join(want, " ") {
		t.Errorf("the resume ran %v; want only the failed load and what was skipped: %v", ran, want)
	}
	runs, _ := rec.Runs(context.Background())
	if len(runs) != 2 || runs[0].Status != RunSuccess || runs[1].Status != RunFailed {
		t.Errorf("audit.runs: %+v", runs)
	}

	// The result equals a clean, uninterrupted run on the same sources.
	clean := newTestWorld(t, nil)
	if out, err := Run(context.Background(), clean.options(nil)); err != nil || out.Err() != nil {
		t.Fatalf("clean run: %v %v", err, out.Err())
	}
	for _, tbl := range []string{"gold/fact_transaction", "gold/fact_claim", "gold/dim_patient", "gold/kpi_monthly"} {
		if a, b := tableDigest(t, w.lh, tbl), tableDigest(t, clean.lh, tbl); a != b {
			t.Errorf("%s after failure and resume differs from a clean run: %s vs %s", tbl, a, b)
		}
	}
	if strings.Contains(logs.String(), "panic") {
		t.Error("a task panicked")
	}
}

// An interrupt stops the run; every table stays readable; the resume equals a clean run.
func TestInterruptAndResume(t *testing.T) {
	w := newTestWorld(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	o := w.options(nil)
	var finished atomic.Int32
	o.Workers = 1
	o.OnEvent = func(tr TaskRun) {
		if tr.Status == StatusSuccess && finished.Add(1) == 9 {
			cancel() // as SIGTERM does, through the CLI's signal context
		}
	}
	out, err := Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if out.Run.Status != RunInterrupted {
		t.Fatalf("status %s", out.Run.Status)
	}
	if _, err := ReadLease(context.Background(), w.lh.Store); !errors.Is(err, lake.ErrNotExist) {
		t.Errorf("the lease outlived the interrupted run: %v", err)
	}
	o = w.options(nil)
	o.FromFailure = true
	out, err = Run(context.Background(), o)
	if err != nil || out.Err() != nil {
		t.Fatalf("resume: %v %v", err, out.Err())
	}
	clean := newTestWorld(t, nil)
	if out, err := Run(context.Background(), clean.options(nil)); err != nil || out.Err() != nil {
		t.Fatalf("clean run: %v %v", err, out.Err())
	}
	for _, tbl := range []string{"gold/fact_transaction", "gold/fact_claim", "gold/kpi_monthly", "silver/patients"} {
		a, b := tableDigest(t, w.lh, tbl), tableDigest(t, clean.lh, tbl)
		if strings.HasPrefix(tbl, "silver/") {
			a, b = strings.Split(a, ":")[0], strings.Split(b, ":")[0] // silver carries load times
		}
		if a != b {
			t.Errorf("%s after interrupt and resume differs from a clean run: %s vs %s", tbl, a, b)
		}
	}
}

// A second run on a lake whose lease is held fails at once, naming the holder.
func TestLeaseKeepsRunsApart(t *testing.T) {
	w := newTestWorld(t, nil)
	l, err := AcquireLease(context.Background(), w.lh.Store, "other-run", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Run(context.Background(), w.options(nil))
	if !errors.Is(err, ErrLeaseHeld) || !strings.Contains(err.Error(), "other-run") {
		t.Errorf("run while leased: %v", err)
	}
	l.Release(context.Background())
	// An expired lease (its run crashed: nobody renews it) is taken over.
	stale, _ := json.Marshal(LeaseInfo{RunID: "crashed", Taken: time.Now().Add(-time.Hour), Expires: time.Now().Add(-time.Minute)})
	if err := w.lh.Store.PutIfAbsent(context.Background(), LeaseKey, stale); err != nil {
		t.Fatal(err)
	}
	out, err := Run(context.Background(), w.options(nil))
	if err != nil || out.Err() != nil {
		t.Fatalf("run after an expired lease: %v %v", err, out.Err())
	}
	// A lease still valid for an hour, but taken on this host by a process that is gone
	// (a run killed with SIGKILL), is taken over at once.
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Skip("no true(1):", err)
	}
	host, _ := os.Hostname()
	killed, _ := json.Marshal(LeaseInfo{RunID: "killed", Host: host, PID: gone.Process.Pid, Taken: time.Now(), Expires: time.Now().Add(time.Hour)})
	if err := w.lh.Store.PutIfAbsent(context.Background(), LeaseKey, killed); err != nil {
		t.Fatal(err)
	}
	if out, err := Run(context.Background(), w.options(nil)); err != nil || out.Err() != nil {
		t.Fatalf("run after its holder died: %v %v", err, out.Err())
	}
}

func init() {
	// Tests must not depend on the developer's secrets.
	os.Unsetenv("RCMLAKE_SECRETS_DIR")
}
