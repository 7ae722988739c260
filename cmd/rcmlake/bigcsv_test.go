package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rcmlake/rcmlake/bronze"
	"github.com/rcmlake/rcmlake/config"
	"github.com/rcmlake/rcmlake/engine/duckdb"
)

// TestLandingCSVStreams (issue #9): a claims CSV streams through `rcmlake ingest` without being
// loaded into memory. Two files in the landing format (config.SeedClaimsColumns), 16 MB and
// RCMLAKE_BIG_CSV_MB (200 by default; 2048 for the 2 GB), are each ingested by the
// binary as a subprocess, whose peak RSS (getrusage) must not grow with the file: the large
// file may cost at most 64 MB more than the small one. Every row must land in bronze.
func TestLandingCSVStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("writes and ingests a 200 MB CSV")
	}
	bigMB := 200
	if s := os.Getenv("RCMLAKE_BIG_CSV_MB"); s != "" {
		var err error
		if bigMB, err = strconv.Atoi(s); err != nil {
			t.Fatalf("RCMLAKE_BIG_CSV_MB: %v", err)
		}
	}
	bin := testBinary(t)
	small := ingestBigCSV(t, bin, 16)
	big := ingestBigCSV(t, bin, bigMB)
	if big.rssMB > small.rssMB+64 {
		t.Errorf("peak RSS grows with the file: %d MB for %d MB, %d MB for %d MB", small.rssMB, small.fileMB, big.rssMB, big.fileMB)
	}
}

type csvRun struct {
	fileMB, rssMB int64
	rows          int64
	took          time.Duration
}

// ingestBigCSV writes a claims CSV of about mb megabytes into a fresh landing folder, ingests it
// with bin and reports its size, the subprocess's peak RSS and the time it took.
func ingestBigCSV(t *testing.T, bin string, mb int) csvRun {
	t.Helper()
	dir := t.TempDir()
	var cols strings.Builder
	for _, c := range config.SeedClaimsColumns() {
		fmt.Fprintf(&cols, "          - name: %s\n            required: %v\n", c.Name, c.Required)
	}
	cfg := filepath.Join(dir, "rcmlake.yaml")
	yaml := "version: 1\nlake:\n  root: lake\n  cache_dir: cache\nsources:\n  landing:\n    root: landing\n    files:\n" +
		"      - pattern: claims/big_*.csv\n        datasource: hos-a\n        table: claims\n        columns:\n" + cols.String()
	if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	csvPath := filepath.Join(dir, "landing", "claims", "big_claims.csv")
	rows, size := writeClaimsCSV(t, csvPath, int64(mb)<<20)

	cmd := exec.Command(bin, "-c", cfg, "ingest")
	var log strings.Builder
	cmd.Stdout, cmd.Stderr = &log, &log
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("ingest of a %d MB CSV: %v\n%s", size>>20, err, log.String())
	}
	r := csvRun{fileMB: size >> 20, rows: rows, took: time.Since(start)}
	r.rssMB = cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss >> 10 // KiB on Linux

	st, lh := openLakeDir(t, filepath.Join(dir, "lake"))
	defer lh.Close()
	logs, err := bronze.ReadLoadLogs(context.Background(), lh, nil)
	if err != nil || len(logs) != 1 || logs[0].NumberOfRowsCopied != rows || logs[0].RowsRejected != 0 {
		t.Fatalf("ingest of %d rows: %v %+v", rows, err, logs)
	}
	res, err := lh.Engine.Query(context.Background(), "SELECT count(*) FROM read_parquet("+duckdb.Literal(st.LocalPath(logs[0].Files[0]))+")")
	if err != nil || fmt.Sprint(res.Rows[0][0]) != strconv.FormatInt(rows, 10) {
		t.Fatalf("bronze file: %v %v, want %d rows", err, res, rows)
	}
	msg := fmt.Sprintf("landing CSV: %d MB, %d rows ingested in %.1fs (%.1f MB/s), peak RSS %d MB", r.fileMB, rows, r.took.Seconds(),
		float64(size)/(1<<20)/r.took.Seconds(), r.rssMB)
	fmt.Println(msg)
	t.Log(msg)
	return r
}

// writeClaimsCSV streams claims rows in the landing format to path until it holds about size
// bytes, and returns the rows written and the file's size.
func writeClaimsCSV(t *testing.T, path string, size int64) (rows, written int64) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	var header []string
	for _, c := range config.SeedClaimsColumns() {
		header = append(header, c.Name)
	}
	n, _ := fmt.Fprintln(w, strings.Join(header, ","))
	written = int64(n)
	statuses := []string{"Paid", "Denied", "Pending", "Approved"}
	payors := []string{"Medicare", "Medicaid", "Aetna", "BlueCross", "Cigna"}
	for written < size {
		i := rows
		day := 1 + i%28
		n, err := fmt.Fprintf(w, "CLAIM%010d,TRANS%010d,HOSP1-%06d,ENC%010d,PROV%04d,DEPT%03d,2024-01-%02d,2024-02-%02d,%s,%d.%02d,%d.%02d,%s,Commercial,%d.00,%d.50,20.00,2024-02-%02d,2024-02-%02d\n",
			i, i, i%5000, i, i%40, i%20, day, day, payors[i%5], 100+i%900, i%100, i%700, i%100, statuses[i%4], i%50, i%30, day, day)
		if err != nil {
			t.Fatal(err)
		}
		written += int64(n)
		rows++
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return rows, written
}
