package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/rcmlake/rcmlake/delta"
	"github.com/rcmlake/rcmlake/engine/duckdb"
	"github.com/rcmlake/rcmlake/internal/testenv"
	"github.com/rcmlake/rcmlake/lake/file"
)

type deltaRSView struct {
	Version     int64               `json:"version"`
	MinReader   int                 `json:"min_reader_version"`
	MinWriter   int                 `json:"min_writer_version"`
	Rows        int64               `json:"rows"`
	DecimalSums map[string]*string  `json:"decimal_sums"`
	DateRanges  map[string][]string `json:"date_ranges"`
	Nulls       map[string]int64    `json:"nulls"`
}

func readWithDeltaRS(t *testing.T, path string, version int64) deltaRSView {
	t.Helper()
	args := []string{filepath.Join(testenv.RepoRoot(), "internal", "interop", "read_delta_rs.py"), path}
	if version >= 0 {
		args = append(args, fmt.Sprint(version))
	}
	out, err := exec.Command("python3", args...).Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("delta-rs could not read %s: %s", path, ee.Stderr)
		}
		t.Fatal(err)
	}
	var v deltaRSView
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestDeltaRSReadsEveryTable: delta-rs, an independent Delta implementation, reads every
// silver, gold and audit table the demo writes, at the latest version and by time travel, and
// finds the same rows, money totals (to the cent), date ranges and NULLs as rcmlake.
func TestDeltaRSReadsEveryTable(t *testing.T) {
	if err := exec.Command("python3", "-c", "import deltalake, pyarrow").Run(); err != nil {
		if os.Getenv("RCMLAKE_REQUIRE_SERVERS") == "1" {
			t.Fatal("deltalake (delta-rs) is not installed; scripts/deps/deltalake.sh installs it")
		}
		t.Skip("deltalake (delta-rs) is not installed; run scripts/deps/deltalake.sh")
	}
	dir := filepath.Join(t.TempDir(), "demo")
	if code, _, errs := runCLI(t, "demo", "--dir", dir, "--scale", "0.1", "--months", "4"); code != exitOK {
		t.Fatalf("demo: %s", errs)
	}
	lakeDir := filepath.Join(dir, "lake")
	st, _ := file.New(lakeDir)
	e, err := duckdb.Open(duckdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx := context.Background()
	var tables []string
	for _, layer := range []string{"silver", "gold", "audit"} {
		entries, _ := os.ReadDir(filepath.Join(lakeDir, layer))
		for _, en := range entries {
			tables = append(tables, layer+"/"+en.Name())
		}
	}
	sort.Strings(tables)
	if len(tables) < 14 {
		t.Fatalf("only %d tables: %v", len(tables), tables)
	}
	for _, name := range tables {
		tbl := delta.Open(st, name)
		versions := []int64{-1}
		if name == "audit/load_logs" {
			versions = append(versions, 3, 12) // time travel, before and after the first checkpoint
		}
		for _, v := range versions {
			var s *delta.Snapshot
			if v < 0 {
				s, err = tbl.Latest(ctx)
			} else {
				s, err = tbl.At(ctx, v)
			}
			if err != nil {
				t.Fatal(err)
			}
			rs := readWithDeltaRS(t, filepath.Join(lakeDir, name), v)
			if rs.Version != s.Version || rs.MinReader != 1 || rs.MinWriter != 2 {
				t.Errorf("%s: delta-rs sees version %d protocol (%d,%d); rcmlake %d (1,2)", name, rs.Version, rs.MinReader, rs.MinWriter, s.Version)
			}
			q, err := e.DeltaScanSQL(ctx, s, func(_ context.Context, f delta.FileEntry) (string, error) { return st.LocalPath(f.Key), nil })
			if err != nil {
				t.Fatal(err)
			}
			var exprs []string
			var checks []string
			exprs = append(exprs, "CAST(count(*) AS VARCHAR)")
			checks = append(checks, fmt.Sprint(rs.Rows))
			for col, sum := range rs.DecimalSums {
				exprs = append(exprs, fmt.Sprintf("coalesce(CAST(sum(%q) AS VARCHAR), 'None')", col))
				want := "None"
				if sum != nil {
					want = *sum
				}
				checks = append(checks, want)
			}
			for col, n := range rs.Nulls {
				exprs = append(exprs, fmt.Sprintf("CAST(count(*) - count(%q) AS VARCHAR)", col))
				checks = append(checks, fmt.Sprint(n))
			}
			for col, mm := range rs.DateRanges {
				exprs = append(exprs, fmt.Sprintf("coalesce(CAST(min(%q) AS VARCHAR), 'None') || ',' || coalesce(CAST(max(%q) AS VARCHAR), 'None')", col, col))
				checks = append(checks, strings.Join(mm, ","))
			}
			r, err := e.Query(ctx, "SELECT "+strings.Join(exprs, ", ")+" FROM "+q+" t")
			if err != nil {
				t.Fatal(err)
			}
			for i, want := range checks {
				if got := fmt.Sprint(r.Rows[0][i]); got != want {
					t.Errorf("%s@%d: %s = %s in rcmlake, %s in delta-rs", name, s.Version, exprs[i], got, want)
				}
			}
		}
	}
}
