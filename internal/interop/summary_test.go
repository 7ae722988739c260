package interop

import (
	"strings"
	"testing"
)

func ptr(s string) *string { return &s }

// TestSummaryQueryAndDiff: the rcmlake side's query asks each column for the statistics of its
// kind, Parse maps the answers back, and Diff reports every kind of difference an engine could
// show (and none for equal summaries).
func TestSummaryQueryAndDiff(t *testing.T) {
	cols := []Column{{Name: "id", Type: "long"}, {Name: `we"ird`, Type: "string"}, {Name: "amount", Type: "decimal(18,2)"},
		{Name: "day", Type: "date"}, {Name: "at", Type: "timestamp"}, {Name: "ok", Type: "boolean"}, {Name: "f", Type: "double"}}
	q := NewSummaryQuery("silver.x@v3", cols)
	for _, want := range []string{`count(DISTINCT "id")`, `sum(length("we""ird"))`, `sum("amount")`, `min("day")`,
		`epoch_us(max("at"))`, `count_if("ok")`, `count(*) - count("f")`, "FROM silver.x@v3"} {
		if !strings.Contains(q.SQL, want) {
			t.Errorf("query lacks %s:\n%s", want, q.SQL)
		}
	}
	if strings.Contains(q.SQL, `sum("f")`) {
		t.Error("a double is summed: float sums differ by summation order between engines")
	}
	// Answers s0..sN in the order the query asks them.
	answers := []string{"4", "0", "10", "4", "1", "3", "17", "2", "-1.50", "0", "2024-01-01", "2024-12-31", "0", "-1", "5", "0", "2", "1"}
	row := map[string]*string{}
	for i, a := range answers {
		row["s"+itoa(i)] = ptr(a)
	}
	row["s2"] = nil // SQL NULL, as the sum of an all-NULL column is
	s, err := q.Parse(row, 3)
	if err != nil {
		t.Fatal(err)
	}
	if s.Rows != 4 || s.Version != 3 || s.Col("id").Sum != nil || *s.Col("id").Distinct != "4" || s.Col(`we"ird`).Nulls != 1 ||
		*s.Col("amount").Sum != "-1.50" || *s.Col("at").Min != "-1" || *s.Col("ok").Trues != "2" || s.Col("f").Nulls != 1 {
		t.Errorf("parsed %+v", s)
	}
	if d := Diff(s, s); len(d) != 0 {
		t.Errorf("a summary differs from itself: %v", d)
	}
	other := *s
	other.Columns = append([]Column(nil), s.Columns...)
	other.Rows = 5
	other.Columns[2].Sum = ptr("-1.49")
	other.Columns[3].Type = "timestamp_ntz"
	other.Columns[1].Nulls = 0
	other.Columns = other.Columns[:6] // f is missing
	d := strings.Join(Diff(s, &other), "\n")
	for _, want := range []string{"rows 5, want 4", "amount: sum -1.49, want -1.50", "day: type timestamp_ntz, want date", `we"ird: 0 NULLs, want 1`, "column f is missing"} {
		if !strings.Contains(d, want) {
			t.Errorf("Diff does not say %q:\n%s", want, d)
		}
	}
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}
