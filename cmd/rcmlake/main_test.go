package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rcmlake/rcmlake/internal/testenv"
	"github.com/rcmlake/rcmlake/lake/file"
	"github.com/rcmlake/rcmlake/lakehouse"
)

func runCLI(t testing.TB, args ...string) (int, string, string) {
	t.Helper()
	gflags = globals{}
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestExitCodes(t *testing.T) {
	if code, _, _ := runCLI(t, "version"); code != exitOK {
		t.Errorf("version: exit %d", code)
	}
	if code, _, _ := runCLI(t, "no-such-command"); code != exitUsage {
		t.Errorf("unknown command: exit %d, want 2", code)
	}
	if code, _, _ := runCLI(t, "table", "show"); code != exitUsage {
		t.Errorf("missing argument: exit %d, want 2", code)
	}
	if code, _, _ := runCLI(t, "validate", filepath.Join(t.TempDir(), "missing.yaml")); code != exitFailure {
		t.Errorf("missing config: exit %d, want 1", code)
	}
	for _, c := range []string{"table", "config", "validate", "table show"} {
		code, out, _ := runCLI(t, append(strings.Fields(c), "--help")...)
		if code != exitOK || !strings.Contains(out, "Usage:") {
			t.Errorf("%s --help: exit %d\n%s", c, code, out)
		}
	}
}

// TestTableCheckpointCommand: table checkpoint writes a checkpoint of the latest version of a
// Spark-written table from which alone the table reads as before (the commits it covers are
// deleted), and refuses a table with deletion vectors by name.
func TestTableCheckpointCommand(t *testing.T) {
	golden := filepath.Join(testenv.SharedDir(t), "delta-golden")
	dir := filepath.Join(t.TempDir(), "t")
	if err := os.CopyFS(dir, os.DirFS(filepath.Join(golden, "snapshot-repartitioned"))); err != nil {
		t.Fatal(err)
	}
	show := func() string {
		code, out, errs := runCLI(t, "table", "show", dir, "--limit", "-1", "--format", "csv")
		if code != exitOK {
			t.Fatalf("show: exit %d %s", code, errs)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		sort.Strings(lines)
		return strings.Join(lines, "\n")
	}
	before := show()
	code, _, errs := runCLI(t, "table", "checkpoint", dir)
	if code != exitOK || !strings.Contains(errs, "checkpoint written at version") {
		t.Fatalf("checkpoint: exit %d %s", code, errs)
	}
	var v int64
	if _, err := fmt.Sscanf(errs[strings.Index(errs, "version"):], "version %d", &v); err != nil {
		t.Fatal(err)
	}
	logDir := filepath.Join(dir, "_delta_log")
	if _, err := os.Stat(filepath.Join(logDir, fmt.Sprintf("%020d.checkpoint.parquet", v))); err != nil {
		t.Fatal(err)
	}
	for i := int64(0); i <= v; i++ {
		os.Remove(filepath.Join(logDir, fmt.Sprintf("%020d.json", i)))
	}
	if after := show(); after != before {
		t.Errorf("from the checkpoint alone the table reads\n%s\nnot\n%s", after, before)
	}
	dv := filepath.Join(t.TempDir(), "dv")
	if err := os.CopyFS(dv, os.DirFS(filepath.Join(golden, "table-with-dv-small"))); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := runCLI(t, "table", "checkpoint", dv); code != exitFailure || !strings.Contains(errs, "deletionVectors") {
		t.Errorf("checkpoint of a table with deletion vectors: exit %d %s", code, errs)
	}
}

func TestTableCommandsOnGoldenTables(t *testing.T) {
	golden := filepath.Join(testenv.SharedDir(t), "delta-golden")
	code, out, errs := runCLI(t, "table", "describe", filepath.Join(golden, "basic-decimal-table"))
	if code != exitOK || !strings.Contains(out, "decimal(20,10)") || !strings.Contains(out, "Rows:       4") {
		t.Fatalf("describe: exit %d\n%s%s", code, out, errs)
	}
	code, out, _ = runCLI(t, "table", "show", filepath.Join(golden, "snapshot-repartitioned"), "--version", "2", "--limit", "-1", "--format", "csv")
	if code != exitOK || strings.Count(strings.TrimSpace(out), "\n") != 10 {
		t.Fatalf("show v2: exit %d, want a header and 10 rows:\n%s", code, out)
	}
	code, out, _ = runCLI(t, "table", "show", filepath.Join(golden, "basic-decimal-table"), "--format", "jsonl")
	if code != exitOK || !strings.Contains(out, `"col3":-9999999999.9999999999`) {
		t.Fatalf("show jsonl keeps decimals exact: exit %d\n%s", code, out)
	}
	code, _, errs = runCLI(t, "table", "show", filepath.Join(golden, "table-with-dv-small"))
	if code != exitFailure || !strings.Contains(errs, "deletionVectors") {
		t.Fatalf("deletion vectors: exit %d %s", code, errs)
	}
	code, out, _ = runCLI(t, "table", "history", filepath.Join(golden, "snapshot-repartitioned"))
	if code != exitOK || !strings.Contains(out, "DELETE") {
		t.Fatalf("history: exit %d\n%s", code, out)
	}
}

func TestVacuumRefusesShortRetention(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(testenv.SharedDir(t), "delta-golden", "snapshot-repartitioned")
	copyTree(t, src, dir)
	code, _, errs := runCLI(t, "table", "vacuum", dir, "--retain", "1h")
	if code != exitFailure || !strings.Contains(errs, "--force") {
		t.Fatalf("short retention: exit %d %s", code, errs)
	}
	code, out, _ := runCLI(t, "table", "vacuum", dir, "--retain", "0s", "--force", "--dry-run")
	if code != exitOK || strings.Count(out, ".parquet") == 0 {
		t.Fatalf("dry run: exit %d\n%s", code, out)
	}
	before := countParquet(t, dir)
	if code, _, _ := runCLI(t, "table", "vacuum", dir, "--retain", "0s", "--force"); code != exitOK {
		t.Fatal("vacuum failed")
	}
	if after := countParquet(t, dir); after != 2 || before <= 2 {
		t.Errorf("parquet files %d -> %d, want the 2 active ones left", before, after)
	}
	code, out, _ = runCLI(t, "table", "show", dir, "--limit", "-1", "--format", "csv")
	if code != exitOK || strings.Count(strings.TrimSpace(out), "\n") != 20 {
		t.Errorf("after vacuum the latest version reads 20 rows: exit %d\n%s", code, out)
	}
}

func copyTree(t testing.TB, src, dst string) {
	t.Helper()
	filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if info.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
}

func countParquet(t *testing.T, dir string) int {
	n := 0
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && strings.HasSuffix(p, ".parquet") && !strings.Contains(p, "_delta_log") {
			n++
		}
		return nil
	})
	return n
}

func TestImportSeedAndValidate(t *testing.T) {
	seed := filepath.Join(testenv.SharedDir(t), "seed-data", "load_config.csv")
	out := filepath.Join(t.TempDir(), "rcmlake.yaml")
	if code, _, errs := runCLI(t, "config", "import-seed", seed, "-o", out); code != exitOK {
		t.Fatalf("import-seed: %s", errs)
	}
	code, stdout, _ := runCLI(t, "validate", out)
	if code != exitOK || !strings.Contains(stdout, "2 EMR databases, 10 tables") {
		t.Fatalf("validate: exit %d %s", code, stdout)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("version: 1\nlake:\n  root: ftp://x\nbogus: 1\n"), 0o644)
	code, stdout, _ = runCLI(t, "validate", bad)
	if code != exitFailure || !strings.Contains(stdout, "bad.yaml:3:") || !strings.Contains(stdout, "bad.yaml:4:") {
		t.Fatalf("validate bad: exit %d\n%s", code, stdout)
	}
}

func TestTableByCatalogName(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "rcmlake.yaml")
	os.WriteFile(cfgPath, []byte("version: 1\nlake:\n  root: lake\n  cache_dir: cache\n"), 0o644)
	// Put a Spark-written table where silver.patients lives.
	copyTree(t, filepath.Join(testenv.SharedDir(t), "delta-golden", "snapshot-repartitioned"), filepath.Join(dir, "lake", "silver", "patients"))
	code, out, errs := runCLI(t, "-c", cfgPath, "table", "describe", "silver.patients")
	if code != exitOK || !strings.Contains(out, "Version:    5") {
		t.Fatalf("describe by name: exit %d\n%s%s", code, out, errs)
	}
	code, out, _ = runCLI(t, "-c", cfgPath, "table", "show", "silver.patients@v0", "--limit", "-1", "--format", "csv")
	if code != exitOK || strings.Count(strings.TrimSpace(out), "\n") != 10 {
		t.Fatalf("show @v0: exit %d\n%s", code, out)
	}
	if code, _, _ = runCLI(t, "-c", cfgPath, "table", "show", "silver.nothing"); code != exitFailure {
		t.Errorf("missing table: exit %d, want 1", code)
	}
}

// TestDemoEndToEnd runs the README's demo command on a small world, then reads its KPIs back
// with rcmlake kpi, and checks that a second demo run loads nothing twice.
func TestDemoEndToEnd(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo")
	code, out, errs := runCLI(t, "demo", "--dir", dir, "--scale", "0.1", "--months", "4")
	if code != exitOK || !strings.Contains(out, "Days in A/R") || !strings.Contains(out, "lake/gold/") {
		t.Fatalf("demo: exit %d\n%s\n%s", code, out, errs)
	}
	cfg := filepath.Join(dir, "rcmlake.yaml")
	code, js, _ := runCLI(t, "-c", cfg, "kpi", "--format", "csv")
	if code != exitOK || !strings.Contains(js, "days_in_ar,") {
		t.Fatalf("kpi: exit %d\n%s", code, js)
	}
	// audit.quality: the newest build of each entity, conservation included; no rule of
	// severity fail failed, so --strict passes.
	code, q, errs := runCLI(t, "-c", cfg, "quality", "--format", "csv", "--strict")
	if code != exitOK || !strings.Contains(q, ",patients,conservation,") || !strings.Contains(q, ",patients,first_name_present,") {
		t.Errorf("quality: exit %d\n%s\n%s", code, q, errs)
	}
	count := func() string {
		_, o, _ := runCLI(t, "-c", cfg, "table", "describe", "silver.transactions")
		for _, l := range strings.Split(o, "\n") {
			if strings.HasPrefix(l, "Rows:") {
				return l
			}
		}
		return ""
	}
	testQueries(t, cfg)
	before := count()
	if code, _, errs := runCLI(t, "demo", "--dir", dir); code != exitOK {
		t.Fatalf("second demo run: %s", errs)
	}
	if after := count(); after != before || before == "" {
		t.Errorf("a second demo run changed silver.transactions: %q -> %q", before, after)
	}
}

// testQueries checks `rcmlake query` on a demo world against answers computed another way.
func testQueries(t *testing.T, cfg string) {
	t.Helper()
	one := func(sql string, extra ...string) string {
		t.Helper()
		code, out, errs := runCLI(t, append([]string{"-c", cfg, "query", sql, "--format", "csv"}, extra...)...)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if code != exitOK || len(lines) != 2 {
			t.Fatalf("query %q: exit %d\n%s\n%s", sql, code, out, errs)
		}
		return lines[1]
	}
	// Bronze holds exactly the rows the audit log says were copied.
	bronzeRows := one("SELECT count(*) FROM bronze.transactions")
	audited := one("SELECT sum(numberofrowscopied) FROM audit.load_logs WHERE tablename = 'transactions' AND status = 'success'")
	if bronzeRows != audited || bronzeRows == "0" {
		t.Errorf("bronze.transactions has %s rows, the audit log says %s were copied", bronzeRows, audited)
	}
	// Time travel: the audit table's first version holds fewer rows than its latest.
	first, latest := one("SELECT count(*) FROM audit.load_logs@v0"), one("SELECT count(*) FROM audit.load_logs")
	if first == latest || first == "0" {
		t.Errorf("audit.load_logs@v0 has %s rows, latest %s", first, latest)
	}
	// The seed's report totals to the fact table's charges, to the cent.
	code, out, errs := runCLI(t, "-c", cfg, "query", "--named", "charges_by_provider_department_month", "--format", "jsonl")
	if code != exitOK {
		t.Fatalf("named query: %s", errs)
	}
	var cents int64
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var row map[string]any
		if err := json.Unmarshal([]byte(l), &row); err != nil {
			t.Fatal(err)
		}
		d, err := strconv.ParseFloat(fmt.Sprint(row["total_charge"]), 64)
		if err != nil {
			t.Fatalf("total_charge %v: %v", row["total_charge"], err)
		}
		cents += int64(math.Round(d * 100))
	}
	total, _ := strconv.ParseFloat(one("SELECT sum(charge_amount) FROM gold.fact_transaction WHERE provider_sk <> '-1' AND department_key <> 'unknown'"), 64)
	if cents != int64(math.Round(total*100)) {
		t.Errorf("the report's charges total %d cents, the fact table's %.2f", cents, total)
	}
	// Parquet export, read back.
	pq := filepath.Join(t.TempDir(), "claims.parquet")
	if code, _, errs := runCLI(t, "-c", cfg, "query", "SELECT * FROM gold.fact_claim", "--format", "parquet", "--out", pq); code != exitOK {
		t.Fatalf("parquet export: %s", errs)
	}
	if n, claims := one(fmt.Sprintf("SELECT count(*) FROM read_parquet('%s')", pq)), one("SELECT count(*) FROM gold.fact_claim"); n != claims {
		t.Errorf("exported %s claims, the table has %s", n, claims)
	}
	// dim_date: one row per day over every fact date, no gaps, with fiscal periods from July.
	if got := one("SELECT count(*) = count(DISTINCT date_day) AND count(*) = date_diff('day', min(date_day), max(date_day)) + 1 FROM gold.dim_date"); got != "true" {
		t.Errorf("dim_date has gaps or duplicates")
	}
	if got := one("SELECT count(*) FROM gold.fact_transaction f LEFT JOIN gold.dim_date d ON d.date_day = f.service_date WHERE f.service_date IS NOT NULL AND d.date_day IS NULL"); got != "0" {
		t.Errorf("%s facts have a service date outside dim_date", got)
	}
	// Every row's calendar and fiscal fields, recomputed with the time package.
	code, out, errs = runCLI(t, "-c", cfg, "query", "SELECT CAST(date_day AS VARCHAR), date_key, year, quarter, month, month_name, day_of_week, is_weekend, iso_week, CAST(month_start AS VARCHAR), fiscal_year, fiscal_month, fiscal_quarter FROM gold.dim_date ORDER BY date_day", "--format", "csv")
	rows := strings.Split(strings.TrimSpace(out), "\n")
	if code != exitOK || len(rows) < 60 {
		t.Fatalf("dim_date: exit %d, %d lines\n%s", code, len(rows), errs)
	}
	for _, line := range rows[1:] {
		f := strings.Split(line, ",")
		d, err := time.Parse("2006-01-02", f[0])
		if err != nil {
			t.Fatalf("dim_date row %q: %v", line, err)
		}
		fm := (int(d.Month())+5)%12 + 1 // July is fiscal month 1
		fy := d.Year()
		if d.Month() >= time.July {
			fy++
		}
		dow := int(d.Weekday())
		if dow == 0 {
			dow = 7
		}
		_, wk := d.ISOWeek()
		want := fmt.Sprintf("%s,%d,%d,%d,%d,%s,%d,%t,%d,%s,%d,%d,%d", f[0], d.Year()*10000+int(d.Month())*100+d.Day(),
			d.Year(), (int(d.Month())+2)/3, int(d.Month()), d.Month(), dow, dow >= 6, wk,
			d.AddDate(0, 0, 1-d.Day()).Format("2006-01-02"), fy, fm, (fm+2)/3)
		if line != want {
			t.Errorf("dim_date row %s, want %s", line, want)
			break
		}
	}
	// The daily A/R snapshot agrees with kpi_monthly's month-end aging, bucket by bucket.
	if got := one(`SELECT count(*) FROM gold.kpi_monthly k
		LEFT JOIN (SELECT snapshot_date, sum(ar_amount) AS total,
			sum(CASE WHEN bucket_order = 1 THEN ar_amount ELSE 0 END) AS b1, sum(CASE WHEN bucket_order = 2 THEN ar_amount ELSE 0 END) AS b2,
			sum(CASE WHEN bucket_order = 3 THEN ar_amount ELSE 0 END) AS b3, sum(CASE WHEN bucket_order = 4 THEN ar_amount ELSE 0 END) AS b4,
			sum(CASE WHEN bucket_order = 5 THEN ar_amount ELSE 0 END) AS b5
			FROM gold.fact_ar_snapshot GROUP BY 1) s ON s.snapshot_date = last_day(k.month_start)
		WHERE k.grain = 'network' AND last_day(k.month_start) <= (SELECT max(date_day) FROM gold.dim_date)
		  AND (coalesce(s.total, 0) <> k.ar_total OR coalesce(s.b1, 0) <> k.ar_0_30 OR coalesce(s.b2, 0) <> k.ar_31_60
		    OR coalesce(s.b3, 0) <> k.ar_61_90 OR coalesce(s.b4, 0) <> k.ar_91_120 OR coalesce(s.b5, 0) <> k.ar_over_120)`); got != "0" {
		t.Errorf("fact_ar_snapshot disagrees with kpi_monthly's aging at %s month ends", got)
	}
	if got := one("SELECT count(*) >= 3 FROM gold.kpi_monthly WHERE grain = 'network' AND last_day(month_start) <= (SELECT max(snapshot_date) FROM gold.fact_ar_snapshot)"); got != "true" {
		t.Errorf("fewer than 3 month ends to compare with fact_ar_snapshot")
	}
	// Reference data, offline: every NPI the providers carry was looked up in the (recorded)
	// registry, and its names agree with the EMR's; every charge's diagnosis has a titled member.
	if got, want := one("SELECT count(*) FROM silver.npi WHERE is_current"), one("SELECT count(DISTINCT NPI) FROM bronze.providers"); got != want || got == "0" {
		t.Errorf("silver.npi has %s current NPIs, the providers name %s", got, want)
	}
	if got := one(`SELECT count(*) FROM silver.providers p JOIN silver.npi n ON n.npi = p.npi AND n.is_current
		WHERE p.is_current AND (n.first_name <> p.first_name OR n.last_name <> p.last_name)`); got != "0" {
		t.Errorf("%s providers' registry names differ from the EMR's", got)
	}
	if got := one("SELECT count(*) FROM gold.fact_transaction f JOIN gold.dim_icd_code i USING (icd_sk) WHERE i.title IS NULL OR f.icd_sk = '-1' OR replace(f.icd_code, '.', '') <> i.code_nodot"); got != "0" {
		t.Errorf("%s facts lack a titled ICD member of their own code", got)
	}
	if got := one("SELECT count(*) FROM audit.load_logs WHERE data_source = 'ref' AND load_type = 'api' AND status = 'success' AND tablename IN ('npi', 'icd_codes')"); got == "0" {
		t.Errorf("no reference API loads in audit.load_logs")
	}
	// Usage errors exit 2; an unknown table is a clear failure.
	if code, _, _ := runCLI(t, "-c", cfg, "query", "--format", "xml", "SELECT 1"); code != exitUsage {
		t.Errorf("--format xml: exit %d", code)
	}
	if code, _, errs := runCLI(t, "-c", cfg, "query", "SELECT * FROM bronze.nosuch"); code != exitFailure || !strings.Contains(errs, "bronze.transactions") {
		t.Errorf("unknown bronze table: exit %d, %s", code, errs)
	}
}

// TestDemoInRelativeDir: the README's demo runs in the current directory with a relative
// --dir; every path the config holds (EMR files, landing, the offline NPI answers) resolves.
func TestDemoInRelativeDir(t *testing.T) {
	t.Chdir(t.TempDir())
	if code, out, errs := runCLI(t, "demo", "--dir", "w", "--scale", "0.1", "--months", "2"); code != exitOK || !strings.Contains(out, "Days in A/R") {
		t.Fatalf("demo in a relative folder: exit %d\n%s\n%s", code, out, errs)
	}
}

// openLakeDir opens a local lake folder with rcmlake's own reader; the caller closes it.
func openLakeDir(t testing.TB, dir string) (*file.Storage, *lakehouse.Lakehouse) {
	t.Helper()
	st, err := file.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	lh, err := lakehouse.OpenStorage(st)
	if err != nil {
		t.Fatal(err)
	}
	return st, lh
}
