package main

import (
	"context"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rcmlake/rcmlake/bronze"
	"github.com/rcmlake/rcmlake/delta"
	"github.com/rcmlake/rcmlake/lake/file"
	"github.com/rcmlake/rcmlake/lakehouse"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// testBinary builds rcmlake once per test run, for tests that need it as its own process.
func testBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "rcmlake-bin-*")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "rcmlake")
		if out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

func envInt(name string, def int64) int64 {
	if v, err := strconv.ParseInt(os.Getenv(name), 10, 64); err == nil {
		return v
	}
	return def
}

// TestChaosSIGKILL kills `rcmlake ingest` and `rcmlake run` with SIGKILL at random moments, at
// least 30 times (RCMLAKE_CHAOS_KILLS), from a seeded RNG it prints (RCMLAKE_CHAOS_SEED
// replays one). After every kill each Delta table's log replays and its active files exist
// with the size and row count the log records, and bronze holds only committed loads. Each
// phase (the first load, then appended months) is then run to completion, and its gold tables,
// KPIs and current silver rows equal, row for row, those of an uninterrupted run.
func TestChaosSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos: not in -short")
	}
	seed := uint64(envInt("RCMLAKE_CHAOS_SEED", time.Now().UnixNano()%1_000_000))
	kills := int(envInt("RCMLAKE_CHAOS_KILLS", 30))
	t.Logf("chaos seed %d (rerun with RCMLAKE_CHAOS_SEED=%d), %d kills", seed, seed, kills)
	rng := rand.New(rand.NewPCG(seed, seed^0x5eed))
	bin := testBinary(t)
	tmp := t.TempDir()
	cfgs := map[string]string{}
	for _, w := range []string{"clean", "chaos"} {
		dir := filepath.Join(tmp, w)
		if code, _, errs := runCLI(t, "generate", "--out", dir, "--seed", "11", "--scale", "0.3", "--months", "3"); code != exitOK {
			t.Fatalf("generate: %s", errs)
		}
		cfgs[w] = filepath.Join(dir, "rcmlake.yaml")
	}
	exec1 := func(cfg string, args ...string) (time.Duration, error) {
		start := time.Now()
		out, err := exec.Command(bin, append([]string{"-c", cfg, "--log-level", "error"}, args...)...).CombinedOutput()
		if err != nil {
			return 0, fmt.Errorf("rcmlake %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return time.Since(start), nil
	}
	appendMonth := func(cfg string) {
		t.Helper()
		if code, _, errs := runCLI(t, "generate", "--out", filepath.Dir(cfg), "--append-month"); code != exitOK {
			t.Fatalf("append month: %s", errs)
		}
	}

	// Phases: ingest alone (the bronze crash test), the rest of the first run, then two
	// appended months. Each is run clean first, to know its length and its result.
	phases := []struct {
		name   string
		args   []string
		before func(cfg string)
	}{
		{"ingest", []string{"ingest"}, nil},
		{"first run", []string{"run"}, nil},
		{"month 4", []string{"run"}, appendMonth},
		{"month 5", []string{"run"}, appendMonth},
	}
	// Draws that land after a run has finished kill nothing, so each phase draws until its
	// share of kills is reached (or twice as many draws).
	perPhase := (kills + len(phases) - 1) / len(phases)
	killed := 0
	for _, ph := range phases {
		if ph.before != nil {
			ph.before(cfgs["clean"])
			ph.before(cfgs["chaos"])
		}
		length, err := exec1(cfgs["clean"], ph.args...)
		if err != nil {
			t.Fatal(err)
		}
		want := chaosDigests(t, cfgs["clean"], ph.name == "ingest")
		for k, draws := 0, 0; k < perPhase && draws < 2*perPhase; draws++ {
			// Kill somewhere in the run's length; after earlier kills the rest of the work is
			// shorter, so some draws land after the run ends and do not count.
			delay := time.Duration(rng.Float64() * float64(length))
			cmd := exec.Command(bin, append([]string{"-c", cfgs["chaos"], "--log-level", "error"}, ph.args...)...)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("%s: a run that was not killed failed: %v", ph.name, err)
				}
				continue
			case <-time.After(delay):
			}
			cmd.Process.Signal(syscall.SIGKILL)
			<-done
			killed++
			k++
			checkLakeConsistent(t, filepath.Join(filepath.Dir(cfgs["chaos"]), "lake"), fmt.Sprintf("%s, kill %d after %v", ph.name, k, delay.Round(time.Millisecond)))
			if t.Failed() {
				return
			}
		}
		if _, err := exec1(cfgs["chaos"], ph.args...); err != nil {
			t.Fatalf("%s: resuming after the kills: %v", ph.name, err)
		}
		got := chaosDigests(t, cfgs["chaos"], ph.name == "ingest")
		for table, d := range want {
			if got[table] != d {
				t.Errorf("%s: %s after kills and a resume differs from an uninterrupted run:\n got %s\nwant %s", ph.name, table, got[table], d)
			}
		}
	}
	t.Logf("%d runs killed", killed)
	if killed < kills {
		t.Errorf("only %d kills landed in a running process, want %d", killed, kills)
	}
}

// chaosDigests summarises what a run must reproduce: for ingest, the bronze rows per table
// (each committed incremental load's rows, the latest full snapshot); otherwise the gold
// tables and the current silver rows.
func chaosDigests(t *testing.T, cfg string, bronzeOnly bool) map[string]string {
	t.Helper()
	out := map[string]string{}
	q := func(sql string) string {
		code, res, errs := runCLI(t, "-c", cfg, "query", sql, "--format", "csv")
		if code != exitOK {
			t.Fatalf("%s: %s", sql, errs)
		}
		return strings.TrimSpace(res)
	}
	if bronzeOnly {
		// Incremental tables: the rows of all committed loads, and no row twice.
		out["bronze loads"] = q(`SELECT data_source, tablename, load_type, sum(numberofrowscopied) FROM audit.load_logs
			WHERE status = 'success' AND load_type = 'incremental' GROUP BY ALL ORDER BY ALL`)
		out["bronze full snapshots"] = q(`SELECT data_source, tablename, arg_max(numberofrowscopied, loaddate) FROM audit.load_logs
			WHERE status = 'success' AND load_type <> 'incremental' GROUP BY ALL ORDER BY ALL`)
		// The rows themselves, without the columns that say which run loaded them: a count and
		// a digest per column, by name (a bronze table's columns are the union of its loads',
		// in the order the loads committed, which a kill may change).
		for _, tbl := range []string{"bronze.transactions", "bronze.patients", "bronze.encounters", "bronze.claims"} {
			out[tbl] = q("SELECT count(*) FROM "+tbl) + "\n" + q(`SELECT * FROM (UNPIVOT (SELECT CAST(bit_xor(hash(COLUMNS(* EXCLUDE (_run_id, _load_time, _source_watermark)))) AS VARCHAR)
				FROM `+tbl+`) ON COLUMNS(*) INTO NAME col VALUE h) ORDER BY col`)
		}
		return out
	}
	for _, table := range []string{"gold.fact_transaction", "gold.fact_claim", "gold.kpi_monthly", "gold.fact_ar_snapshot"} {
		out[table] = q("SELECT count(*), bit_xor(hash(x)) FROM (SELECT * FROM " + table + ") x")
	}
	// A hard delete is dated when a load first misses the key (the source keeps no date), so
	// valid_to of a version closed by a delete differs between any two runs, killed or not.
	for _, table := range []string{"gold.dim_patient", "gold.dim_provider"} {
		out[table] = q("SELECT count(*), bit_xor(hash(x)) FROM (SELECT * EXCLUDE (valid_to) FROM " + table + ") x")
	}
	for _, e := range []string{"patients", "transactions", "claims"} {
		out["silver."+e] = q("SELECT count(*), bit_xor(hash(x)) FROM (SELECT * EXCLUDE (_inserted_at, _modified_at, _ingest_seq) FROM silver." + e + " WHERE is_current) x")
	}
	return out
}

// checkLakeConsistent opens every Delta table under a lake: its log must replay, and each
// active file must exist with the size and the row count its add action records. Bronze files
// that committed loads name must exist.
func checkLakeConsistent(t *testing.T, root, when string) {
	t.Helper()
	ctx := context.Background()
	store, err := file.New(root)
	if err != nil {
		t.Fatal(err)
	}
	lh, err := lakehouse.OpenStorage(store)
	if err != nil {
		t.Fatal(err)
	}
	defer lh.Close()
	var tables []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() && d.Name() == "_delta_log" {
			rel, _ := filepath.Rel(root, filepath.Dir(p))
			tables = append(tables, filepath.ToSlash(rel))
			return filepath.SkipDir
		}
		return nil
	})
	for _, key := range tables {
		tbl := delta.Open(store, key)
		if ok, err := tbl.Exists(ctx); err != nil || !ok {
			continue // a log folder whose first commit never landed
		}
		s, err := tbl.Latest(ctx)
		if err != nil {
			t.Errorf("%s: %s does not replay: %v", when, key, err)
			continue
		}
		var paths []string
		var want int64
		for _, f := range s.Files() {
			p := filepath.Join(root, filepath.FromSlash(f.Key))
			info, err := os.Stat(p)
			if err != nil || info.Size() != f.Size {
				t.Errorf("%s: %s v%d: active file %s: %v (size %d in the log)", when, key, s.Version, f.Path, err, f.Size)
				continue
			}
			st, err := delta.ParseStats(f.Stats)
			if err != nil || st == nil {
				t.Errorf("%s: %s: file %s has no stats", when, key, f.Path)
				continue
			}
			want += st.NumRecords
			paths = append(paths, "'"+p+"'")
		}
		if len(paths) == 0 {
			continue
		}
		r, err := lh.Engine.Query(ctx, "SELECT count(*) FROM read_parquet(["+strings.Join(paths, ", ")+"], union_by_name = true)")
		if err != nil {
			t.Errorf("%s: %s: reading its files: %v", when, key, err)
		} else if got := r.Rows[0][0].(int64); got != want {
			t.Errorf("%s: %s v%d: %d rows in its files, %d in its stats", when, key, s.Version, got, want)
		}
	}
	logs, err := bronze.ReadLoadLogs(ctx, lh, nil)
	if err != nil {
		t.Errorf("%s: audit.load_logs: %v", when, err)
		return
	}
	for _, l := range logs {
		if l.Status != "success" {
			continue
		}
		for _, f := range l.Files {
			if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(f))); err != nil {
				t.Errorf("%s: committed load %s.%s names a missing file: %v", when, l.DataSource, l.TableName, err)
			}
		}
	}
}
