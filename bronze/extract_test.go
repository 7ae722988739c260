package bronze

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"
	"testing"

	_ "modernc.org/sqlite"
)

// sqliteDialect is the minimal dialect for these tests.
type sqliteDialect struct{}

func (sqliteDialect) QuoteIdent(n string) string {
	parts := strings.Split(n, ".")
	for i, p := range parts {
		parts[i] = `"` + strings.ReplaceAll(p, `"`, `""`) + `"`
	}
	return strings.Join(parts, ".")
}
func (sqliteDialect) Placeholder(int) string          { return "?" }
func (sqliteDialect) WatermarkExpr(col string) string { return "CAST(" + col + " AS TEXT)" }

func load(t *testing.T, db *sql.DB, prev Watermark) ([]string, ExtractStats, Watermark) {
	t.Helper()
	e := &Extractor{DB: db, Dialect: sqliteDialect{}, Table: "patients", Watermark: "ModifiedDate", Prev: prev}
	var ids []string
	st, next, err := e.Run(context.Background(), func(cols []*sql.ColumnType, vals []any) error {
		if len(cols) != 3 || cols[0].Name() != "PatientID" {
			names := []string{}
			for _, c := range cols {
				names = append(names, c.Name())
			}
			return fmt.Errorf("columns %v leak the mark column or lose one", names)
		}
		ids = append(ids, fmt.Sprint(vals[0]))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(ids)
	// The stored form round-trips.
	data, _ := MarshalWatermark(next)
	back, err := UnmarshalWatermark(data)
	if err != nil {
		t.Fatal(err)
	}
	return ids, st, back
}

func TestIncrementalTiesAndNulls(t *testing.T) {
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	exec := func(q string) {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(q, err)
		}
	}
	exec(`CREATE TABLE patients (PatientID TEXT, FirstName TEXT, ModifiedDate DATE)`)
	exec(`INSERT INTO patients VALUES ('p1','Ann','2024-01-01'), ('p2','Bob','2024-01-02'),
		('p3','Cy','2024-01-02'), ('p4','Di',NULL)`)

	ids, st, mark := load(t, db, Watermark{})
	if strings.Join(ids, ",") != "p1,p2,p3,p4" || st.Read != 4 || st.Kept != 4 {
		t.Fatalf("first load kept %v (%+v)", ids, st)
	}
	if mark.Value != "2024-01-02" || len(mark.OnMark) != 2 || len(mark.NullMark) != 1 {
		t.Fatalf("first mark %+v", mark)
	}

	// A late row that ties the mark, a row past it, a changed NULL-watermark row, and an
	// unchanged row on the mark.
	exec(`INSERT INTO patients VALUES ('p5','Eve','2024-01-02'), ('p6','Fay','2024-01-03')`)
	exec(`UPDATE patients SET FirstName = NULL WHERE PatientID = 'p4'`)
	ids, st, mark = load(t, db, mark)
	if strings.Join(ids, ",") != "p4,p5,p6" {
		t.Fatalf("second load kept %v, want p4,p5,p6 (%+v)", ids, st)
	}
	if st.Read != 5 || st.Skipped != 2 {
		t.Errorf("second load read %d skipped %d, want 5 read (p2,p3,p4,p5,p6) and 2 skipped", st.Read, st.Skipped)
	}
	if mark.Value != "2024-01-03" || len(mark.OnMark) != 1 {
		t.Fatalf("second mark %+v", mark)
	}

	// Nothing changed: nothing loads, the mark stays.
	ids, _, again := load(t, db, mark)
	if len(ids) != 0 || again.Value != mark.Value {
		t.Fatalf("idle load kept %v, mark %+v", ids, again)
	}

	// A row on the mark changes content without moving the watermark: it loads once.
	exec(`UPDATE patients SET FirstName = 'Fay Q' WHERE PatientID = 'p6'`)
	ids, _, mark = load(t, db, again)
	if strings.Join(ids, ",") != "p6" {
		t.Fatalf("same-mark change kept %v", ids)
	}
	if ids, _, _ = load(t, db, mark); len(ids) != 0 {
		t.Fatalf("reloaded %v", ids)
	}
}

func TestRowHashIsNullSafe(t *testing.T) {
	cases := [][]any{{nil, "a"}, {"", "a"}, {"NULL", "a"}, {"a", nil}, {"a", ""}, {"ab", ""}, {"a", "b"}}
	seen := map[string]int{}
	for i, c := range cases {
		h := RowHash(c)
		if j, ok := seen[h]; ok {
			t.Errorf("rows %v and %v hash alike", cases[j], c)
		}
		seen[h] = i
	}
	if RowHash([]any{[]byte("x"), int64(1)}) != RowHash([]any{[]byte("x"), int64(1)}) {
		t.Error("hash not deterministic")
	}
}
