package gold

import (
	"context"
	"strings"
	"testing"

	"github.com/rcmlake/rcmlake/engine/duckdb"
	"github.com/rcmlake/rcmlake/models"
)

// TestFactTransactionJoinsByHash renders the fact_transaction model over small tables and
// checks that every dimension join is a hash join (a nested loop over transactions x patient
// versions never finished at 1M transactions) and that each fact finds the dimension version
// current at its service date, the first version reaching back, an open version reaching
// forward, and a missing member mapping to the unknown one.
func TestFactTransactionJoinsByHash(t *testing.T) {
	ctx := context.Background()
	e, err := duckdb.Open(duckdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	setup := `
CREATE TABLE tx AS SELECT * FROM (VALUES
  ('t1', 'p1', 'v1', DATE '2024-01-10'),  -- patient p1's first version (reaches back to 1900)
  ('t2', 'p1', 'v1', DATE '2024-03-05'),  -- p1's second, open version
  ('t3', 'p2', 'v1', NULL),               -- no service date: the version valid at 1900-01-01
  ('t4', 'p9', 'v9', DATE '2024-02-01')   -- unknown patient and provider
) x(transaction_key, patient_key, provider_key, service_date);
CREATE TABLE silver_transactions AS SELECT transaction_key, transaction_key AS transaction_id, 'hos-a' AS datasource,
  patient_key, provider_key, 'd1' AS department_key, 'e' AS encounter_key, 'c' AS claim_key, '99213' AS procedure_code,
  'I10' AS icd_code, 'Medicare' AS payor_id, 'x' AS amount_type, 'x' AS visit_type, 'x' AS line_of_business,
  service_date AS visit_date, service_date, CAST(NULL AS DATE) AS paid_date, CAST(1 AS DECIMAL(18,2)) AS amount,
  CAST(0 AS DECIMAL(18,2)) AS paid_amount, service_date AS insert_date, TRUE AS is_current, FALSE AS is_quarantined,
  FALSE AS is_deleted FROM tx;
CREATE TABLE dim_patient AS SELECT * FROM (VALUES
  ('P1a', 'p1', TIMESTAMPTZ '1900-01-01 00:00:00+00', TIMESTAMPTZ '2024-02-01 00:00:00+00'),
  ('P1b', 'p1', TIMESTAMPTZ '2024-02-01 00:00:00+00', CAST(NULL AS TIMESTAMPTZ)),
  ('P2', 'p2', TIMESTAMPTZ '1900-01-01 00:00:00+00', CAST(NULL AS TIMESTAMPTZ))
) x(patient_sk, patient_key, valid_from, valid_to);
CREATE TABLE dim_provider AS SELECT * FROM (VALUES
  ('V1', 'v1', TIMESTAMPTZ '1900-01-01 00:00:00+00', CAST(NULL AS TIMESTAMPTZ))
) x(provider_sk, provider_key, valid_from, valid_to);
CREATE TABLE dim_department AS SELECT 'd1' AS department_key;
CREATE TABLE dim_cpt_code AS SELECT 'C' AS cpt_sk, '99213' AS cpt_code;
CREATE TABLE dim_icd_code AS SELECT 'I' AS icd_sk, 'I10' AS code_nodot;`
	if err := e.Exec(ctx, setup); err != nil {
		t.Fatal(err)
	}
	sql, err := models.Embedded().Render("gold", "fact_transaction", models.Funcs{Ref: func(name string) (string, error) {
		return strings.NewReplacer("silver.", "silver_", "gold.", "").Replace(name), nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	plan, err := e.Query(ctx, "EXPLAIN "+sql)
	if err != nil {
		t.Fatal(err)
	}
	text := ""
	for _, r := range plan.Rows {
		for _, v := range r {
			if s, ok := v.(string); ok {
				text += s
			}
		}
	}
	if n := strings.Count(text, "HASH_JOIN"); n != 5 || strings.Contains(text, "NL_JOIN") || strings.Contains(text, "NESTED_LOOP") {
		t.Errorf("want 5 hash joins and no nested loop, got %d hash joins in:\n%s", n, text)
	}
	res, err := e.Query(ctx, "SELECT transaction_key, patient_sk, provider_sk, has_unknown_member FROM ("+sql+") ORDER BY 1")
	if err != nil {
		t.Fatal(err)
	}
	want := [][]any{{"t1", "P1a", "V1", false}, {"t2", "P1b", "V1", false}, {"t3", "P2", "V1", false}, {"t4", "-1", "-1", true}}
	if len(res.Rows) != len(want) {
		t.Fatalf("%d rows, want %d", len(res.Rows), len(want))
	}
	for i, w := range want {
		for j := range w {
			if res.Rows[i][j] != w[j] {
				t.Errorf("row %d: %v, want %v", i, res.Rows[i], w)
				break
			}
		}
	}
}
