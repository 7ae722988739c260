package bronze

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/rcmlake/rcmlake/config"
	"github.com/rcmlake/rcmlake/internal/testenv"
	"github.com/rcmlake/rcmlake/lake"
	"github.com/rcmlake/rcmlake/lakehouse"
	"github.com/rcmlake/rcmlake/secrets"
	"github.com/rcmlake/rcmlake/source/sqldb"
	"github.com/rcmlake/rcmlake/synth"
)

var _ SQLDialect = sqldb.SQLite{}
var _ SQLDialect = sqldb.Postgres{}
var _ SQLDialect = sqldb.SQLServer{}

type world struct {
	dir string
	cfg *config.Config
	lh  *lakehouse.Lakehouse
	in  *Ingester
}

func newWorld(t *testing.T, months int) *world {
	return newWorldOpts(t, synth.Options{Seed: 21, Scale: 0.1, Months: months})
}

func newWorldSeed(t *testing.T, months int, seed uint64) *world {
	return newWorldOpts(t, synth.Options{Seed: seed, Scale: 0.1, Months: months})
}

func newWorldOpts(t *testing.T, o synth.Options) *world {
	t.Helper()
	dir := t.TempDir()
	if _, err := synth.Generate(context.Background(), dir, o); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(filepath.Join(dir, "rcmlake.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Lake.CacheDir = filepath.Join(dir, "cache")
	r := secrets.NewResolver(secrets.Env{})
	lh, err := lakehouse.Open(context.Background(), cfg, r)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lh.Close() })
	return &world{dir: dir, cfg: cfg, lh: lh, in: &Ingester{Config: cfg, Lake: lh, Resolver: r, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}}
}

// bronzeRows reads the rows of bronze files, as sorted "col=value|..." strings without the
// ingestion metadata.
func (w *world) bronzeRows(t *testing.T, files []string) []string {
	t.Helper()
	var paths []string
	for _, f := range files {
		paths = append(paths, "'"+filepath.Join(w.dir, "lake", f)+"'")
	}
	res, err := w.lh.Engine.Query(context.Background(), fmt.Sprintf("SELECT * EXCLUDE (%s, %s, %s, %s) FROM read_parquet([%s], union_by_name = true, hive_partitioning = false)",
		ColDatasource, ColRunID, ColLoadTime, ColSourceWatermark, strings.Join(paths, ", ")))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range res.Rows {
		var parts []string
		for i, v := range r {
			parts = append(parts, fmt.Sprintf("%s=%v", res.Columns[i], v))
		}
		out = append(out, strings.Join(parts, "|"))
	}
	sort.Strings(out)
	return out
}

// sourceRows reads an EMR table the same way.
func (w *world) sourceRows(t *testing.T, ds, table, where string) []string {
	t.Helper()
	db, _ := w.cfg.Database(ds)
	conn, err := sql.Open("sqlite", w.cfg.ResolvePath(db.DSN))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rows, err := conn.Query("SELECT * FROM " + table + " " + where)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		rows.Scan(ptrs...)
		var parts []string
		for i, v := range vals {
			t := textOf(v)
			if t == nil {
				parts = append(parts, cols[i]+"=<nil>")
			} else {
				parts = append(parts, fmt.Sprintf("%s=%v", cols[i], t))
			}
		}
		out = append(out, strings.Join(parts, "|"))
	}
	sort.Strings(out)
	return out
}

func logFor(logs []LoadLog, run, ds, table string) LoadLog {
	for _, l := range logs {
		if l.RunID == run && l.DataSource == ds && l.TableName == table {
			return l
		}
	}
	return LoadLog{}
}

// TestIngestThenAppendMonth: the first load copies every row; after a month is appended the
// second load holds exactly the new and changed rows; marks advance; earlier loads stay
// readable; the audit rows match what the files hold.
func TestIngestThenAppendMonth(t *testing.T) {
	w := newWorld(t, 3)
	ctx := context.Background()
	if _, err := w.in.Run(ctx, Options{RunID: "r1"}); err != nil {
		t.Fatal(err)
	}
	logs, err := ReadLoadLogs(ctx, w.lh, nil)
	if err != nil || len(logs) != 10 {
		t.Fatalf("%d audit rows after the first run (%v), want 10", len(logs), err)
	}
	for _, ds := range []string{"hos-a", "hos-b"} {
		for _, table := range []string{"patients", "providers", "departments", "encounters", "transactions"} {
			l := logFor(logs, "r1", ds, table)
			got := w.bronzeRows(t, l.Files)
			want := w.sourceRows(t, ds, table, "")
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("%s.%s first load: %d bronze rows differ from the %d source rows\n%s\n%s", ds, table, len(got), len(want), got[0], want[0])
			}
			if l.NumberOfRowsCopied != int64(len(got)) {
				t.Errorf("%s.%s: audit says %d rows, the files hold %d", ds, table, l.NumberOfRowsCopied, len(got))
			}
		}
	}
	first := logFor(logs, "r1", "hos-a", "transactions")

	if _, err := synth.AppendMonth(ctx, w.dir); err != nil {
		t.Fatal(err)
	}
	if _, err := w.in.Run(ctx, Options{RunID: "r2"}); err != nil {
		t.Fatal(err)
	}
	logs, _ = ReadLoadLogs(ctx, w.lh, nil)
	second := logFor(logs, "r2", "hos-a", "transactions")
	if second.OldWatermark != first.NewWatermark || second.NewWatermark <= first.NewWatermark {
		t.Errorf("mark %q -> %q -> %q did not advance", first.OldWatermark, first.NewWatermark, second.NewWatermark)
	}
	loaded := w.bronzeRows(t, second.Files)
	// Exactly the new and changed rows: every source row past the old mark, plus rows on the
	// mark whose content changed; and none that the first load already holds.
	past := w.sourceRows(t, "hos-a", "transactions", "WHERE ModifiedDate > '"+first.NewWatermark+"'")
	onMark := w.sourceRows(t, "hos-a", "transactions", "WHERE ModifiedDate = '"+first.NewWatermark+"'")
	before := map[string]bool{}
	for _, r := range w.bronzeRows(t, first.Files) {
		before[r] = true
	}
	want := append([]string{}, past...)
	for _, r := range onMark {
		if !before[r] {
			want = append(want, r)
		}
	}
	sort.Strings(want)
	if strings.Join(loaded, "\n") != strings.Join(want, "\n") {
		t.Errorf("second load: %d rows, want %d new or changed", len(loaded), len(want))
	}
	for _, r := range loaded {
		if before[r] {
			t.Errorf("second load re-read an unchanged row: %s", r)
			break
		}
	}
	if len(loaded) == 0 {
		t.Error("the appended month produced no incremental rows")
	}
	// Earlier loads are still there to read.
	if got := w.bronzeRows(t, first.Files); len(got) != int(first.NumberOfRowsCopied) {
		t.Errorf("first load now has %d rows, had %d", len(got), first.NumberOfRowsCopied)
	}
	// A third run with no change loads nothing incremental.
	if _, err := w.in.Run(ctx, Options{RunID: "r3"}); err != nil {
		t.Fatal(err)
	}
	logs, _ = ReadLoadLogs(ctx, w.lh, nil)
	if l := logFor(logs, "r3", "hos-a", "transactions"); l.NumberOfRowsCopied != 0 || l.NewWatermark != second.NewWatermark {
		t.Errorf("idle run loaded %d rows, mark %s", l.NumberOfRowsCopied, l.NewWatermark)
	}
	// Rerunning a run id never doubles its audit rows.
	n := len(logs)
	w.in.Run(ctx, Options{RunID: "r3"})
	if logs, _ = ReadLoadLogs(ctx, w.lh, nil); len(logs) != n {
		t.Errorf("rerunning r3 changed the audit rows from %d to %d", n, len(logs))
	}
}

func TestFailingTableDoesNotStopOthers(t *testing.T) {
	w := newWorld(t, 1)
	w.cfg.Sources.EMR[0].Tables[0].Name = "no_such_table"
	logs, err := w.in.Run(context.Background(), Options{RunID: "r1"})
	if err == nil || !strings.Contains(err.Error(), "1 of 10 loads failed") {
		t.Fatalf("error %v", err)
	}
	ok := 0
	for _, l := range logs {
		if l.Status == "success" {
			ok++
		}
	}
	if ok != 9 {
		t.Errorf("%d loads succeeded, want 9", ok)
	}
	all, _ := ReadLoadLogs(context.Background(), w.lh, nil)
	if len(all) != 10 {
		t.Errorf("%d audit rows, want 10 including the failure", len(all))
	}
}

func readManifest(t *testing.T, dir string) *synth.Manifest {
	t.Helper()
	m, err := synth.ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.StopServers()
	os.Exit(code)
}

// TestIngestFromPostgres loads a PostgreSQL-backed EMR (a real server) incrementally.
func TestIngestFromPostgres(t *testing.T) {
	pg := testenv.StartPostgres(t, "bronze_emr")
	w := newWorldOpts(t, synth.Options{Seed: 5, Scale: 0.05, Months: 2, EMRDSN: pg.DSN("bronze_emr")})
	ctx := context.Background()
	logs, err := w.in.Run(ctx, Options{RunID: "p1"})
	if err != nil {
		t.Fatal(err)
	}
	m := readManifest(t, w.dir)
	for _, h := range m.Hospitals {
		for _, tbl := range h.Tables {
			l := logFor(logs, "p1", h.Code, tbl.Name)
			if l.Status != "success" || l.NumberOfRowsCopied != int64(h.Rows[tbl.Name]) {
				t.Errorf("%s.%s: %+v, want %d rows", h.Code, tbl.Name, l, h.Rows[tbl.Name])
			}
		}
	}
	if _, err := synth.AppendMonth(ctx, w.dir); err != nil {
		t.Fatal(err)
	}
	logs, err = w.in.Run(ctx, Options{RunID: "p2"})
	if err != nil {
		t.Fatal(err)
	}
	if l := logFor(logs, "p2", "hos-a", "transactions"); l.NumberOfRowsCopied == 0 || l.OldWatermark == "" || l.NewWatermark <= l.OldWatermark {
		t.Errorf("incremental load from PostgreSQL: %+v", l)
	}
}

// TestLoadNPI: every NPI the providers name is looked up in the (recorded, offline) registry;
// one the registry does not know is a reject with its reason, and the rest still land.
func TestLoadNPI(t *testing.T) {
	w := newWorld(t, 1)
	ctx := context.Background()
	if _, err := w.in.Run(ctx, Options{RunID: "r1"}); err != nil {
		t.Fatal(err)
	}
	fixtures, err := filepath.Glob(filepath.Join(w.dir, "ref", "npi", "*.json"))
	if err != nil || len(fixtures) < 2 {
		t.Fatalf("NPI fixtures: %v %v", fixtures, err)
	}
	gone := strings.TrimSuffix(filepath.Base(fixtures[0]), ".json")
	if err := os.Remove(fixtures[0]); err != nil {
		t.Fatal(err)
	}
	l := w.in.LoadNPI(ctx, Options{RunID: "r1"})
	if l.Status != "success" || l.RowsRejected != 1 || l.NumberOfRowsCopied != int64(len(fixtures)-1) || l.RowsRead != int64(len(fixtures)) {
		t.Fatalf("NPI load: %+v", l)
	}
	data, err := lake.ReadAll(ctx, w.lh.Store, l.RejectsFile)
	if err != nil {
		t.Fatal(err)
	}
	var rej []Reject
	if err := json.Unmarshal(data, &rej); err != nil || len(rej) != 1 || rej[0].Raw != gone {
		t.Errorf("rejects %s (%v), want NPI %s", data, err, gone)
	}
	if rows := w.bronzeRows(t, l.Files); len(rows) != len(fixtures)-1 {
		t.Errorf("%d bronze NPI rows, want %d", len(rows), len(fixtures)-1)
	}
	// Run again under the same id (a crashed ingest rerun) while the registry answers
	// differently: the committed snapshot stays as its audit row describes it, neither
	// doubled nor rewritten in place.
	if err := os.Remove(fixtures[1]); err != nil {
		t.Fatal(err)
	}
	again := w.in.LoadNPI(ctx, Options{RunID: "r1"})
	logs, err := ReadLoadLogs(ctx, w.lh, nil)
	if err != nil {
		t.Fatal(err)
	}
	if files := CommittedFiles(logs, RefDatasource, RefNPI); again.Status != "success" || len(files) != 1 || files[0] != l.Files[0] {
		t.Errorf("rerun of run r1: %+v; committed NPI files %v, want only %v", again, files, l.Files)
	}
	if rows := w.bronzeRows(t, l.Files); len(rows) != len(fixtures)-1 {
		t.Errorf("after the rerun, %d bronze NPI rows, want the committed %d", len(rows), len(fixtures)-1)
	}
}
