package main

import (
	"encoding/csv"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rcmlake/rcmlake/internal/testenv"
)

// readCSV reads a seed file's records (header excluded).
func readCSV(t *testing.T, path string) (header []string, rows [][]string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	all, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return all[0], all[1:]
}

// cents is a decimal string rounded half away from zero to whole cents, exactly (the seed's
// amounts carry float artefacts such as 988.3699951171875).
func cents(t *testing.T, s string) *big.Int {
	t.Helper()
	r, ok := new(big.Rat).SetString(strings.TrimSpace(s))
	if !ok {
		t.Fatalf("amount %q", s)
	}
	r.Mul(r, big.NewRat(100, 1))
	neg := r.Sign() < 0
	r.Abs(r)
	q, m := new(big.Int).QuoRem(r.Num(), r.Denom(), new(big.Int))
	if new(big.Int).Mul(m, big.NewInt(2)).Cmp(r.Denom()) >= 0 {
		q.Add(q, big.NewInt(1))
	}
	if neg {
		q.Neg(q)
	}
	return q
}

// TestSeedDataEndToEnd runs the seed project's own sample data through rcmlake, as a user
// coming from it would: its CSV files into EMR databases (emr load, driven by its mapping
// file), a config imported from its load_config.csv with every table active, its claims and
// CPT files dropped in landing, then one run. Every row of every file reaches bronze; silver
// holds all 10,000 patients with exactly the 15 'NULL' first names quarantined; gold's
// fact_transaction holds the 20,000 transactions with charges and payments equal to the
// files' to the cent; dim_patient holds the 9,985 clean patients.
func TestSeedDataEndToEnd(t *testing.T) {
	seed := filepath.Join(testenv.SharedDir(t), "seed-data")
	cfg := seedProject(t, t.TempDir())
	if code, out, errs := runCLI(t, "-c", cfg, "run"); code != exitOK {
		t.Fatalf("run: exit %d\n%s\n%s", code, out, errs)
	}
	q := func(sql string) string {
		t.Helper()
		code, out, errs := runCLI(t, "-c", cfg, "query", sql, "--format", "csv")
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if code != exitOK || len(lines) < 2 {
			t.Fatalf("query %q: %s %s", sql, out, errs)
		}
		return strings.Join(lines[1:], "\n")
	}

	// Bronze: every row of every file, per table and hospital.
	for _, h := range []struct{ ds, folder string }{{"hos-a", "trendytech-hospital-a"}, {"hos-b", "trendytech-hospital-b"}} {
		for _, table := range []string{"patients", "providers", "departments", "encounters", "transactions"} {
			_, rows := readCSV(t, filepath.Join(seed, "emr", h.folder, table+".csv"))
			got := q("SELECT count(*) FROM bronze." + table + " WHERE datasource = '" + h.ds + "'")
			if got != strconv.Itoa(len(rows)) {
				t.Errorf("bronze.%s of %s: %s rows, the file has %d", table, h.ds, got, len(rows))
			}
		}
	}
	claims := 0
	for _, f := range []string{"hospital1_claim_data.csv", "hospital2_claim_data.csv"} {
		_, rows := readCSV(t, filepath.Join(seed, "claims", f))
		claims += len(rows)
	}
	if got := q("SELECT count(*) FROM bronze.claims"); got != strconv.Itoa(claims) {
		t.Errorf("bronze.claims: %s rows, the files have %d", got, claims)
	}
	_, cpt := readCSV(t, filepath.Join(seed, "cptcodes", "cptcodes.csv"))
	if got := q("SELECT count(*) FROM bronze.cpt_codes WHERE procedure_code_category IS NOT NULL"); got != strconv.Itoa(len(cpt)) {
		t.Errorf("bronze.cpt_codes: %s rows with a normalised category column, the file has %d", got, len(cpt))
	}

	// Silver: all 10,000 patients, one model for both schemas, exactly the 15 'NULL' names
	// quarantined (all hospital B's), each with its reason.
	if got := q("SELECT count(*) FROM silver.patients WHERE is_current"); got != "10000" {
		t.Errorf("silver.patients: %s current rows, want 10000", got)
	}
	nullNames := 0
	hdr, rows := readCSV(t, filepath.Join(seed, "emr", "trendytech-hospital-b", "patients.csv"))
	for _, r := range rows {
		if r[indexOf(hdr, "F_Name")] == "NULL" {
			nullNames++
		}
	}
	if nullNames != 15 {
		t.Fatalf("the seed's hospital B has %d 'NULL' first names; the issue says 15", nullNames)
	}
	if got := q("SELECT datasource, count(*), count(*) FILTER (WHERE first_name = 'NULL' AND quarantine_reasons LIKE '%first_name_present%') FROM silver.patients WHERE is_current AND is_quarantined GROUP BY 1"); got != "hos-b,15,15" {
		t.Errorf("quarantined patients (datasource, rows, 'NULL' names with the reason): %q, want hos-b,15,15", got)
	}
	if got := q("SELECT count(DISTINCT datasource) FROM silver.patients WHERE first_name IS NOT NULL AND last_name IS NOT NULL AND dob IS NOT NULL AND modified_date IS NOT NULL"); got != "2" {
		t.Errorf("both hospitals' patients must fill the same CDM columns: %s datasources do", got)
	}

	// Gold: one fact per clean transaction, money equal to the files' to the cent.
	if got := q("SELECT count(*) FROM gold.fact_transaction"); got != "20000" {
		t.Errorf("gold.fact_transaction: %s rows, want 20000", got)
	}
	charge, paid := new(big.Int), new(big.Int)
	for _, h := range []string{"trendytech-hospital-a", "trendytech-hospital-b"} {
		hdr, rows := readCSV(t, filepath.Join(seed, "emr", h, "transactions.csv"))
		for _, r := range rows {
			charge.Add(charge, cents(t, r[indexOf(hdr, "Amount")]))
			paid.Add(paid, cents(t, r[indexOf(hdr, "PaidAmount")]))
		}
	}
	got := q("SELECT CAST(sum(charge_amount) * 100 AS BIGINT), CAST(sum(paid_amount) * 100 AS BIGINT) FROM gold.fact_transaction")
	if want := charge.String() + "," + paid.String(); got != want {
		t.Errorf("fact_transaction charge,paid in cents: %s, the files' %s", got, want)
	}
	if got := q("SELECT count(*) FROM gold.dim_patient WHERE is_current AND patient_key <> 'unknown'"); got != "9985" {
		t.Errorf("gold.dim_patient: %s clean current patients, want 9985", got)
	}
	// CPT: every code of the file is a current silver row and a dim_cpt_code member, with its
	// description; facts whose code the file has point at it.
	codes := map[string]string{}
	cptHdr, _ := readCSV(t, filepath.Join(seed, "cptcodes", "cptcodes.csv"))
	for _, r := range cpt {
		codes[strings.TrimSpace(r[indexOf(cptHdr, "CPT Codes")])] = strings.TrimSpace(r[indexOf(cptHdr, "Procedure Code Descriptions")])
	}
	if got := q("SELECT count(*) FROM silver.cpt_codes WHERE is_current AND NOT is_quarantined"); got != strconv.Itoa(len(codes)) {
		t.Errorf("silver.cpt_codes: %s current clean codes, the file has %d", got, len(codes))
	}
	for code, desc := range codes {
		if got := q("SELECT count(*) FROM gold.dim_cpt_code WHERE cpt_code = '" + code + "' AND description = '" + strings.ReplaceAll(desc, "'", "''") + "'"); got != "1" {
			t.Errorf("dim_cpt_code %s: %s members with the file's description %q", code, got, desc)
		}
		break
	}
	if got := q("SELECT count(*) FROM gold.fact_transaction f JOIN gold.dim_cpt_code c ON c.cpt_sk = f.cpt_sk WHERE f.cpt_sk <> '-1' AND c.cpt_code <> f.cpt_code"); got != "0" {
		t.Errorf("%s facts point at another CPT code's member", got)
	}
	if got := q("SELECT count(*) FROM gold.fact_transaction f WHERE f.cpt_sk = '-1' AND f.cpt_code IN (SELECT cpt_code FROM gold.dim_cpt_code)"); got != "0" {
		t.Errorf("%s facts have a code of the file but the unknown member", got)
	}
}

func indexOf(xs []string, x string) int {
	for i, y := range xs {
		if strings.TrimPrefix(y, "\ufeff") == x {
			return i
		}
	}
	return -1
}

// seedProject sets up the seed project in dir as a user coming from it would: its CSV files
// into EMR databases (emr load, driven by its mapping file), a config imported from its
// load_config.csv with every table active, its claims and CPT files dropped in landing. It
// returns the config's path.
func seedProject(t *testing.T, dir string) string {
	t.Helper()
	seed := filepath.Join(testenv.SharedDir(t), "seed-data")
	if code, _, errs := runCLI(t, "emr", "load", "--mapping", filepath.Join(seed, "Lookup_file_table_mapping.json"), "--root", seed, "--out", filepath.Join(dir, "emr")); code != exitOK {
		t.Fatalf("emr load: %s", errs)
	}
	cfg := filepath.Join(dir, "rcmlake.yaml")
	if code, _, errs := runCLI(t, "config", "import-seed", filepath.Join(seed, "load_config.csv"), "--driver", "sqlite",
		"--dsn-template", "emr/{database}.sqlite", "-o", cfg); code != exitOK {
		t.Fatalf("import-seed: %s", errs)
	}
	data, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, []byte(strings.ReplaceAll(string(data), "active: false", "active: true")), 0o644)
	for _, sub := range []string{"claims", "cptcodes"} {
		copyTree(t, filepath.Join(seed, sub), filepath.Join(dir, "landing", sub))
	}
	return cfg
}
