package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rcmlake/rcmlake/secrets/secretstest"
)

// TestScheduleCommand runs rcmlake schedule on a generated world with a schedule that fires
// every second and hospital A's DSN in a (local, contract-speaking) HashiCorp Vault. It waits
// for a scheduled run to finish through /metrics, stops the service with SIGTERM, and checks
// the run in audit.runs, the scheduler state in the lake, the metrics, and that the DSN from
// Vault appears in no output.
func TestScheduleCommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "w")
	if code, _, errs := runCLI(t, "generate", "--out", dir, "--scale", "0.05", "--months", "1"); code != exitOK {
		t.Fatalf("generate: %s", errs)
	}
	// The DSN only Vault knows: a path with a marker that must never be printed.
	hidden := filepath.Join(dir, "vault-only-Xk93Q", "hospital-a.sqlite")
	os.MkdirAll(filepath.Dir(hidden), 0o755)
	if err := os.Rename(filepath.Join(dir, "emr", "trendytech-hospital-a.sqlite"), hidden); err != nil {
		t.Fatal(err)
	}
	vs := secretstest.StartVault(t, "secret", map[string]map[string]any{"rcmlake": {"emr-hospital-a-dsn": hidden}})
	t.Setenv("VAULT_TOKEN", secretstest.VaultToken)

	cfgPath := filepath.Join(dir, "rcmlake.yaml")
	data, _ := os.ReadFile(cfgPath)
	cfg := strings.Replace(string(data), "dsn: emr/trendytech-hospital-a.sqlite", "dsn: ${secret:emr-hospital-a-dsn}", 1)
	cfg += fmt.Sprintf(`
secrets:
  providers: [env, vault]
  vault:
    address: %s
schedules:
  - name: hos-a-loads
    cron: "* * * * * *"
    select: "bronze.hos-a.patients, bronze.hos-a.providers"
`, vs.URL)
	os.WriteFile(cfgPath, []byte(cfg), 0o644)

	// A selection that names nothing fails at start, with the schedule's line.
	bad := strings.Replace(cfg, `select: "bronze.hos-a.patients, bronze.hos-a.providers"`, `select: "bronze.hos-z.*"`, 1)
	badPath := filepath.Join(dir, "bad.yaml")
	os.WriteFile(badPath, []byte(bad), 0o644)
	if code, _, errs := runCLI(t, "-c", badPath, "schedule", "--listen", ""); code != exitUsage || !strings.Contains(errs, "schedule hos-a-loads") || !strings.Contains(errs, "bad.yaml:") {
		t.Fatalf("bad selection: exit %d\n%s", code, errs)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	type result struct {
		code     int
		out, err string
	}
	done := make(chan result, 1)
	go func() {
		code, out, errs := runCLI(t, "-c", cfgPath, "schedule", "--listen", addr)
		done <- result{code, out, errs}
	}()

	// Wait until a scheduled run has finished: fired at least once and not running.
	fired := regexp.MustCompile(`rcmlake_schedule_fires_total\{schedule="hos-a-loads"\} (\d+)`)
	runningRe := regexp.MustCompile(`rcmlake_schedule_running\{schedule="hos-a-loads"\} (\d+)`)
	var metrics string
	deadline := time.Now().Add(90 * time.Second)
	for {
		if time.Now().After(deadline) {
			t.Fatalf("no scheduled run finished within 90s; metrics:\n%s", metrics)
		}
		select {
		case r := <-done:
			t.Fatalf("schedule exited early: %d\n%s\n%s", r.code, r.out, r.err)
		case <-time.After(200 * time.Millisecond):
		}
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		metrics = string(b)
		m, r := fired.FindStringSubmatch(metrics), runningRe.FindStringSubmatch(metrics)
		if m != nil && r != nil && m[1] != "0" && r[1] == "0" {
			break
		}
	}
	if !strings.Contains(metrics, "rcmlake_schedule_last_fire_timestamp_seconds") || !strings.Contains(metrics, `rcmlake_runs_total{status="success"}`) {
		t.Errorf("metrics lack the last fire or the run:\n%s", metrics)
	}

	// SIGTERM: the service stops taking fires, waits for a run in progress, exits 0.
	syscall.Kill(os.Getpid(), syscall.SIGTERM)
	var r result
	select {
	case r = <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("schedule did not stop within 60s of SIGTERM")
	}
	if r.code != exitOK {
		t.Fatalf("schedule exit %d\n%s", r.code, r.err)
	}
	if _, err := http.Get("http://" + addr + "/metrics"); err == nil {
		t.Error("/metrics still served after the service stopped")
	}

	code, runs, errs := runCLI(t, "-c", cfgPath, "runs")
	if code != exitOK || !strings.Contains(runs, "schedule:hos-a-loads") || !strings.Contains(runs, "success") {
		t.Fatalf("runs: exit %d\n%s\n%s", code, runs, errs)
	}
	code, rows, _ := runCLI(t, "-c", cfgPath, "query", "SELECT count(*) AS n FROM bronze.patients", "--format", "csv")
	lines := strings.Split(strings.TrimSpace(rows), "\n")
	if n, _ := strconv.Atoi(lines[len(lines)-1]); code != exitOK || n == 0 {
		t.Errorf("nothing loaded from hospital A: exit %d %q", code, rows)
	}
	state, err := os.ReadFile(filepath.Join(dir, "lake", "_schedule", "state.json"))
	if err != nil || !strings.Contains(string(state), "hos-a-loads") {
		t.Errorf("scheduler state: %v %s", err, state)
	}
	for _, out := range []string{r.out, r.err, runs, metrics, string(state)} {
		if strings.Contains(out, "Xk93Q") {
			t.Errorf("the DSN from Vault appears in the output:\n%s", out)
		}
	}
	if vs.Reads["rcmlake"] == 0 {
		t.Error("Vault was never asked for the DSN")
	}
}
