package silver

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/rcmlake/rcmlake/config"
	"github.com/rcmlake/rcmlake/engine/duckdb"
	"github.com/rcmlake/rcmlake/models"
)

func f(v float64) *float64 { return &v }

func TestRulesOnDuckDB(t *testing.T) {
	e, err := duckdb.Open(duckdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx := context.Background()
	if err := e.Exec(ctx, `CREATE TABLE p AS SELECT *, TIMESTAMP '2024-02-01 00:00:00' AS _load_time FROM (VALUES
		('p1', 'Ann', 'F', 30, 'D1', 'ok@x.org'),
		('p2', 'NULL', 'M', 40, 'D1', 'bad'),
		('p3', NULL, 'X', -5, 'D9', NULL),
		('p3', 'Cy', NULL, 200, NULL, 'c@x.org'),
		(NULL, ' NULL ', 'F', 50, 'D2', 'd@x.org')
	) t(id, first_name, gender, age, dept, email);
	CREATE TABLE d AS SELECT * FROM (VALUES ('D1'), ('D2')) t(dept_id)`); err != nil {
		t.Fatal(err)
	}
	rules := []config.Rule{
		{Name: "id_present", Type: "not_null", Columns: []string{"id"}},
		{Name: "name_present", Type: "not_null", Columns: []string{"first_name"}, Values: []string{"NULL"}},
		{Name: "id_unique", Type: "unique", Columns: []string{"id"}},
		{Name: "gender_known", Type: "accepted_values", Columns: []string{"gender"}, Values: []string{"F", "M"}},
		{Name: "email_shape", Type: "regex", Columns: []string{"email"}, Pattern: "^[^@]+@[^@]+$"},
		{Name: "age_range", Type: "range", Columns: []string{"age"}, Min: f(0), Max: f(120)},
		{Name: "dept_exists", Type: "relationships", Columns: []string{"dept"}, To: "departments.dept_id"},
		{Name: "adult", Type: "expression", Expr: "age >= 18"},
	}
	var compiled []RuleSQL
	refs := func(entity string) (string, error) {
		if entity != "departments" {
			return "", fmt.Errorf("unknown entity %s", entity)
		}
		return "d", nil
	}
	for _, r := range rules {
		c, err := CompileRule(r, refs, models.DuckDB{})
		if err != nil {
			t.Fatal(err)
		}
		compiled = append(compiled, c)
	}
	res, err := e.Query(ctx, "SELECT coalesce(id, '?') || '/' || coalesce(first_name, '?'), "+ReasonsExpr(compiled)+" FROM p "+RowAlias)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, row := range res.Rows {
		got[row[0].(string)] = row[1].(string)
	}
	want := map[string]string{
		"p1/Ann":   "",
		"p2/NULL":  "name_present,email_shape",
		"p3/?":     "name_present,id_unique,gender_known,age_range,dept_exists,adult",
		"p3/Cy":    "id_unique,age_range",
		"?/ NULL ": "id_present,name_present",
	}
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if got[k] != want[k] {
			t.Errorf("row %s: reasons %q, want %q", k, got[k], want[k])
		}
	}
	if _, err := CompileRule(config.Rule{Name: "x", Type: "not_null", Columns: []string{"a; DROP TABLE p"}}, refs, models.DuckDB{}); err == nil || !strings.Contains(err.Error(), "simple name") {
		t.Errorf("unsafe column accepted: %v", err)
	}
}
