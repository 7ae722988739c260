package main

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestKPITimeTravel: after a new month is loaded, reading the KPIs at the earlier table
// version (rcmlake kpi --version, and query --as-of) reproduces the earlier answer exactly,
// while the latest version has moved on.
func TestKPITimeTravel(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "w")
	if code, _, errs := runCLI(t, "demo", "--dir", dir, "--scale", "0.1", "--months", "4"); code != exitOK {
		t.Fatal(errs)
	}
	cfg := filepath.Join(dir, "rcmlake.yaml")
	month := func(out string) string {
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) < 2 {
			t.Fatalf("kpi output: %q", out)
		}
		return strings.SplitN(lines[1], ",", 2)[0]
	}
	_, before, _ := runCLI(t, "-c", cfg, "kpi", "--format", "csv", "--hospital", "hos-a")
	_, hist, _ := runCLI(t, "-c", cfg, "table", "history", "gold.kpi_monthly")
	m := regexp.MustCompile(`(?m)^\s*(\d+)\s`).FindStringSubmatch(hist)
	if m == nil {
		t.Fatalf("history: %s", hist)
	}
	version := m[1] // newest first
	_, rowsBefore, _ := runCLI(t, "-c", cfg, "query", "SELECT * FROM gold.kpi_monthly ORDER BY ALL", "--format", "csv")
	_, at, _ := runCLI(t, "-c", cfg, "query", "SELECT max(event_time) FROM (SELECT now() AS event_time)", "--format", "csv")
	asOf := strings.TrimSpace(strings.Split(strings.TrimSpace(at), "\n")[1])

	if code, _, errs := runCLI(t, "generate", "--out", dir, "--append-month"); code != exitOK {
		t.Fatal(errs)
	}
	if code, _, errs := runCLI(t, "demo", "--dir", dir); code != exitOK {
		t.Fatal(errs)
	}
	_, after, _ := runCLI(t, "-c", cfg, "kpi", "--format", "csv", "--hospital", "hos-a")
	if month(after) == month(before) {
		t.Fatalf("the appended month did not move the KPIs: %s", after)
	}
	code, again, errs := runCLI(t, "-c", cfg, "kpi", "--format", "csv", "--hospital", "hos-a", "--version", version)
	if code != exitOK || again != before {
		t.Errorf("kpi at v%s differs from before the new month:\n%s\nwant\n%s%s", version, again, before, errs)
	}
	_, rowsAgain, _ := runCLI(t, "-c", cfg, "query", "SELECT * FROM gold.kpi_monthly@v"+version+" ORDER BY ALL", "--format", "csv")
	if rowsAgain != rowsBefore || len(rowsBefore) < 1000 {
		t.Errorf("gold.kpi_monthly@v%s is not the table as it was (%d vs %d bytes)", version, len(rowsAgain), len(rowsBefore))
	}
	_, rowsAsOf, errs := runCLI(t, "-c", cfg, "query", "SELECT * FROM gold.kpi_monthly ORDER BY ALL", "--format", "csv", "--as-of", asOf)
	if rowsAsOf != rowsBefore {
		t.Errorf("--as-of %s is not the table as it was: %s", asOf, errs)
	}
}
