package models

import (
	"context"
	"strings"
	"testing"

	"github.com/rcmlake/rcmlake/engine/duckdb"
)

// The canonical timestamp text keeps all six fraction digits and no zone, whatever the
// input's type (the Spark form is checked against a real Spark server by the engine
// acceptance test in cmd/rcmlake).
func TestDuckDBTimestampText(t *testing.T) {
	e, err := duckdb.Open(duckdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	d := DuckDB{}
	r, err := e.Query(context.Background(), "SELECT "+strings.Join([]string{
		d.TimestampText("TIMESTAMPTZ '2024-03-01 13:14:15.5+00'"),
		d.TimestampText("TIMESTAMP '2024-03-01 00:00:00'"),
		d.TimestampText("DATE '1900-01-01'"),
	}, ", "))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"2024-03-01 13:14:15.500000", "2024-03-01 00:00:00.000000", "1900-01-01 00:00:00.000000"}
	for i, w := range want {
		if r.Rows[0][i] != w {
			t.Errorf("%d: %q, want %q", i, r.Rows[0][i], w)
		}
	}
	if DialectFor("spark") != (Spark{}) || DialectFor("duckdb") != (DuckDB{}) {
		t.Error("DialectFor picks the wrong dialect")
	}
}

// Quoting and regex round-trip through DuckDB; Spark's forms run against a real Spark server
// in cmd/rcmlake's engine acceptance test (silver's rules and delete markers use them).
func TestDuckDBQuotingAndRegex(t *testing.T) {
	e, err := duckdb.Open(duckdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	d := DuckDB{}
	odd := `it's a \back'slash`
	r, err := e.Query(context.Background(), "SELECT "+d.Literal(odd)+" AS "+d.Ident(`we"ird`)+", "+
		d.RegexMatch("'HOSP1-000983'", "'^HOSP[0-9]-'")+", "+d.RegexMatch("'x'", "'^y'"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Rows[0][0] != odd || r.Columns[0] != `we"ird` {
		t.Errorf("literal %q as %q, want %q as %q", r.Rows[0][0], r.Columns[0], odd, `we"ird`)
	}
	if r.Rows[0][1] != true || r.Rows[0][2] != false {
		t.Errorf("regex matches: %v %v, want true false", r.Rows[0][1], r.Rows[0][2])
	}
	if got, want := (Spark{}).Literal(odd), `'it\'s a \\back\'slash'`; got != want {
		t.Errorf("Spark literal %s, want %s", got, want)
	}
}
