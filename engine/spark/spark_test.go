package spark

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rcmlake/rcmlake/delta"
	"github.com/rcmlake/rcmlake/engine"
	"github.com/rcmlake/rcmlake/engine/duckdb"
	"github.com/rcmlake/rcmlake/internal/testenv"
	"github.com/rcmlake/rcmlake/lake/file"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.StopServers()
	os.Exit(code)
}

// Spark computes, rcmlake commits: a write lands as one Delta commit whose files the
// embedded engine reads back with the same values and Delta types; statistics are there;
// the txn makes a retry a no-op; a read of the table through Spark sees the same rows; no
// staging files are left.
func TestWriteAndScanRoundTrip(t *testing.T) {
	sc := testenv.StartSparkConnect(t)
	ctx := context.Background()
	dir := t.TempDir()
	store, err := file.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	duck, err := duckdb.Open(duckdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer duck.Close()
	local := func(_ context.Context, key string) (string, error) { return store.LocalPath(key), nil }
	e, err := Open(ctx, Options{Remote: sc.Remote, Store: store, Commit: duck, LocalPath: local})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()

	tbl := delta.Open(store, "gold/t")
	q := `SELECT id, CAST(id * 1.25 AS DECIMAL(18,2)) AS amount, date_add(DATE'2024-01-30', CAST(id AS INT)) AS d,
		timestampadd(SECOND, id, TIMESTAMP'2024-03-01 10:00:00.000001') AS ts,
		CASE WHEN id % 2 = 0 THEN 'Zoë' END AS name, id % 3 = 0 AS flag
		FROM range(0, 1000) ORDER BY id`
	txn := &delta.Txn{AppID: "test", Version: 1}
	w, err := e.WriteDelta(ctx, tbl, q, engine.WriteOptions{Mode: engine.Overwrite, Txn: txn})
	if err != nil {
		t.Fatal(err)
	}
	if w.Rows != 1000 || w.Files < 1 || w.Version != 0 {
		t.Fatalf("write: %+v", w)
	}
	s, err := tbl.Latest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(s.Schema.Fields); got == "" {
		t.Fatal("no schema")
	}
	wantTypes := []string{"long", "decimal(18,2)", "date", "timestamp", "string", "boolean"}
	for i, f := range s.Schema.Fields {
		if f.Type.String() != wantTypes[i] {
			t.Errorf("column %s: %s, want %s", f.Name, f.Type, wantTypes[i])
		}
	}
	for _, f := range s.Files() {
		st, err := delta.ParseStats(f.Stats)
		if err != nil || st == nil || st.MinValues["id"] == nil {
			t.Errorf("file %s has no statistics: %v", f.Path, f.Stats)
		}
	}
	rel, err := duck.DeltaScanSQL(ctx, s, func(_ context.Context, f delta.FileEntry) (string, error) { return store.LocalPath(f.Key), nil })
	if err != nil {
		t.Fatal(err)
	}
	r, err := duck.Query(ctx, "SELECT count(*), sum(amount), count(name), sum(CASE WHEN flag THEN 1 ELSE 0 END), max(d), max(ts) FROM "+rel)
	if err != nil {
		t.Fatal(err)
	}
	row := r.Rows[0]
	if row[0] != int64(1000) || fmt.Sprint(duckdb.CellText(row[1])) != "624375.00" || row[2] != int64(500) {
		t.Errorf("read back: %v", row)
	}
	if d := row[4].(time.Time); !d.Equal(time.Date(2026, 10, 25, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("max date %v", d)
	}
	if ts := row[5].(time.Time); !ts.Equal(time.Date(2024, 3, 1, 10, 0, 0, 1000, time.UTC).Add(999 * time.Second)) {
		t.Errorf("max timestamp %v", ts)
	}

	// The same txn again: nothing written.
	w, err = e.WriteDelta(ctx, tbl, q, engine.WriteOptions{Mode: engine.Overwrite, Txn: txn})
	if err != nil || !w.Skipped {
		t.Errorf("retry with a committed txn: %+v %v", w, err)
	}
	// Spark reads the snapshot through ScanSQL and agrees.
	view, err := e.ScanSQL(ctx, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	sr, err := e.Query(ctx, "SELECT count(*), CAST(sum(amount) AS STRING), count(name) FROM "+view)
	if err != nil {
		t.Fatal(err)
	}
	if sr.Rows[0][0] != int64(1000) || sr.Rows[0][1] != "624375.00" || sr.Rows[0][2] != int64(500) {
		t.Errorf("spark read: %v", sr.Rows[0])
	}
	// A Spark error names the problem, and no staging file is left behind by either write.
	if _, err := e.WriteDelta(ctx, tbl, "SELECT no_such FROM range(1)", engine.WriteOptions{Mode: engine.Overwrite}); err == nil {
		t.Error("a bad model wrote")
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, StagingPrefix)); len(ents) > 0 {
		t.Errorf("%d staging folders left", len(ents))
	}
}
