package duckdb

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/rcmlake/rcmlake/delta"
	"github.com/rcmlake/rcmlake/internal/testenv"
	"github.com/rcmlake/rcmlake/lake/file"
)

func newLake(t *testing.T) (*Engine, *file.Storage) {
	t.Helper()
	e, err := Open(Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	st, err := file.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return e, st
}

func query1(t *testing.T, e *Engine, q string) string {
	t.Helper()
	r, err := e.Query(context.Background(), q)
	if err != nil {
		t.Fatalf("%v\n%s", err, q)
	}
	return fmt.Sprint(r.Rows)
}

func TestWriteRoundTrip(t *testing.T) {
	e, st := newLake(t)
	ctx := context.Background()
	tbl := delta.Open(st, "silver/patients")
	src := `SELECT * FROM (VALUES
		(1::BIGINT, 'Zoë Ñúñez', 12.34::DECIMAL(18,2), DATE '2024-02-29', TIMESTAMPTZ '2024-03-01 12:34:56.789012+00'),
		(2, NULL, NULL, NULL, NULL),
		(3, '患者', -0.01::DECIMAL(18,2), DATE '1970-01-01', TIMESTAMPTZ '1969-12-31 23:59:59+00')
	) t(id, name, amount, dob, seen_at)`
	res, err := e.WriteDelta(ctx, tbl, src, WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Version != 0 || res.Rows != 3 {
		t.Fatalf("first write: %+v", res)
	}
	snap, err := tbl.Latest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Protocol.MinReaderVersion != 1 || snap.Protocol.MinWriterVersion != 2 {
		t.Errorf("protocol %+v, want (1,2)", snap.Protocol)
	}
	types := map[string]string{}
	for _, f := range snap.Schema.Fields {
		types[f.Name] = f.Type.String()
	}
	if fmt.Sprint(types) != "map[amount:decimal(18,2) dob:date id:long name:string seen_at:timestamp]" {
		t.Errorf("schema %v", types)
	}
	st0, _ := delta.ParseStats(snap.Files()[0].Stats)
	if st0 == nil || st0.NumRecords != 3 || fmt.Sprint(st0.NullCount["name"]) != "1" || fmt.Sprint(st0.MinValues["dob"]) != "1970-01-01" {
		t.Errorf("stats %+v", st0)
	}
	// The physical encoding is what the protocol asks: timestamps as INT64 micros, UTC.
	pq := query1(t, e, fmt.Sprintf("SELECT type, logical_type FROM parquet_schema(%s) WHERE name = 'seen_at'", quote(st.LocalPath(snap.Files()[0].Key))))
	if !strings.Contains(pq, "INT64") || !strings.Contains(pq, "isAdjustedToUTC=1") || !strings.Contains(pq, "MICROS") {
		t.Errorf("seen_at parquet type %s", pq)
	}
	scan := func(s *delta.Snapshot) string {
		q, err := e.DeltaScanSQL(ctx, s, localizer(st))
		if err != nil {
			t.Fatal(err)
		}
		return query1(t, e, "SELECT id, name, amount, dob, seen_at FROM "+q+" ORDER BY id")
	}
	want := query1(t, e, "SELECT * FROM ("+src+") ORDER BY id")
	if got := scan(snap); got != want {
		t.Errorf("read back:\n got  %s\n want %s", got, want)
	}

	// Appends, a replace of one file and an overwrite; then time travel to each version.
	counts := []int64{3}
	for i := 0; i < 11; i++ {
		if _, err := e.WriteDelta(ctx, tbl, fmt.Sprintf("SELECT %d::BIGINT AS id, 'n%d' AS name, 1.00::DECIMAL(18,2) AS amount, DATE '2024-01-01' AS dob, TIMESTAMPTZ '2024-01-01 00:00:00+00' AS seen_at", 10+i, i), WriteOptions{}); err != nil {
			t.Fatal(err)
		}
		counts = append(counts, counts[len(counts)-1]+1)
	}
	// Version 10 got a checkpoint.
	if _, err := os.Stat(st.LocalPath("silver/patients/_delta_log/00000000000000000010.checkpoint.parquet")); err != nil {
		t.Fatalf("no checkpoint at version 10: %v", err)
	}
	if _, err := os.Stat(st.LocalPath("silver/patients/_delta_log/_last_checkpoint")); err != nil {
		t.Fatalf("no _last_checkpoint: %v", err)
	}
	snap, _ = tbl.Latest(ctx)
	first := snap.Files()[0]
	if _, err := e.WriteDelta(ctx, tbl, "SELECT 99::BIGINT AS id, 'replaced' AS name, 0.00::DECIMAL(18,2) AS amount, DATE '2024-01-01' AS dob, TIMESTAMPTZ '2024-01-01 00:00:00+00' AS seen_at",
		WriteOptions{Mode: Replace, Remove: []delta.FileEntry{first}, Read: snap}); err != nil {
		t.Fatal(err)
	}
	removed, _ := delta.ParseStats(first.Stats)
	counts = append(counts, counts[len(counts)-1]-removed.NumRecords+1)
	if _, err := e.WriteDelta(ctx, tbl, "SELECT 7::BIGINT AS id, 'only' AS name, 0.00::DECIMAL(18,2) AS amount, DATE '2024-01-01' AS dob, TIMESTAMPTZ '2024-01-01 00:00:00+00' AS seen_at", WriteOptions{Mode: Overwrite}); err != nil {
		t.Fatal(err)
	}
	counts = append(counts, 1)
	for v, want := range counts {
		s, err := tbl.At(ctx, int64(v))
		if err != nil {
			t.Fatal(err)
		}
		q, _ := e.DeltaScanSQL(ctx, s, localizer(st))
		if got := query1(t, e, "SELECT count(*) FROM "+q); got != fmt.Sprintf("[[%d]]", want) {
			t.Errorf("version %d: %s rows, want %d", v, got, want)
		}
		if n, ok := s.NumRecords(); !ok || n != want {
			t.Errorf("version %d: stats say %d rows, want %d", v, n, want)
		}
	}
	// The log replays the same from the checkpoint as from the JSON commits.
	os.Remove(st.LocalPath("silver/patients/_delta_log/00000000000000000000.json"))
	if _, err := tbl.At(ctx, 12); err != nil {
		t.Errorf("replay from the checkpoint: %v", err)
	}
	if _, err := tbl.At(ctx, 3); err == nil {
		t.Error("version 3 read without its commit 0")
	}
}

// TestCheckpointSchemaMatchesSpark compares the structure of a checkpoint rcmlake writes with
// one Spark wrote (a golden table's): every column Spark's reader needs is there, with the
// same Parquet type.
func TestCheckpointSchemaMatchesSpark(t *testing.T) {
	e, st := newLake(t)
	ctx := context.Background()
	tbl := delta.Open(st, "t")
	for i := 0; i < 11; i++ {
		if _, err := e.WriteDelta(ctx, tbl, fmt.Sprintf("SELECT %d::BIGINT id", i), WriteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	ours := st.LocalPath("t/_delta_log/00000000000000000010.checkpoint.parquet")
	spark := filepath.Join(testenv.SharedDir(t), "delta-golden", "basic-with-inserts-deletes-checkpoint", "_delta_log", "00000000000000000010.checkpoint.parquet")
	schemaOf := func(p string) map[string]string {
		r, err := e.Query(ctx, fmt.Sprintf("SELECT name, type, coalesce(converted_type, ''), repetition_type FROM parquet_schema(%s)", quote(p)))
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, row := range r.Rows { // first occurrence: metaData.configuration before domainMetadata's
			if _, ok := out[fmt.Sprint(row[0])]; !ok {
				out[fmt.Sprint(row[0])] = fmt.Sprint(row[1:])
			}
		}
		return out
	}
	o, s := schemaOf(ours), schemaOf(spark)
	var missing []string
	for _, col := range []string{"txn", "appId", "version", "lastUpdated", "add", "path", "partitionValues", "size", "modificationTime",
		"dataChange", "stats", "remove", "deletionTimestamp", "metaData", "id", "schemaString", "partitionColumns", "configuration",
		"protocol", "minReaderVersion", "minWriterVersion"} {
		if _, ok := o[col]; !ok {
			missing = append(missing, col)
			continue
		}
		if sv, ok := s[col]; ok && strings.Fields(sv)[0] != strings.Fields(o[col])[0] {
			t.Errorf("column %s: ours %s, Spark's %s", col, o[col], sv)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("checkpoint lacks %v", missing)
	}
}

func TestTxnMakesRetriesNoOps(t *testing.T) {
	e, st := newLake(t)
	ctx := context.Background()
	tbl := delta.Open(st, "audit/load_logs")
	for i := 0; i < 2; i++ {
		res, err := e.WriteDelta(ctx, tbl, "SELECT 1::BIGINT x", WriteOptions{Txn: &delta.Txn{AppID: "run-42", Version: 1}})
		if err != nil {
			t.Fatal(err)
		}
		if (i == 1) != res.Skipped {
			t.Errorf("attempt %d: skipped=%v", i, res.Skipped)
		}
	}
	s, _ := tbl.Latest(ctx)
	if n, _ := s.NumRecords(); n != 1 || s.Version != 0 {
		t.Errorf("%d rows at version %d after a retried write, want 1 at 0", n, s.Version)
	}
}

func TestConcurrentAppendsAllLand(t *testing.T) {
	e, st := newLake(t)
	ctx := context.Background()
	tbl := delta.Open(st, "t")
	if _, err := e.WriteDelta(ctx, tbl, "SELECT 0::BIGINT id", WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	const n = 12
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 1; i <= n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			tx := tbl.Begin(mustLatest(t, tbl), "WRITE")
			tx.BlindAppend()
			tx.Add(delta.Add{Path: fmt.Sprintf("f-%d.parquet", i), Size: 1, DataChange: true, Stats: `{"numRecords":1}`})
			_, err := tx.Commit(ctx)
			errs <- err
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("append: %v", err)
		}
	}
	s := mustLatest(t, tbl)
	if s.Version != n || len(s.Files()) != n+1 {
		t.Errorf("version %d with %d files, want %d and %d", s.Version, len(s.Files()), n, n+1)
	}
}

func TestConflictingRewritesDetected(t *testing.T) {
	e, st := newLake(t)
	ctx := context.Background()
	tbl := delta.Open(st, "t")
	if _, err := e.WriteDelta(ctx, tbl, "SELECT 1::BIGINT id", WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	base := mustLatest(t, tbl)
	// Two writers both rewrite the same file from the same snapshot: exactly one may win.
	var wins, conflicts int
	for i := 0; i < 2; i++ {
		tx := tbl.Begin(base, "MERGE")
		tx.Remove(base.Files()...)
		tx.Add(delta.Add{Path: fmt.Sprintf("new-%d.parquet", i), Size: 1, DataChange: true})
		_, err := tx.Commit(ctx)
		switch {
		case err == nil:
			wins++
		case errors.Is(err, delta.ErrConflict):
			conflicts++
		default:
			t.Fatal(err)
		}
	}
	if wins != 1 || conflicts != 1 {
		t.Errorf("wins %d conflicts %d, want 1 and 1", wins, conflicts)
	}
}

func mustFileStorage(tb testing.TB) *file.Storage {
	st, err := file.New(tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	return st
}

func mustLatest(t *testing.T, tbl *delta.Table) *delta.Snapshot {
	s, err := tbl.Latest(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestPartitionedWrite(t *testing.T) {
	e, st := newLake(t)
	ctx := context.Background()
	tbl := delta.Open(st, "gold/by_payer")
	src := `SELECT * FROM (VALUES ('Blue Cross/Blue Shield', 1::BIGINT), ('x=y 100%', 2), (NULL, 3), ('Zoë', 4), ('Zoë', 5)) t(payer, n)`
	if _, err := e.WriteDelta(ctx, tbl, src, WriteOptions{PartitionBy: []string{"payer"}}); err != nil {
		t.Fatal(err)
	}
	s := mustLatest(t, tbl)
	if fmt.Sprint(s.Metadata.PartitionColumns) != "[payer]" || len(s.Files()) != 4 {
		t.Fatalf("partitions %v, files %d", s.Metadata.PartitionColumns, len(s.Files()))
	}
	for _, dir := range []string{"payer=Blue Cross%2FBlue Shield", "payer=x%3Dy 100%25", "payer=__HIVE_DEFAULT_PARTITION__", "payer=Zoë"} {
		if _, err := os.Stat(st.LocalPath("gold/by_payer/" + dir)); err != nil {
			t.Errorf("folder %q: %v", dir, err)
		}
	}
	q, err := e.DeltaScanSQL(ctx, s, localizer(st))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := query1(t, e, "SELECT payer, n FROM "+q+" ORDER BY n"), query1(t, e, src+" ORDER BY n"); got != want {
		t.Errorf("read back %s, want %s", got, want)
	}
	// Appends keep the table's partitioning.
	if _, err := e.WriteDelta(ctx, tbl, "SELECT 'Zoë' AS payer, 6::BIGINT AS n", WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if n := len(mustLatest(t, tbl).Files()); n != 5 {
		t.Errorf("%d files after a partitioned append, want 5", n)
	}
}
