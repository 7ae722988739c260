package main

import (
	"bufio"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSIGTERMThenResume: `rcmlake run` as its own process gets SIGTERM once its first task has
// committed. It stops with the run marked interrupted; `run --from-failure` then completes it,
// and the gold tables equal, row for row, those of an uninterrupted run on the same world.
func TestSIGTERMThenResume(t *testing.T) {
	tmp := t.TempDir()
	bin := testBinary(t)
	worlds := map[string]string{}
	for _, w := range []string{"interrupted", "clean"} {
		dir := filepath.Join(tmp, w)
		if code, _, errs := runCLI(t, "generate", "--out", dir, "--seed", "7", "--scale", "0.3", "--months", "3"); code != exitOK {
			t.Fatalf("generate: %s", errs)
		}
		worlds[w] = filepath.Join(dir, "rcmlake.yaml")
	}
	if code, _, errs := runCLI(t, "-c", worlds["clean"], "run"); code != exitOK {
		t.Fatalf("clean run: %s", errs)
	}

	cmd := exec.Command(bin, "-c", worlds["interrupted"], "run", "--workers", "1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	sc := bufio.NewScanner(stderr)
	signalled := false
	for sc.Scan() {
		log.WriteString(sc.Text() + "\n")
		if !signalled && strings.Contains(sc.Text(), "task succeeded") {
			cmd.Process.Signal(syscall.SIGTERM)
			signalled = true
		}
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		t.Fatal("rcmlake run did not stop within 2 minutes of SIGTERM")
	}
	if !signalled || err == nil || !strings.Contains(log.String(), "interrupted") {
		t.Fatalf("after SIGTERM: signalled %v, exit %v, want an interrupted run\n%s", signalled, err, log.String())
	}
	if code, out, errs := runCLI(t, "-c", worlds["interrupted"], "run", "--from-failure"); code != exitOK {
		t.Fatalf("resume: exit %d\n%s\n%s", code, out, errs)
	}
	digest := func(cfg, table string) string {
		t.Helper()
		code, out, errs := runCLI(t, "-c", cfg, "query", "SELECT count(*), bit_xor(hash(x)) FROM (SELECT * FROM "+table+") x", "--format", "csv")
		if code != exitOK {
			t.Fatalf("%s: %s", table, errs)
		}
		return out
	}
	for _, table := range []string{"gold.fact_transaction", "gold.fact_claim", "gold.kpi_monthly", "gold.fact_ar_snapshot", "gold.dim_patient"} {
		if a, b := digest(worlds["interrupted"], table), digest(worlds["clean"], table); a != b {
			t.Errorf("%s after SIGTERM and resume differs from a clean run:\n%s\n%s", table, a, b)
		}
	}
}
