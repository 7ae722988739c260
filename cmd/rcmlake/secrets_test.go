package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNoSecretInAnyOutput: EMR DSNs come from secret references; one of them points at a
// database that does not exist, so its loads fail with errors that would quote it. No secret
// value may appear in the run's output and logs, in audit.load_logs, audit.runs or
// audit.task_runs, or in the lineage events.
func TestNoSecretInAnyOutput(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "w")
	if code, _, errs := runCLI(t, "generate", "--out", dir, "--scale", "0.05", "--months", "2"); code != exitOK {
		t.Fatalf("generate: %s", errs)
	}
	cfgPath := filepath.Join(dir, "rcmlake.yaml")
	data, _ := os.ReadFile(cfgPath)
	cfg := string(data)
	good := filepath.Join(dir, "emr", "trendytech-hospital-a.sqlite")
	badSecret := filepath.Join(dir, "no-such-dir-Zq7Kx2-TOPSECRET", "emr.sqlite")
	cfg = strings.Replace(cfg, "dsn: emr/trendytech-hospital-a.sqlite", "dsn: ${secret:emr-hospital-a-dsn}", 1)
	cfg = strings.Replace(cfg, "dsn: emr/trendytech-hospital-b.sqlite", "dsn: ${secret:emr-hospital-b-dsn}", 1)
	cfg = strings.Replace(cfg, "ingest:", "run:\n  lineage_dir: lineage\n  retries: 1\n  backoff: 10ms\ningest:", 1)
	os.WriteFile(cfgPath, []byte(cfg), 0o644)
	t.Setenv("RCMLAKE_SECRET_EMR_HOSPITAL_A_DSN", good)
	t.Setenv("RCMLAKE_SECRET_EMR_HOSPITAL_B_DSN", badSecret)

	var outputs []string
	code, out, errs := runCLI(t, "-c", cfgPath, "run")
	if code != exitFailure || !strings.Contains(out, "bronze.hos-b.patients") {
		t.Fatalf("run with a broken source: exit %d\n%s\n%s", code, out, errs)
	}
	outputs = append(outputs, out, errs)
	for _, tbl := range []string{"audit.load_logs", "audit.runs", "audit.task_runs"} {
		code, out, errs := runCLI(t, "-c", cfgPath, "query", "SELECT * FROM "+tbl, "--format", "jsonl")
		if code != exitOK {
			t.Fatalf("%s: %s", tbl, errs)
		}
		outputs = append(outputs, out)
	}
	code, out, _ = runCLI(t, "-c", cfgPath, "--log-format", "json", "audit")
	outputs = append(outputs, out)
	events, _ := filepath.Glob(filepath.Join(dir, "lineage", "*.json"))
	if len(events) == 0 {
		t.Fatal("no lineage events written")
	}
	for _, f := range events {
		b, _ := os.ReadFile(f)
		outputs = append(outputs, string(b))
	}
	all := strings.Join(outputs, "\n")
	if !strings.Contains(all, "[REDACTED]") {
		t.Error("the failing source's error never mentions its (redacted) DSN: the test proves nothing")
	}
	for _, secret := range []string{badSecret, "Zq7Kx2-TOPSECRET", good} {
		if strings.Contains(all, secret) {
			i := strings.Index(all, secret)
			t.Errorf("secret %q appears in the output: ...%s...", secret, all[max(0, i-80):min(len(all), i+80)])
		}
	}
}

// TestDoctor: a healthy world passes every check; a missing secret, a missing table and an
// unreachable database each fail with what to fix, and no secret value is printed.
func TestDoctor(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "w")
	if code, _, errs := runCLI(t, "generate", "--out", dir, "--scale", "0.05", "--months", "1"); code != exitOK {
		t.Fatalf("generate: %s", errs)
	}
	cfgPath := filepath.Join(dir, "rcmlake.yaml")
	code, out, _ := runCLI(t, "-c", cfgPath, "doctor")
	if code != exitOK || strings.Contains(out, "FAIL") || !strings.Contains(out, "write, read and delete work") {
		t.Fatalf("doctor on a healthy world: exit %d\n%s", code, out)
	}
	data, _ := os.ReadFile(cfgPath)
	cfg := strings.Replace(string(data), "dsn: emr/trendytech-hospital-a.sqlite", "dsn: ${secret:emr-a-dsn}", 1)
	cfg = strings.Replace(cfg, "dsn: emr/trendytech-hospital-b.sqlite", "dsn: ${secret:emr-b-dsn}", 1)
	cfg = strings.Replace(cfg, "- name: encounters", "- name: encounterz", 1)
	os.WriteFile(cfgPath, []byte(cfg), 0o644)
	secretA := filepath.Join(dir, "emr", "trendytech-hospital-a.sqlite")
	t.Setenv("RCMLAKE_SECRET_EMR_A_DSN", secretA)
	code, out, _ = runCLI(t, "-c", cfgPath, "doctor")
	if code != exitFailure {
		t.Fatalf("doctor on a broken config: exit %d\n%s", code, out)
	}
	for _, want := range []string{"FAIL  secret hos-b dsn", "emr-b-dsn", "FAIL  emr hos-a encounterz", "->"} {
		if !strings.Contains(out, want) {
			t.Errorf("doctor output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, secretA) {
		t.Errorf("doctor printed a secret value:\n%s", out)
	}
}
