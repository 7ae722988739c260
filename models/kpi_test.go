package models

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/rcmlake/rcmlake/engine/duckdb"
)

// handWorld is a hospital small enough to compute every KPI by hand (see the comments in
// TestKPIsOnHandBuiltWorld). The tables have silver's shape.
const handWorld = `
CREATE SCHEMA silver; CREATE SCHEMA gold;
CREATE TABLE silver.patients AS SELECT 'p1-hos-a' patient_key, 'p1' patient_id, 'hos-a' datasource, 'Ann' first_name,
  'Lee' last_name, NULL middle_name, '111-22-3333' ssn, NULL phone_number, 'F' gender, DATE '1980-01-01' dob, NULL address,
  DATE '2024-01-05' valid_from, CAST(NULL AS DATE) valid_to, TRUE is_current, FALSE is_quarantined, FALSE is_deleted;
CREATE TABLE silver.providers AS SELECT 'H1-PROV1-hos-a' provider_key, 'H1-PROV1' provider_id, 'hos-a' datasource,
  'Bo' first_name, 'Ng' last_name, 'Cardiology' specialization, 'D1-hos-a' department_key, '1234567893' npi,
  DATE '2023-01-01' valid_from, CAST(NULL AS DATE) valid_to, TRUE is_current, FALSE is_quarantined, FALSE is_deleted;
CREATE TABLE silver.departments AS SELECT 'D1-hos-a' department_key, 'D1' department_id, 'hos-a' datasource,
  'Cardiology' AS name, TRUE is_current, FALSE is_quarantined, FALSE is_deleted;
CREATE TABLE silver.cpt_codes AS SELECT '99213' cpt_code, 'ref' datasource, 'E/M' category, 'Office visit' description,
  'No Change' code_status, TRUE is_current, FALSE is_quarantined, FALSE is_deleted;
CREATE TABLE silver.icd_codes AS SELECT 'I10' code, 'I10' code_nodot, 'ref' datasource, 'ICD-10-CM' AS code_system,
  'Essential (primary) hypertension' title, 'Essential hypertension' short_title, TRUE billable,
  TRUE is_current, FALSE is_quarantined, FALSE is_deleted;
CREATE TABLE silver.transactions AS SELECT * REPLACE (CAST(amount AS DECIMAL(18,2)) AS amount, CAST(paid_amount AS DECIMAL(18,2)) AS paid_amount)
FROM (VALUES
  ('t1-hos-a', 't1', DATE '2024-01-10', DATE '2024-02-15', 100, 80,  DATE '2024-01-12', 'c1-hos-a'),
  ('t2-hos-a', 't2', DATE '2024-01-20', NULL,              200, 0,   DATE '2024-01-21', 'c2-hos-a'),
  ('t3-hos-a', 't3', DATE '2024-02-05', DATE '2024-03-10', 300, 300, DATE '2024-02-05', 'c3-hos-a'),
  ('t4-hos-a', 't4', DATE '2023-10-15', NULL,              50,  0,   DATE '2023-10-15', NULL)
) v(transaction_key, transaction_id, service_date, paid_date, amount, paid_amount, insert_date, claim_key),
LATERAL (SELECT 'hos-a' datasource, 'p1-hos-a' patient_key, 'H1-PROV1-hos-a' provider_key, 'D1-hos-a' department_key,
  'e1-hos-a' encounter_key, '99213' procedure_code, 'I10' icd_code, 'Medicare' payor_id, 'Insurance' amount_type,
  'Routine' visit_type, 'Medicare' line_of_business, service_date visit_date,
  TRUE is_current, FALSE is_quarantined, FALSE is_deleted);
CREATE TABLE silver.claims AS SELECT * REPLACE (CAST(claim_amount AS DECIMAL(18,2)) AS claim_amount,
  CAST(allowed_amount AS DECIMAL(18,2)) AS allowed_amount, CAST(paid_amount AS DECIMAL(18,2)) AS paid_amount)
FROM (VALUES
  ('c1-hos-a', 'c1', 't1-hos-a', DATE '2024-01-10', DATE '2024-01-15', 100, 90,  0,   'Denied',  DATE '2024-01-20', 1, FALSE),
  ('c1-hos-a', 'c1', 't1-hos-a', DATE '2024-01-10', DATE '2024-01-15', 100, 90,  80,  'Paid',    DATE '2024-02-15', 2, TRUE),
  ('c2-hos-a', 'c2', 't2-hos-a', DATE '2024-01-20', DATE '2024-01-25', 200, NULL, 0,  'Pending', DATE '2024-01-25', 3, TRUE),
  ('c3-hos-a', 'c3', 't3-hos-a', DATE '2024-02-05', DATE '2024-02-10', 300, 300, 300, 'Paid',    DATE '2024-03-10', 4, TRUE)
) v(claim_key, claim_id, transaction_key, service_date, claim_date, claim_amount, allowed_amount, paid_amount, claim_status, valid_from, _ingest_seq, is_current),
LATERAL (SELECT 'hos-a' datasource, 'Medicare' payer_name, 'Government' payer_type, NULL paid_date,
  0 deductible, 0 coinsurance, 0 copay, NULL denial_reason, FALSE is_quarantined, FALSE is_deleted);
`

func TestKPIsOnHandBuiltWorld(t *testing.T) {
	e, err := duckdb.Open(duckdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx := context.Background()
	if err := e.Exec(ctx, handWorld); err != nil {
		t.Fatal(err)
	}
	src := Embedded()
	ref := func(n string) (string, error) { return n, nil }
	for _, m := range []string{"dim_patient", "dim_provider", "dim_department", "dim_payer", "dim_cpt_code", "dim_icd_code", "fact_transaction", "fact_claim", "dim_date", "fact_ar_snapshot"} {
		q, err := src.Render("gold", m, Funcs{Ref: ref})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Exec(ctx, "CREATE TABLE gold."+m+" AS "+q); err != nil {
			t.Fatalf("gold.%s: %v\n%s", m, err, q)
		}
	}
	q, err := src.Render("kpi", "kpi_monthly", Funcs{Ref: ref})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Exec(ctx, "CREATE TABLE gold.kpi_monthly AS "+q); err != nil {
		t.Fatalf("kpi_monthly: %v", err)
	}

	// Every transaction reached the fact, none through an unknown member.
	res, err := e.Query(ctx, "SELECT count(*), sum(CASE WHEN has_unknown_member THEN 1 ELSE 0 END) FROM gold.fact_transaction")
	if err != nil || fmt.Sprint(res.Rows[0]) != "[4 0]" {
		t.Fatalf("fact_transaction: %v %v", res, err)
	}

	kpi := func(month, col string) float64 {
		t.Helper()
		r, err := e.Query(ctx, fmt.Sprintf("SELECT CAST(%s AS DOUBLE) FROM gold.kpi_monthly WHERE grain = 'hospital' AND month_start = DATE '%s'", col, month))
		if err != nil || len(r.Rows) != 1 || r.Rows[0][0] == nil {
			t.Fatalf("%s %s: %v %v", month, col, r, err)
		}
		return r.Rows[0][0].(float64)
	}
	near := func(month, col string, want float64) {
		t.Helper()
		if got := kpi(month, col); math.Abs(got-want) > 1e-6 {
			t.Errorf("%s %s = %v, want %v", month, col, got, want)
		}
	}
	// January 31: open t1 (100, 21 days), t2 (200, 11 days), t4 (50, 108 days).
	near("2024-01-01", "ar_total", 350)
	near("2024-01-01", "ar_0_30", 300)
	near("2024-01-01", "ar_91_120", 50)
	near("2024-01-01", "ar_over_90_pct", 50.0/350)
	// Charges Nov-Jan = 300 over 92 days.
	near("2024-01-01", "days_in_ar", 350/(300.0/92))
	// February 29: t2 (200, 40 days), t3 (300, 24 days), t4 (50, 137 days); t1 paid on the 15th.
	near("2024-02-01", "ar_total", 550)
	near("2024-02-01", "ar_31_60", 200)
	near("2024-02-01", "ar_over_120", 50)
	near("2024-02-01", "days_in_ar", 550/(600.0/91))
	near("2024-02-01", "payments", 80)
	// The daily A/R snapshot, as of the same days: January 31 and February 29, then the day
	// before and the day t1 was paid. February 14: t1 35 days (31-60), t2 25 and t3 9 days
	// (0-30), t4 122 days (120+); on the 15th t1 is paid and leaves.
	snap := func(day string) string {
		t.Helper()
		r, err := e.Query(ctx, "SELECT aging_bucket || '=' || CAST(ar_amount AS VARCHAR) || '/' || CAST(open_charges AS VARCHAR) FROM gold.fact_ar_snapshot WHERE snapshot_date = DATE '"+day+"' ORDER BY bucket_order")
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, row := range r.Rows {
			out = append(out, fmt.Sprint(row[0]))
		}
		return strings.Join(out, " ")
	}
	for day, want := range map[string]string{
		"2024-01-31": "0-30=300.00/2 91-120=50.00/1",
		"2024-02-29": "0-30=300.00/1 31-60=200.00/1 120+=50.00/1",
		"2024-02-14": "0-30=500.00/2 31-60=100.00/1 120+=50.00/1",
		"2024-02-15": "0-30=500.00/2 120+=50.00/1",
		"2023-10-14": "",
	} {
		if got := snap(day); got != want {
			t.Errorf("fact_ar_snapshot on %s: %q, want %q", day, got, want)
		}
	}
	// Claims: January c1 (denied first, paid later) and c2 (pending); February c3 (clean).
	near("2024-01-01", "initial_denial_rate", 0.5)
	near("2024-01-01", "initial_denial_rate_amount", 100.0/300)
	near("2024-01-01", "clean_claim_rate", 0)
	near("2024-01-01", "denials_overturned", 1)
	near("2024-01-01", "net_collection_rate", 80.0/90)
	near("2024-01-01", "gross_collection_rate", 0.8)
	near("2024-01-01", "claim_lag_days", 5)
	near("2024-01-01", "charge_lag_days", 1.5)
	near("2024-02-01", "clean_claim_rate", 1)
	near("2024-02-01", "net_collection_rate", 1)

	// The grains all add up: the network equals the one hospital, and the payer, department,
	// provider and CPT rows each sum to it.
	r, err := e.Query(ctx, `SELECT grain, sum(gross_charges), sum(ar_total), sum(claims_submitted) FROM gold.kpi_monthly GROUP BY grain ORDER BY grain`)
	if err != nil {
		t.Fatal(err)
	}
	var first string
	for _, row := range r.Rows {
		s := fmt.Sprint(row[1:])
		if first == "" {
			first = s
		}
		if s != first {
			t.Errorf("grain %v sums to %s, others to %s", row[0], s, first)
		}
	}
	if !strings.Contains(first, "650") {
		t.Errorf("total charges %s, want 650", first)
	}
}
