package main

import (
	"database/sql"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestBackfillPeriod: a source row corrected in place without touching its watermark is
// missed by incremental loads; `run --from --to` over its month takes it again, silver gains
// exactly that new version, the stored marks stay, and a repeated backfill changes nothing.
func TestBackfillPeriod(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "w")
	if code, _, errs := runCLI(t, "demo", "--dir", dir, "--scale", "0.1", "--months", "3"); code != exitOK {
		t.Fatalf("demo: %s", errs)
	}
	cfg := filepath.Join(dir, "rcmlake.yaml")
	one := func(q string) string {
		t.Helper()
		code, out, errs := runCLI(t, "-c", cfg, "query", q, "--format", "csv")
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if code != exitOK || len(lines) != 2 {
			t.Fatalf("query %q: %d %s %s", q, code, out, errs)
		}
		return lines[1]
	}
	// Correct one patient of the first month in the EMR, leaving ModifiedDate alone.
	db, err := sql.Open("sqlite", filepath.Join(dir, "emr", "trendytech-hospital-a.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	var id, month string
	if err := db.QueryRow("SELECT PatientID, substr(ModifiedDate, 1, 7) FROM patients WHERE FirstName IS NOT NULL AND FirstName <> 'NULL' ORDER BY ModifiedDate, PatientID LIMIT 1").Scan(&id, &month); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("UPDATE patients SET FirstName = 'Backfilled' WHERE PatientID = ?", id); err != nil {
		t.Fatal(err)
	}
	db.Close()
	versions := func() string {
		return one("SELECT count(*) || ':' || count(*) FILTER (WHERE is_current AND first_name = 'Backfilled') FROM silver.patients WHERE patient_id = '" + id + "' AND datasource = 'hos-a'")
	}
	before := versions()
	if code, _, errs := runCLI(t, "-c", cfg, "run"); code != exitOK {
		t.Fatalf("run: %s", errs)
	}
	if got := versions(); got != before {
		t.Fatalf("a plain incremental run saw the in-place correction: %s -> %s", before, got)
	}
	marks := one("SELECT string_agg(new_watermark, ',' ORDER BY data_source) FROM (SELECT data_source, new_watermark, row_number() OVER (PARTITION BY data_source ORDER BY loaddate DESC) n FROM audit.load_logs WHERE tablename = 'patients' AND load_type = 'incremental' AND status = 'success') x WHERE n = 1")
	if code, out, errs := runCLI(t, "-c", cfg, "run", "--from", month, "--to", month); code != exitOK {
		t.Fatalf("backfill run: %s\n%s", out, errs)
	}
	count, _, _ := strings.Cut(before, ":")
	n, err := strconv.Atoi(count)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := versions(), strconv.Itoa(n+1)+":1"; got != want {
		t.Errorf("after the backfill the patient has versions:current-corrected %s, want %s", got, want)
	}
	if got := one("SELECT count(*) > 0 AND bool_and(old_watermark = '" + month + "-01') FROM audit.load_logs WHERE load_type = 'backfill' AND tablename = 'patients'"); got != "true" {
		t.Errorf("no backfill load of patients over %s in audit.load_logs", month)
	}
	if got := one("SELECT string_agg(new_watermark, ',' ORDER BY data_source) FROM (SELECT data_source, new_watermark, row_number() OVER (PARTITION BY data_source ORDER BY loaddate DESC) n FROM audit.load_logs WHERE tablename = 'patients' AND load_type = 'incremental' AND status = 'success') x WHERE n = 1"); got != marks {
		t.Errorf("the backfill moved the incremental marks: %s -> %s", marks, got)
	}
	rows := one("SELECT count(*) FROM silver.patients")
	if code, _, errs := runCLI(t, "-c", cfg, "run", "--from", month, "--to", month); code != exitOK {
		t.Fatalf("second backfill: %s", errs)
	}
	if got := one("SELECT count(*) FROM silver.patients"); got != rows {
		t.Errorf("a repeated backfill changed silver.patients: %s -> %s rows", rows, got)
	}
	if code, _, _ := runCLI(t, "-c", cfg, "run", "--from", "2024-05", "--to", "2024-01"); code != exitUsage {
		t.Errorf("--from after --to: exit %d, want a usage error", code)
	}
}
