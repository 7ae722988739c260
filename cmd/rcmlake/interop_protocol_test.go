package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rcmlake/rcmlake/delta"
	"github.com/rcmlake/rcmlake/engine/duckdb"
	"github.com/rcmlake/rcmlake/internal/interop"
	"github.com/rcmlake/rcmlake/internal/testenv"
	"github.com/rcmlake/rcmlake/lake/file"
)

// TestSparkProtocolFeatures: when Spark raises a table's protocol to a feature rcmlake does not
// implement (deletion vectors, column mapping), every rcmlake read and write of the versions that
// need it is refused with the feature's name, through the delta package and the CLI; versions
// from before the upgrade still read exactly. Table properties that docs/DELTA.md says are safe
// leave the table at protocol (1, 2), and rcmlake keeps writing it (Spark reads the result).
func TestSparkProtocolFeatures(t *testing.T) {
	startSpark()
	testenv.FindSpark(t)
	w := sharedInteropLake(t)
	world := copyDir(t, w.dir)
	cfg, lakeDir := filepath.Join(world, "rcmlake.yaml"), filepath.Join(world, "lake")
	spark := sparkEngine(t)
	sql := func(s string) {
		t.Helper()
		if _, err := spark.SQL(s); err != nil {
			t.Fatal(err)
		}
	}
	tableSQL := func(name string) string {
		return "delta.`" + filepath.Join(lakeDir, strings.Replace(name, ".", "/", 1)) + "`"
	}
	st, err := file.New(lakeDir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	cases := []struct {
		name, table, feature string
		upgrade, change      []string // Spark statements: raise the protocol, then use the feature
	}{
		{"deletion vectors", "silver.patients", "deletionVectors",
			[]string{"ALTER TABLE %s SET TBLPROPERTIES ('delta.enableDeletionVectors' = 'true')"},
			[]string{"DELETE FROM %s WHERE datasource = 'hos-a' AND patient_key LIKE '%%1-hos-a'"}},
		{"column mapping", "silver.providers", "columnMapping",
			[]string{"ALTER TABLE %s SET TBLPROPERTIES ('delta.columnMapping.mode' = 'name')"},
			[]string{"ALTER TABLE %s RENAME COLUMN datasource TO data_source_renamed"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tbl := delta.Open(st, strings.Replace(c.table, ".", "/", 1))
			orig, err := tbl.Latest(ctx)
			if err != nil {
				t.Fatal(err)
			}
			origRows := rcmlakeSummary(t, cfg, c.table, orig)
			for _, s := range append(append([]string{}, c.upgrade...), c.change...) {
				sql(fmt.Sprintf(s, tableSQL(c.table)))
			}
			if c.feature == "deletionVectors" {
				// The DELETE must really have used a deletion vector, or the test proves little.
				v := orig.Version + int64(len(c.upgrade)+len(c.change))
				commit, err := os.ReadFile(filepath.Join(lakeDir, strings.Replace(c.table, ".", "/", 1), "_delta_log", delta.CommitFileName(v)))
				if err != nil || !strings.Contains(string(commit), `"deletionVector":{`) {
					t.Fatalf("Spark's DELETE (version %d) added no deletion vector: %v", v, err)
				}
			}
			refused := func(what string, err error) {
				t.Helper()
				var ue *delta.UnsupportedError
				if !errors.As(err, &ue) || !strings.Contains(err.Error(), c.feature) {
					t.Errorf("%s: %v, want a refusal naming %s", what, err, c.feature)
				}
			}
			latest := orig.Version + int64(len(c.upgrade)+len(c.change))
			for v := orig.Version + 1; v <= latest; v++ {
				_, err := tbl.At(ctx, v)
				refused(fmt.Sprintf("reading version %d", v), err)
			}
			_, err = tbl.Latest(ctx)
			refused("reading the latest version", err)
			hist, err := tbl.History(ctx)
			if err != nil {
				t.Fatal(err)
			}
			_, err = tbl.AsOf(ctx, hist[0].Timestamp) // the time of the newest commit
			refused("reading as of the newest commit's time", err)

			// Writes are refused too, before anything is written.
			e, err := duckdb.Open(duckdb.Options{Threads: 1})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			_, err = e.AppendDelta(ctx, tbl, "SELECT 1 AS x", duckdb.WriteOptions{})
			refused("appending", err)
			_, err = tbl.Vacuum(ctx, delta.VacuumOptions{DryRun: true})
			refused("vacuum", err)

			// The CLI says the same: a query, a table read, a checkpoint.
			for _, args := range [][]string{
				{"query", "-c", cfg, "SELECT count(*) FROM " + c.table},
				{"table", "show", "-c", cfg, c.table},
				{"table", "checkpoint", "-c", cfg, c.table},
				{"table", "show", filepath.Join(lakeDir, strings.Replace(c.table, ".", "/", 1))},
			} {
				code, out, errs := runCLI(t, args...)
				if code == exitOK || !strings.Contains(errs, c.feature) || strings.TrimSpace(out) != "" {
					t.Errorf("rcmlake %s: exit %d, stdout %.200q, stderr %.300q; want a refusal naming %s and no rows", strings.Join(args, " "), code, out, errs, c.feature)
				}
			}
			// The version before the upgrade still reads, row for row as before.
			before := rcmlakeSummary(t, cfg, c.table, orig)
			for _, d := range interop.Diff(origRows, before) {
				t.Errorf("%s@v%d after the upgrade: %s", c.table, orig.Version, d)
			}
		})
	}

	t.Run("safe properties", func(t *testing.T) {
		name := "silver.departments"
		sql(fmt.Sprintf(`ALTER TABLE %s SET TBLPROPERTIES (
			'delta.enableDeletionVectors' = 'false', 'delta.columnMapping.mode' = 'none',
			'delta.appendOnly' = 'false', 'delta.checkpointInterval' = '5',
			'delta.logRetentionDuration' = 'interval 60 days', 'delta.deletedFileRetentionDuration' = 'interval 14 days',
			'delta.dataSkippingNumIndexedCols' = '40', 'delta.checkpoint.writeStatsAsStruct' = 'true')`, tableSQL(name)))
		tbl := delta.Open(st, "silver/departments")
		s, err := tbl.Latest(ctx)
		if err != nil {
			t.Fatalf("rcmlake cannot read %s after Spark set the safe properties: %v", name, err)
		}
		if s.Protocol.MinReaderVersion != 1 || s.Protocol.MinWriterVersion != 2 {
			t.Fatalf("the safe properties raised the protocol to %+v", s.Protocol)
		}
		pre := rcmlakeSummary(t, cfg, name, s)
		e, err := duckdb.Open(duckdb.Options{Threads: 1})
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		scan, err := e.DeltaScanSQL(ctx, s, func(_ context.Context, f delta.FileEntry) (string, error) { return st.LocalPath(f.Key), nil })
		if err != nil {
			t.Fatal(err)
		}
		res, err := e.AppendDelta(ctx, tbl, "SELECT * FROM "+scan+" LIMIT 1", duckdb.WriteOptions{})
		if err != nil {
			t.Fatalf("rcmlake cannot write %s after Spark set the safe properties: %v", name, err)
		}
		after, err := tbl.At(ctx, res.Version)
		if err != nil {
			t.Fatal(err)
		}
		if after.Metadata.Configuration["delta.checkpointInterval"] != "5" {
			t.Errorf("rcmlake's append lost the table's properties: %v", after.Metadata.Configuration)
		}
		want := rcmlakeSummary(t, cfg, name, after)
		got, err := spark.Summary(filepath.Join(lakeDir, "silver", "departments"), -1)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range interop.Diff(want, got) {
			t.Errorf("%s after rcmlake's append: Spark vs rcmlake: %s", name, d)
		}
		if want.Rows != pre.Rows+1 {
			t.Errorf("%s: %d rows after appending one to %d", name, want.Rows, pre.Rows)
		}
	})
}
