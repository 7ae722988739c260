package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// writeClaimsCSV streams a claims file of about mb megabytes (the landing format, one claim
// per line, unique ids) and returns its line count.
func writeClaimsCSV(t *testing.T, path string, mb int) int64 {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	w.WriteString("ClaimID,TransactionID,PatientID,EncounterID,ProviderID,DeptID,ServiceDate,ClaimDate,PayorID,ClaimAmount,PaidAmount,ClaimStatus,PayorType,Deductible,Coinsurance,Copay,InsertDate,ModifiedDate,AllowedAmount,PaidDate,DenialReason\n")
	var n, size int64
	for size < int64(mb)<<20 {
		line := fmt.Sprintf("BIG%010d,TRANS%010d,HOSP1-%06d,ENC%010d,PROV%04d,DEPT%03d,2099-01-02,2099-01-28,Cigna,%d.38,616.31,Paid,Private,194.52,154.08,30.00,2099-01-28,2099-03-01,994.91,2099-03-01,\n",
			n, n, n%100000, n, n%200, n%20, 100+n%5000)
		w.WriteString(line)
		size += int64(len(line))
		n++
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestLargeClaimsCSVStreams: a claims file streams through the landing ingest without being
// held in memory: every line reaches bronze, and the ingest's peak RSS grows far less than the
// file: past DuckDB's working set (engine.memory_limit 256MB here) it stays flat. CI uses 128
// and 384 MB files; RCMLAKE_BIG_CSV_MB=2048 runs the 2 GB file as the larger one.
func TestLargeClaimsCSVStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("large file: not in -short")
	}
	big := int(envInt("RCMLAKE_BIG_CSV_MB", 384))
	bin := testBinary(t)
	var peaks []float64
	sizes := []int{128, big}
	for _, mb := range sizes {
		dir := filepath.Join(t.TempDir(), "w")
		if code, _, errs := runCLI(t, "generate", "--out", dir, "--scale", "0.05", "--months", "1"); code != exitOK {
			t.Fatalf("generate: %s", errs)
		}
		// A bounded engine, as a production config has: DuckDB otherwise keeps up to 80% of RAM
		// as cache, which is not the file being held.
		cfgFile, err := os.OpenFile(filepath.Join(dir, "rcmlake.yaml"), os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(cfgFile, "\nengine:\n  memory_limit: 256MB\n")
		cfgFile.Close()
		// Only the big file lands: the month's own claims files are archived away first.
		claims := filepath.Join(dir, "landing", "claims")
		os.RemoveAll(claims)
		os.MkdirAll(claims, 0o755)
		lines := writeClaimsCSV(t, filepath.Join(claims, "hospital1_claims_2099-01.csv"), mb)
		start := time.Now()
		cmd := exec.Command(bin, "-c", filepath.Join(dir, "rcmlake.yaml"), "--log-level", "error", "ingest", "--source", "hos-a", "--table", "claims")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("ingest: %v\n%s", err, out)
		}
		peak := float64(cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss) / 1024
		peaks = append(peaks, peak)
		code, out, errs := runCLI(t, "-c", filepath.Join(dir, "rcmlake.yaml"), "query", "--format", "csv",
			"SELECT numberofrowscopied, rows_rejected FROM audit.load_logs WHERE tablename = 'claims' AND status = 'success'")
		if code != exitOK {
			t.Fatal(errs)
		}
		if got := strings.TrimSpace(strings.SplitN(out, "\n", 2)[1]); got != fmt.Sprintf("%d,0", lines) {
			t.Errorf("%d MB file: loaded,rejected = %s, want %d,0", mb, got, lines)
		}
		t.Logf("%d MB claims file, %d lines: ingested in %.1f s (%.0f MB/s), peak RSS %.0f MB",
			mb, lines, time.Since(start).Seconds(), float64(mb)/time.Since(start).Seconds(), peak)
	}
	// Memory must not follow the file (measured: 430 MB at 128 MB, 421 MB at 512 MB).
	if grow, file := peaks[1]-peaks[0], float64(sizes[1]-sizes[0]); grow > file/4 {
		t.Errorf("peak RSS grew by %.0f MB for a file %.0f MB bigger: the file is not streamed", grow, file)
	}
}
