package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/rcmlake/rcmlake/bronze"
	"github.com/rcmlake/rcmlake/delta"
	"github.com/rcmlake/rcmlake/engine/duckdb"
	"github.com/rcmlake/rcmlake/lake/file"
	"github.com/rcmlake/rcmlake/lakehouse"
	"github.com/rcmlake/rcmlake/pipeline"
)

// TestChaosSIGKILL (issue #9, and issue #4's crash test) kills `rcmlake run` and `rcmlake
// ingest` with SIGKILL at random moments, RCMLAKE_CHAOS_KILLS times (30 by default), on a
// schedule drawn from a seeded RNG whose seed it prints (RCMLAKE_CHAOS_SEED replays one).
//
// It cycles through three scenarios, each on the lake the previous kills left behind:
//   - the first load of a fresh world by `rcmlake run`;
//   - an incremental run after `generate --append-month` on that same lake;
//   - `rcmlake ingest --run-id R` of a fresh world, rerun with the same id.
//
// Kill delays are uniform over the uninterrupted duration of the scenario's command. After
// every kill each Delta table of the lake must replay, its active files exist with the logged
// size and hold the rows and value ranges their stats promise, and every committed bronze load
// must have its files. A scenario ends when its command finishes on its own (or after six
// kills, with one last uninterrupted resume); then its gold and current silver rows (run
// scenarios) and its bronze rows read through committed audit rows must equal those of an
// uninterrupted reference, row for row.
func TestChaosSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos test: about two minutes")
	}
	seed := int64(1)
	if s := os.Getenv("RCMLAKE_CHAOS_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseInt(s, 10, 64); err != nil {
			t.Fatalf("RCMLAKE_CHAOS_SEED: %v", err)
		}
	}
	want := 30
	if s := os.Getenv("RCMLAKE_CHAOS_KILLS"); s != "" {
		var err error
		if want, err = strconv.Atoi(s); err != nil {
			t.Fatalf("RCMLAKE_CHAOS_KILLS: %v", err)
		}
	}
	fmt.Printf("chaos: seed %d, %d kills (RCMLAKE_CHAOS_SEED and RCMLAKE_CHAOS_KILLS override)\n", seed, want)
	t.Logf("chaos seed %d", seed)
	rng := rand.New(rand.NewSource(seed))

	tmp := t.TempDir()
	c := &chaos{t: t, start: time.Now().Add(-time.Second), tmp: tmp, bin: testBinary(t)}
	eng, err := duckdb.Open(duckdb.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	c.eng = eng

	// The references: one uninterrupted run, before and after the appended month, and one
	// uninterrupted ingest. Their durations set the kill windows.
	ref := c.world("ref-run")
	tLoad := c.mustRun(ref, "run")
	refLoad := c.contents(ref, true)
	c.appendMonth(ref)
	tIncr := c.mustRun(ref, "run")
	refIncr := c.contents(ref, true)
	refIng := c.world("ref-ingest")
	tIngest := c.mustRun(refIng, "ingest", "--run-id", "chaos-ingest")
	refIngest := c.contents(refIng, false)
	fmt.Printf("chaos: uninterrupted run %.1fs, incremental run %.1fs, ingest %.1fs\n", tLoad.Seconds(), tIncr.Seconds(), tIngest.Seconds())

	kills, cycle := 0, 0
	for kills < want {
		cycle++
		w := c.world(fmt.Sprintf("chaos-%d", cycle))
		kills += c.scenario(rng, w, "first load", tLoad, want-kills, c.runArgs(w, nil))
		c.compare("first load", refLoad, c.contents(w, true))
		if kills >= want {
			break
		}
		before := c.runIDs(w)
		c.appendMonth(w)
		kills += c.scenario(rng, w, "incremental", tIncr, want-kills, c.runArgs(w, before))
		c.compare("incremental", refIncr, c.contents(w, true))
		if kills >= want {
			break
		}
		iw := c.world(fmt.Sprintf("chaos-ingest-%d", cycle))
		kills += c.scenario(rng, iw, "ingest", tIngest, want-kills, func() []string { return []string{"ingest", "--run-id", "chaos-ingest"} })
		c.compare("ingest", refIngest, c.contents(iw, false))
	}
	fmt.Printf("chaos: %d kills in %d cycle(s); every table stayed readable and every resumed result equals the reference\n", kills, cycle)
}

type chaos struct {
	t     *testing.T
	start time.Time // sources are generated after it; see rows
	tmp   string
	bin   string
	eng   *duckdb.Engine
}

// world generates a small network (two hospitals, three months: a run takes a few seconds)
// and returns its config file.
func (c *chaos) world(name string) string {
	c.t.Helper()
	dir := filepath.Join(c.tmp, name)
	if out, err := exec.Command(c.bin, "generate", "--out", dir, "--seed", "7", "--scale", "0.3", "--months", "3").CombinedOutput(); err != nil {
		c.t.Fatalf("generate: %v\n%s", err, out)
	}
	return filepath.Join(dir, "rcmlake.yaml")
}

func (c *chaos) appendMonth(cfg string) {
	c.t.Helper()
	if out, err := exec.Command(c.bin, "generate", "--out", filepath.Dir(cfg), "--append-month").CombinedOutput(); err != nil {
		c.t.Fatalf("generate --append-month: %v\n%s", err, out)
	}
}

func (c *chaos) command(cfg string, args ...string) (*exec.Cmd, *bytes.Buffer) {
	cmd := exec.Command(c.bin, append([]string{"-c", cfg}, args...)...)
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	return cmd, &log
}

func (c *chaos) mustRun(cfg string, args ...string) time.Duration {
	c.t.Helper()
	cmd, log := c.command(cfg, args...)
	start := time.Now()
	if err := cmd.Run(); err != nil {
		c.t.Fatalf("rcmlake %s: %v\n%s", strings.Join(args, " "), err, log)
	}
	return time.Since(start)
}

// runIDs are the runs audit.runs holds, by id, with their status.
func (c *chaos) runIDs(cfg string) map[string]string {
	c.t.Helper()
	lh := c.lake(cfg)
	defer lh.Close()
	runs, err := (&pipeline.Recorder{Lake: lh}).Runs(context.Background())
	if err != nil {
		c.t.Fatalf("audit.runs unreadable: %v", err)
	}
	out := map[string]string{}
	for _, r := range runs {
		out[r.RunID] = r.Status
	}
	return out
}

// runArgs chooses how to (re)start a run scenario: a plain run while none has been recorded
// since the scenario began, --from-failure once one has; nil once one has succeeded.
func (c *chaos) runArgs(cfg string, before map[string]string) func() []string {
	return func() []string {
		c.t.Helper()
		lh := c.lake(cfg)
		runs, err := (&pipeline.Recorder{Lake: lh}).Runs(context.Background())
		lh.Close()
		if err != nil {
			c.t.Fatalf("audit.runs unreadable after a kill: %v", err)
		}
		for _, r := range runs { // newest first
			if _, old := before[r.RunID]; old {
				continue
			}
			if r.Status == pipeline.RunSuccess {
				return nil
			}
			return []string{"run", "--from-failure"}
		}
		return []string{"run"}
	}
}

// scenario starts the command next() names, kills it after a delay drawn uniformly in
// [0, window), checks the lake, and starts it again, until it finishes on its own or has
// been killed six times (or budget times); then it lets it finish. It returns the kills.
func (c *chaos) scenario(rng *rand.Rand, cfg, name string, window time.Duration, budget int, next func() []string) int {
	c.t.Helper()
	kills := 0
	for {
		args := next()
		if args == nil {
			return kills
		}
		cmd, log := c.command(cfg, args...)
		if kills >= min(6, budget) {
			if err := cmd.Run(); err != nil {
				c.t.Fatalf("%s: the final resume (rcmlake %s) failed: %v\n%s", name, strings.Join(args, " "), err, log)
			}
			if name == "ingest" {
				return kills
			}
			continue // next() sees the success
		}
		delay := time.Duration(rng.Int63n(int64(window)))
		if err := cmd.Start(); err != nil {
			c.t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				c.t.Fatalf("%s: rcmlake %s failed before its kill: %v\n%s", name, strings.Join(args, " "), err, log)
			}
			if name == "ingest" {
				return kills
			}
			continue
		case <-time.After(delay):
		}
		cmd.Process.Signal(syscall.SIGKILL)
		<-done
		kills++
		c.t.Logf("%s: kill %d of rcmlake %s after %v", name, kills, strings.Join(args, " "), delay.Round(time.Millisecond))
		if problems := c.check(cfg); len(problems) > 0 {
			c.t.Fatalf("%s: after a SIGKILL %v into rcmlake %s the lake is inconsistent:\n  %s", name, delay, strings.Join(args, " "), strings.Join(problems, "\n  "))
		}
	}
}

func (c *chaos) lake(cfg string) *lakehouse.Lakehouse {
	c.t.Helper()
	_, lh := openLakeDir(c.t, filepath.Join(filepath.Dir(cfg), "lake"))
	return lh
}

// deltaTables lists the Delta tables under the lake (keys relative to its root).
func deltaTables(root string) []string {
	var out []string
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() && d.Name() == "_delta_log" {
			rel, _ := filepath.Rel(root, filepath.Dir(p))
			out = append(out, filepath.ToSlash(rel))
			return filepath.SkipDir
		}
		return nil
	})
	slices.Sort(out)
	return out
}

// check returns every inconsistency of the lake: a Delta table whose log does not replay, an
// active file missing or of another size than its add action, a file whose row count or
// value range differs from its stats, a committed bronze load whose file is missing, a table
// loaded twice by one run or a landing file loaded twice.
func (c *chaos) check(cfg string) []string {
	ctx := context.Background()
	root := filepath.Join(filepath.Dir(cfg), "lake")
	st, err := file.New(root)
	if err != nil {
		return []string{err.Error()}
	}
	var problems []string
	for _, key := range deltaTables(root) {
		tbl := delta.Open(st, key)
		if ok, err := tbl.Exists(ctx); err != nil || !ok {
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s: listing the log: %v", key, err))
			}
			continue // killed before its first commit: not a table yet
		}
		s, err := tbl.Latest(ctx)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: the log does not replay: %v", key, err))
			continue
		}
		for _, f := range s.Files() {
			if p := c.checkFile(st.LocalPath(f.Key), f); p != "" {
				problems = append(problems, fmt.Sprintf("%s v%d: %s: %s", key, s.Version, f.Path, p))
			}
		}
	}
	lh := c.lake(cfg)
	defer lh.Close()
	logs, err := bronze.ReadLoadLogs(ctx, lh, nil)
	if err != nil {
		return append(problems, fmt.Sprintf("audit.load_logs unreadable: %v", err))
	}
	seen := map[string]bool{}
	for _, l := range logs {
		if l.Status != "success" {
			continue
		}
		// A load committed twice: the same landing file, or one run's load of a table.
		k := "run " + l.RunID + " " + l.DataSource + "." + l.TableName
		if strings.HasPrefix(l.StateKey, "file:") {
			k = l.StateKey
		}
		if seen[k] {
			problems = append(problems, "bronze: two committed loads of "+k)
		}
		seen[k] = true
		for _, f := range l.Files {
			if _, err := os.Stat(st.LocalPath(f)); err != nil {
				problems = append(problems, fmt.Sprintf("bronze load %s %s.%s committed, but its file %s: %v", l.RunID, l.DataSource, l.TableName, f, err))
			}
		}
	}
	return problems
}

// checkFile compares one active file with its add action: size, the Parquet footer's row
// count against numRecords, and every row against minValues/maxValues.
func (c *chaos) checkFile(path string, f delta.FileEntry) string {
	fh, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return err.Error()
	}
	if fi.Size() != f.Size {
		return fmt.Sprintf("%d bytes, the log says %d", fi.Size(), f.Size)
	}
	pf, err := parquet.OpenFile(fh, fi.Size())
	if err != nil {
		return "not a readable Parquet file: " + err.Error()
	}
	stats, err := delta.ParseStats(f.Stats)
	if err != nil || stats == nil {
		return fmt.Sprintf("no usable stats (%v)", err)
	}
	if pf.NumRows() != stats.NumRecords {
		return fmt.Sprintf("%d rows, stats say %d", pf.NumRows(), stats.NumRecords)
	}
	var conds []string
	for col, lo := range stats.MinValues {
		hi, ok := stats.MaxValues[col]
		if !ok {
			continue
		}
		conds = append(conds, fmt.Sprintf("count_if(NOT (%s BETWEEN %s AND %s))", duckdb.Ident(col), duckdb.Literal(fmt.Sprint(lo)), duckdb.Literal(fmt.Sprint(hi))))
	}
	if len(conds) == 0 {
		return ""
	}
	slices.Sort(conds)
	res, err := c.eng.Query(context.Background(), "SELECT "+strings.Join(conds, " + ")+" FROM read_parquet("+duckdb.Literal(path)+")")
	if err != nil {
		return "checking min/max: " + err.Error()
	}
	if n := fmt.Sprint(res.Rows[0][0]); n != "0" {
		return n + " values outside their column's minValues/maxValues"
	}
	return ""
}

// contents reads what a world's lake holds, as sorted rows per table, for comparison with a
// reference: bronze through committed audit rows (a full-load table's latest load, every
// load of the others), and for a run also silver's current rows and every gold table. What
// legitimately differs between two runs is left out: the bronze run id and load time, the
// _ingest_seq of load-timed silver entities (loadTimed), and every timestamp rcmlake stamped
// during a run rather than took from the source (see rows).
func (c *chaos) contents(cfg string, withModels bool) map[string][]string {
	c.t.Helper()
	ctx := context.Background()
	lh := c.lake(cfg)
	defer lh.Close()
	out := map[string][]string{}
	logs, err := bronze.ReadLoadLogs(ctx, lh, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	type tk struct{ ds, table string }
	files := map[tk][]string{}
	for _, l := range logs { // oldest first
		if l.Status != "success" || len(l.Files) == 0 {
			continue
		}
		k := tk{l.DataSource, l.TableName}
		if l.LoadType == "full" || l.LoadType == "api" {
			files[k] = nil // a full load is a whole snapshot: the latest one is the table
		}
		for _, f := range l.Files {
			files[k] = append(files[k], duckdb.Literal(lh.Store.(*file.Storage).LocalPath(f)))
		}
	}
	for k, fs := range files {
		out["bronze."+k.ds+"."+k.table] = c.rows(fmt.Sprintf("SELECT * EXCLUDE (%s, %s) FROM read_parquet([%s], union_by_name = true, hive_partitioning = false)",
			bronze.ColRunID, bronze.ColLoadTime, strings.Join(fs, ", ")))
	}
	if !withModels {
		return out
	}
	root := lh.Store.(*file.Storage).Root()
	for _, key := range deltaTables(root) {
		layer, _, _ := strings.Cut(key, "/")
		if layer != "gold" && layer != "silver" {
			continue
		}
		s, err := delta.Open(lh.Store, key).Latest(ctx)
		if err != nil {
			c.t.Fatalf("%s: %v", key, err)
		}
		scan, err := lh.ScanSQL(ctx, s)
		if err != nil {
			c.t.Fatal(err)
		}
		q := "SELECT * FROM " + scan + " t"
		if layer == "silver" {
			q = "SELECT * FROM " + scan + " t WHERE is_current"
			if loadTimed[key] {
				q = "SELECT * EXCLUDE (_ingest_seq) FROM " + scan + " t WHERE is_current"
			}
		}
		out[strings.ReplaceAll(key, "/", ".")] = c.rows(q)
	}
	return out
}

// loadTimed are the silver entities whose sources have no change time (full EMR loads, the
// CPT file, the reference APIs): their _ingest_seq is the order rows arrived in within one
// snapshot (NPI answers arrive in lookup completion order), which carries no meaning.
var loadTimed = map[string]bool{"silver/departments": true, "silver/providers": true, "silver/cpt_codes": true,
	"silver/icd_codes": true, "silver/npi": true}

// rows renders a query's rows as sorted text lines (columns in the query's order). A
// timestamp at or after the test's start was stamped by rcmlake during a run (when it
// loaded a full snapshot, detected a delete, wrote a version), not taken from the generated
// sources, which all lie before it: it is rendered as "<run time>".
func (c *chaos) rows(q string) []string {
	c.t.Helper()
	res, err := c.eng.Query(context.Background(), q)
	if err != nil {
		c.t.Fatalf("%v\n%s", err, q)
	}
	out := make([]string, len(res.Rows))
	for i, r := range res.Rows {
		var b strings.Builder
		for j, v := range r {
			if j > 0 {
				b.WriteByte('|')
			}
			if ts, ok := v.(time.Time); ok && !ts.Before(c.start) {
				b.WriteString("<run time>")
				continue
			}
			fmt.Fprintf(&b, "%v", v)
		}
		out[i] = b.String()
	}
	slices.Sort(out)
	return out
}

// compare fails the test where a table's rows differ from the reference's, as multisets,
// naming the table, the counts and (without patient data: only counts and positions) how
// many rows are missing and extra.
func (c *chaos) compare(scenario string, want, got map[string][]string) {
	c.t.Helper()
	var names []string
	for n := range want {
		names = append(names, n)
	}
	for n := range got {
		if _, ok := want[n]; !ok {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	bad := 0
	for _, n := range names {
		missing, extra := diffSorted(want[n], got[n])
		if missing+extra > 0 {
			bad++
			c.t.Errorf("%s: %s differs from the uninterrupted reference: %d rows vs %d (%d missing, %d extra)",
				scenario, n, len(got[n]), len(want[n]), missing, extra)
		}
	}
	if bad > 0 {
		c.t.FailNow()
	}
	c.t.Logf("%s: %d tables equal the reference", scenario, len(names))
}

// diffSorted counts the lines of a missing from b and of b extra to a (both sorted).
func diffSorted(a, b []string) (missing, extra int) {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] == b[j]:
			i++
			j++
		case a[i] < b[j]:
			missing++
			i++
		default:
			extra++
			j++
		}
	}
	return missing + len(a) - i, extra + len(b) - j
}
