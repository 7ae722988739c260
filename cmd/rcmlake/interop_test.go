package main

// Interop tests: Apache Spark (delta-spark) and delta-rs, the engines users actually run, read
// every table rcmlake writes and find what rcmlake query finds; see internal/interop.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/rcmlake/rcmlake/delta"
	"github.com/rcmlake/rcmlake/engine/duckdb"
	"github.com/rcmlake/rcmlake/internal/interop"
	"github.com/rcmlake/rcmlake/internal/testenv"
	"github.com/rcmlake/rcmlake/lake/file"
)

// One Spark per test binary: its JVM takes ~10 s to start and more to warm up.
var (
	sparkOnce sync.Once
	sparkDone = make(chan struct{})
	sparkEng  *interop.Engine
	sparkErr  error
)

// startSpark starts Spark in the background (the first call), so that the JVM starts while
// the test builds its lake; sparkEngine waits for it. Without Spark it does nothing: only the
// tests and subtests that use Spark skip (or fail in CI), through sparkEngine.
func startSpark() {
	sparkOnce.Do(func() {
		sp, err := testenv.LookupSpark()
		if err != nil {
			sparkErr = err
			close(sparkDone)
			return
		}
		go func() {
			defer close(sparkDone)
			sparkEng, sparkErr = interop.StartSpark(sp.Python, sp.Jars, sp.Env)
		}()
	})
}

func sparkEngine(t *testing.T) *interop.Engine {
	t.Helper()
	testenv.FindSpark(t) // skips, or fails in CI, when Spark is missing
	startSpark()
	<-sparkDone
	if sparkErr != nil {
		t.Fatal(sparkErr)
	}
	return sparkEng
}

// stopEngines stops the engines this test binary started and removes the interop lake (from
// TestMain).
func stopEngines() {
	select {
	case <-sparkDone:
		sparkEng.Close()
	default: // never started, or still starting: it dies with this process (Pdeathsig)
	}
	if interopDir != "" {
		os.RemoveAll(interopDir)
	}
}

func deltaRSEngine(t *testing.T) *interop.Engine {
	t.Helper()
	testenv.FindDeltaRS(t)
	e, err := interop.StartDeltaRS("python3")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// interopLake is a demo world with a second month run on top (so every silver and gold table has
// an earlier version to travel to), then a checkpoint of every table written by rcmlake.
type interopLake struct {
	dir, cfg, lake string
	tables         []string // layer.table
}

var (
	interopOnce  sync.Once
	interopWorld *interopLake
	interopFail  string
	interopDir   string // removed by stopEngines
)

func sharedInteropLake(t *testing.T) *interopLake {
	t.Helper()
	interopOnce.Do(func() {
		dir, err := os.MkdirTemp("", "rcmlake-interop-")
		if err != nil {
			interopFail = err.Error()
			return
		}
		interopDir = dir
		w, msg := buildInteropLake(t, dir)
		interopWorld, interopFail = w, msg
	})
	if interopFail != "" {
		t.Fatal(interopFail)
	}
	return interopWorld
}

func buildInteropLake(t *testing.T, dir string) (*interopLake, string) {
	w := &interopLake{dir: dir, cfg: filepath.Join(dir, "rcmlake.yaml"), lake: filepath.Join(dir, "lake")}
	for _, args := range [][]string{
		{"demo", "--dir", dir, "--scale", "0.1", "--months", "3"},
		{"generate", "--out", dir, "--append-month"},
		{"run", "-c", w.cfg},
	} {
		if code, out, errs := runCLI(t, args...); code != exitOK {
			return nil, fmt.Sprintf("%s: exit %d\n%s\n%s", strings.Join(args, " "), code, out, errs)
		}
	}
	if msg := writeTypesTable(t, w); msg != "" {
		return nil, msg
	}
	for _, layer := range []string{"silver", "gold", "audit"} {
		entries, _ := os.ReadDir(filepath.Join(w.lake, layer))
		for _, en := range entries {
			w.tables = append(w.tables, layer+"."+en.Name())
		}
	}
	sort.Strings(w.tables)
	for _, name := range w.tables {
		if code, _, errs := runCLI(t, "table", "checkpoint", "-c", w.cfg, name); code != exitOK {
			return nil, fmt.Sprintf("table checkpoint %s: %s", name, errs)
		}
	}
	return w, ""
}

// path is a table's folder.
func (w *interopLake) path(name string) string {
	return filepath.Join(w.lake, strings.Replace(name, ".", string(filepath.Separator), 1))
}

// snapshot is rcmlake's own view of a table's version (latest when v < 0).
func (w *interopLake) snapshot(t *testing.T, name string, v int64) *delta.Snapshot {
	t.Helper()
	return snapshotIn(t, w.lake, name, v)
}

// snapshotIn is rcmlake's own view of a table's version in the lake at lakeDir.
func snapshotIn(t *testing.T, lakeDir, name string, v int64) *delta.Snapshot {
	t.Helper()
	st, err := file.New(lakeDir)
	if err != nil {
		t.Fatal(err)
	}
	tbl := delta.Open(st, strings.Replace(name, ".", "/", 1))
	var s *delta.Snapshot
	if v < 0 {
		s, err = tbl.Latest(context.Background())
	} else {
		s, err = tbl.At(context.Background(), v)
	}
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// rcmlakeSummary is what rcmlake query finds in a table at a version: the same statistics the
// engines compute, in DuckDB's SQL over the catalog name (with time travel).
func rcmlakeSummary(t *testing.T, cfg, name string, s *delta.Snapshot) *interop.Summary {
	t.Helper()
	var cols []interop.Column
	for _, f := range s.Schema.Fields {
		typ := f.Type.Primitive
		if typ == "" {
			typ = "nested"
		}
		cols = append(cols, interop.Column{Name: f.Name, Type: typ})
	}
	q := interop.NewSummaryQuery(fmt.Sprintf("%s@v%d", name, s.Version), cols)
	rows := queryJSONL(t, cfg, q.SQL)
	if len(rows) != 1 {
		t.Fatalf("%s: %d rows from the summary query", name, len(rows))
	}
	sum, err := q.Parse(rows[0], s.Version)
	if err != nil {
		t.Fatal(err)
	}
	sum.Protocol = interop.Protocol{MinReader: s.Protocol.MinReaderVersion, MinWriter: s.Protocol.MinWriterVersion,
		Features: append(append([]string{}, s.Protocol.ReaderFeatures...), s.Protocol.WriterFeatures...)}
	return sum
}

// queryJSONL runs rcmlake query and returns its rows, every value as text or nil.
func queryJSONL(t *testing.T, cfg, sql string) []map[string]*string {
	t.Helper()
	code, out, errs := runCLI(t, "query", "-c", cfg, "--format", "jsonl", sql)
	if code != exitOK {
		t.Fatalf("rcmlake query %s: exit %d: %s", sql, code, errs)
	}
	var rows []map[string]*string
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var raw map[string]any
		if err := json.Unmarshal(sc.Bytes(), &raw); err != nil {
			t.Fatalf("rcmlake query: %v: %s", err, sc.Text())
		}
		row := map[string]*string{}
		for k, v := range raw {
			if v != nil {
				s := fmt.Sprint(v)
				row[k] = &s
			}
		}
		rows = append(rows, row)
	}
	return rows
}

// readCheck is one table version the engines must read as rcmlake does.
type readCheck struct {
	name    string
	path    string
	version int64 // -1: latest
	want    *interop.Summary
}

// readChecks lists every table at its latest version (which rcmlake checkpointed) and at the
// version before (time travel, through JSON commits or an automatic checkpoint and the commits
// after it), plus a copy of silver.claims whose log holds nothing before the checkpoint, so that
// an engine can only read it through rcmlake's checkpoint.
func readChecks(t *testing.T, w *interopLake) []readCheck {
	t.Helper()
	var checks []readCheck
	for _, name := range w.tables {
		latest := w.snapshot(t, name, -1)
		checks = append(checks, readCheck{name, w.path(name), -1, rcmlakeSummary(t, w.cfg, name, latest)})
		if latest.Version > 0 {
			prev := w.snapshot(t, name, latest.Version-1)
			checks = append(checks, readCheck{name, w.path(name), prev.Version, rcmlakeSummary(t, w.cfg, name, prev)})
		}
	}
	cp := filepath.Join(t.TempDir(), "claims-checkpoint-only")
	if err := os.CopyFS(cp, os.DirFS(w.path("silver.claims"))); err != nil {
		t.Fatal(err)
	}
	latest := w.snapshot(t, "silver.claims", -1)
	logDir := filepath.Join(cp, "_delta_log")
	entries, _ := os.ReadDir(logDir)
	kept := 0
	for _, en := range entries {
		var v int64
		if _, err := fmt.Sscanf(en.Name(), "%020d.json", &v); err == nil && v < latest.Version {
			if err := os.Remove(filepath.Join(logDir, en.Name())); err != nil {
				t.Fatal(err)
			}
		} else {
			kept++
		}
	}
	if _, err := os.Stat(filepath.Join(logDir, fmt.Sprintf("%020d.checkpoint.parquet", latest.Version))); err != nil || latest.Version == 0 {
		t.Fatalf("silver.claims has no checkpoint at its latest version %d above 0: %v", latest.Version, err)
	}
	for _, c := range checks {
		if c.name == "silver.claims" && c.version < 0 {
			checks = append(checks, readCheck{"silver.claims (checkpoint only)", cp, -1, c.want})
			break
		}
	}
	return checks
}

// TestEnginesReadEveryTable: Spark and delta-rs read every silver, gold, KPI and audit table of
// a demo lake, at the latest version (from rcmlake's checkpoint) and at the one before (time
// travel), and find what rcmlake query finds: the same version and protocol (1, 2), rows,
// column types, NULLs, money totals to the cent, distinct keys, string lengths (non-ASCII
// names included), date ranges and timestamps to the microsecond.
func TestEnginesReadEveryTable(t *testing.T) {
	startSpark()
	w := sharedInteropLake(t)
	checks := readChecks(t, w)
	if len(w.tables) < 25 {
		t.Fatalf("only %d tables: %v", len(w.tables), w.tables)
	}
	nonASCII := queryJSONL(t, w.cfg, `SELECT CAST(count(*) AS VARCHAR) AS n FROM silver.patients WHERE regexp_matches(last_name, '[^\x00-\x7F]')`)
	if n := *nonASCII[0]["n"]; n == "0" {
		t.Fatal("the demo world has no non-ASCII names to check")
	}
	for _, eng := range []struct {
		name  string
		start func(*testing.T) *interop.Engine
	}{{"spark", sparkEngine}, {"delta-rs", deltaRSEngine}} {
		t.Run(eng.name, func(t *testing.T) {
			e := eng.start(t)
			for _, c := range checks {
				got, err := e.Summary(c.path, c.version)
				if err != nil {
					t.Errorf("%s@%d: %v", c.name, c.version, err)
					continue
				}
				if got.Protocol.MinReader != 1 || got.Protocol.MinWriter != 2 || len(got.Protocol.Features) > 0 {
					t.Errorf("%s: %s sees protocol %+v, rcmlake writes (1, 2)", c.name, e.Name, got.Protocol)
				}
				for _, d := range interop.Diff(c.want, got) {
					t.Errorf("%s@v%d: %s: %s", c.name, c.want.Version, e.Name, d)
				}
			}
		})
	}
}

// typesRows are the rows of silver.interop_types, written by rcmlake's writer, as every engine
// must render them: id, name, site (the partition column), amount decimal(18,2), service_day date, charged_at
// timestamp (epoch microseconds, UTC), flag boolean. They hold what can go wrong between
// engines: non-ASCII text (in data and in a partition folder), empty text against NULL, the
// largest and a negative decimal(18,2), a leap day, dates far apart, microseconds on both sides
// of the epoch and across a DST change, and NULL in every type.
var typesRows = [][]*string{
	texts("1", "Müller", "hos-ü", "9999999999999999.99", "2024-02-29", "1711848600123456", "true"),
	texts("2", "Zoë 李 😀 Ñandú", "hos a/b=c%", "-0.01", "1900-01-01", "-1", "false"),
	texts("3", "", "hos-a", "0.00", "9999-12-31", "0", "\x00"),
	texts("4", "\x00", "\x00", "\x00", "\x00", "\x00", "\x00"),
}

var typesSchema = []struct{ name, delta, duck string }{
	{"id", "long", "BIGINT"}, {"name", "string", "VARCHAR"}, {"site", "string", "VARCHAR"},
	{"amount", "decimal(18,2)", "DECIMAL(18,2)"}, {"service_day", "date", "DATE"}, {"charged_at", "timestamp", "TIMESTAMPTZ"},
	{"flag", "boolean", "BOOLEAN"},
}

// texts turns values into a row; "\x00" stands for NULL.
func texts(vs ...string) []*string {
	out := make([]*string, len(vs))
	for i, v := range vs {
		if v != "\x00" {
			out[i] = &vs[i]
		}
	}
	return out
}

// writeTypesTable writes silver.interop_types with rcmlake's Delta writer, partitioned by site.
func writeTypesTable(t *testing.T, w *interopLake) string {
	var rows []string
	for _, r := range typesRows {
		var vals []string
		for i, v := range r {
			c := typesSchema[i]
			switch {
			case v == nil:
				vals = append(vals, "CAST(NULL AS "+c.duck+")")
			case c.name == "charged_at":
				vals = append(vals, "(TIMESTAMPTZ '1970-01-01 00:00:00+00' + to_microseconds(CAST("+*v+" AS BIGINT)))")
			default:
				vals = append(vals, "CAST("+duckdb.Literal(*v)+" AS "+c.duck+")")
			}
		}
		rows = append(rows, "("+strings.Join(vals, ", ")+")")
	}
	var names []string
	for _, c := range typesSchema {
		names = append(names, c.name)
	}
	q := "SELECT * FROM (VALUES " + strings.Join(rows, ", ") + ") t(" + strings.Join(names, ", ") + ")"
	st, err := file.New(w.lake)
	if err != nil {
		return err.Error()
	}
	e, err := duckdb.Open(duckdb.Options{Threads: 1})
	if err != nil {
		return err.Error()
	}
	defer e.Close()
	if _, err := e.WriteDelta(context.Background(), delta.Open(st, "silver/interop_types"), q,
		duckdb.WriteOptions{Mode: duckdb.Overwrite, PartitionBy: []string{"site"}}); err != nil {
		return "writing silver.interop_types: " + err.Error()
	}
	return ""
}

// TestEnginesReadTypes: Spark, delta-rs and rcmlake query read silver.interop_types (written by
// rcmlake, partitioned by a column with non-ASCII, special characters and NULL) value for value,
// with the Delta types rcmlake wrote.
func TestEnginesReadTypes(t *testing.T) {
	startSpark()
	w := sharedInteropLake(t)
	byID := func(rows [][]*string, idCol int) map[string][]*string {
		m := map[string][]*string{}
		for _, r := range rows {
			m[deref(r[idCol])] = r
		}
		return m
	}
	want := byID(typesRows, 0)
	check := func(t *testing.T, who string, cols []string, types []string, rows [][]*string) {
		t.Helper()
		idx := map[string]int{}
		for i, c := range cols {
			idx[c] = i
		}
		if len(cols) != len(typesSchema) {
			t.Errorf("%s: columns %v", who, cols)
		}
		for _, c := range typesSchema {
			i, ok := idx[c.name]
			if !ok {
				t.Fatalf("%s: no column %s in %v", who, c.name, cols)
			}
			if types != nil && types[i] != c.delta {
				t.Errorf("%s: %s is %s, rcmlake wrote %s", who, c.name, types[i], c.delta)
			}
		}
		if len(rows) != len(typesRows) {
			t.Errorf("%s: %d rows, want %d", who, len(rows), len(typesRows))
		}
		got := byID(rows, idx["id"])
		for id, wr := range want {
			gr, ok := got[id]
			if !ok {
				t.Errorf("%s: no row %s", who, id)
				continue
			}
			for j, c := range typesSchema {
				if g, x := deref(gr[idx[c.name]]), deref(wr[j]); g != x {
					t.Errorf("%s: row %s: %s = %q, want %q", who, id, c.name, g, x)
				}
			}
		}
	}
	t.Run("rcmlake", func(t *testing.T) {
		var sel []string
		for _, c := range typesSchema {
			e := `"` + c.name + `"`
			if c.name == "charged_at" {
				e = "epoch_us(charged_at)"
			}
			sel = append(sel, "CAST("+e+" AS VARCHAR) AS "+c.name)
		}
		out := queryJSONL(t, w.cfg, "SELECT "+strings.Join(sel, ", ")+" FROM silver.interop_types")
		var rows [][]*string
		var cols []string
		for _, c := range typesSchema {
			cols = append(cols, c.name)
		}
		for _, r := range out {
			var row []*string
			for _, c := range cols {
				row = append(row, r[c])
			}
			rows = append(rows, row)
		}
		check(t, "rcmlake query", cols, nil, rows)
	})
	for _, eng := range []struct {
		name  string
		start func(*testing.T) *interop.Engine
	}{{"spark", sparkEngine}, {"delta-rs", deltaRSEngine}} {
		t.Run(eng.name, func(t *testing.T) {
			e := eng.start(t)
			rs, err := e.Rows(w.path("silver.interop_types"), -1)
			if err != nil {
				t.Fatal(err)
			}
			var cols, types []string
			for _, c := range rs.Columns {
				cols, types = append(cols, c.Name), append(types, c.Type)
			}
			check(t, e.Name, cols, types, rs.Rows)
		})
	}
}

func deref(p *string) string {
	if p == nil {
		return "NULL"
	}
	return *p
}
