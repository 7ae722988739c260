package gold

import (
	"context"
	"fmt"
	"testing"

	"github.com/rcmlake/rcmlake/delta"
	"github.com/rcmlake/rcmlake/engine/duckdb"
	"github.com/rcmlake/rcmlake/silver"
)

// TestVersionChanges: the first day from which a fact's as-of lookup of a dimension with
// history can change, for each way a key's versions change.
func TestVersionChanges(t *testing.T) {
	e, err := duckdb.Open(duckdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	// Changed rows (key, valid_from, valid_to, name, _side) of one dimension between two builds.
	changed := `(SELECT * FROM (VALUES
	  ('new',     DATE '2024-03-01', NULL,              'Ann', '+'),  -- a new version: from its start
	  ('closed',  DATE '2024-01-01', NULL,              'Bob', '-'),  -- the current version closed
	  ('closed',  DATE '2024-01-01', DATE '2024-05-01', 'Bob', '+'),  --   by a delete: from its end
	  ('later',   DATE '2024-01-01', DATE '2024-02-01', 'Cy',  '-'),  -- an end moved later
	  ('later',   DATE '2024-01-01', DATE '2024-04-01', 'Cy',  '+'),  --   from the earlier end
	  ('renamed', DATE '2024-01-01', NULL,              'Di',  '-'),  -- changed in place:
	  ('renamed', DATE '2024-01-01', NULL,              'Dee', '+'),  --   from its start
	  ('gone',    DATE '2024-02-01', DATE '2024-06-01', 'Ed',  '-'),  -- removed: from its start
	  ('gone',    DATE '2024-07-01', NULL,              'Ed',  '+')   --   (or the new one's, if earlier)
	) v(patient_key, valid_from, valid_to, first_name, _side))`
	schema := &delta.StructType{Fields: []delta.StructField{{Name: "patient_key"}, {Name: "valid_from"}, {Name: "valid_to"}, {Name: "first_name"}}}
	r, err := e.Query(context.Background(), "SELECT _rcmlake_k, CAST(CAST(_rcmlake_from AS DATE) AS VARCHAR) FROM ("+
		versionChanges(changed, "patient_key", quotedFields(schema))+") ORDER BY 1")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"new": "2024-03-01", "closed": "2024-05-01", "later": "2024-02-01", "renamed": "2024-01-01", "gone": "2024-02-01"}
	if len(r.Rows) != len(want) {
		t.Fatalf("%d keys, want %d: %v", len(r.Rows), len(want), r.Rows)
	}
	for _, row := range r.Rows {
		if k := fmt.Sprint(row[0]); fmt.Sprint(row[1]) != want[k] {
			t.Errorf("%s: from %v, want %s", k, row[1], want[k])
		}
	}
}

// A silver table is diffed on its row identity and the columns the build reads; anything
// lacking those columns is diffed whole.
func TestSilverDiffColumnsNarrowToRowIdentity(t *testing.T) {
	var fields []delta.StructField
	for _, c := range append([]string{"claim_key", "payer_name", "claim_amount", silver.ColReasons}, silver.RowIdentity...) {
		fields = append(fields, delta.StructField{Name: c})
	}
	schema := &delta.StructType{Fields: fields}
	got := silverDiffColumns(schema, []string{"claim_key"})
	if len(got) != len(silver.RowIdentity)+1 || got[0] != duckdb.Ident("claim_key") {
		t.Errorf("columns = %v, want claim_key and the row identity", got)
	}
	for _, c := range got {
		if c == duckdb.Ident("payer_name") || c == duckdb.Ident("claim_amount") {
			t.Errorf("hashed data column %s is diffed: %v", c, got)
		}
	}
	if got := silverDiffColumns(schema, []string{"no_such_column"}); got != nil {
		t.Errorf("a build reading a column the table lacks must diff whole rows, got %v", got)
	}
	old := &delta.StructType{Fields: fields[:4]}
	if got := silverDiffColumns(old, []string{"claim_key"}); got != nil {
		t.Errorf("a table without the row identity must diff whole rows, got %v", got)
	}
}
