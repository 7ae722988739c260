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
