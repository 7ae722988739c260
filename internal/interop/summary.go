package interop

import (
	"fmt"
	"sort"
	"strings"
)

// Protocol is a table's protocol as an engine sees it; Features joins reader and writer
// features.
type Protocol struct {
	MinReader int      `json:"min_reader_version"`
	MinWriter int      `json:"min_writer_version"`
	Features  []string `json:"features"`
}

// Column is one column's statistics, by its kind of type (see Kind): NULLs for every column;
// the sum of decimals and integers; distinct values of integers and strings; the characters of
// strings (a mangled non-ASCII string changes them); min and max of dates (YYYY-MM-DD) and
// timestamps (epoch microseconds, so time zones cannot hide a shift); trues of booleans. All
// but Nulls are text, so that decimals stay exact; nil is SQL NULL or not computed.
type Column struct {
	Name     string  `json:"name"`
	Type     string  `json:"type"` // the Delta type name: long, decimal(18,2), timestamp
	Nulls    int64   `json:"nulls"`
	Sum      *string `json:"sum,omitempty"`
	Distinct *string `json:"distinct,omitempty"`
	Chars    *string `json:"chars,omitempty"`
	Min      *string `json:"min,omitempty"`
	Max      *string `json:"max,omitempty"`
	Trues    *string `json:"trues,omitempty"`
}

// Summary is what an engine read: the version, the protocol (at the latest version), the
// rows and every column's statistics.
type Summary struct {
	Version  int64    `json:"version"`
	Protocol Protocol `json:"protocol"`
	Rows     int64    `json:"rows"`
	Columns  []Column `json:"columns"`
}

// Col returns the named column's statistics.
func (s *Summary) Col(name string) *Column {
	for i := range s.Columns {
		if s.Columns[i].Name == name {
			return &s.Columns[i]
		}
	}
	return nil
}

// RowSet is every row of a table, each value as text (timestamps as epoch microseconds).
type RowSet struct {
	Columns []struct {
		Name string `json:"name"`
		Type string `json:"type"`
	} `json:"columns"`
	Rows [][]*string `json:"rows"`
}

// Kind groups Delta types by the statistics they get; summary.py has the same function.
func Kind(deltaType string) string {
	switch {
	case strings.HasPrefix(deltaType, "decimal"):
		return "decimal"
	case deltaType == "byte" || deltaType == "short" || deltaType == "integer" || deltaType == "long":
		return "integer"
	case deltaType == "string" || deltaType == "date" || deltaType == "timestamp" || deltaType == "timestamp_ntz" || deltaType == "boolean":
		return deltaType
	}
	return "other"
}

// SummaryQuery computes a Summary in DuckDB's SQL, for rcmlake query.
type SummaryQuery struct {
	SQL   string
	cols  []Column
	stats []stat
}

type stat struct {
	col  int
	name string // nulls, sum, ...
}

// NewSummaryQuery builds the SELECT over from (a catalog name such as silver.claims@v3) for the
// columns (name and Delta type) of the table's schema. Every result is VARCHAR.
func NewSummaryQuery(from string, cols []Column) *SummaryQuery {
	q := &SummaryQuery{cols: cols}
	exprs := []string{"CAST(count(*) AS VARCHAR) AS s0"}
	add := func(i int, name, expr string) {
		q.stats = append(q.stats, stat{i, name})
		exprs = append(exprs, fmt.Sprintf("CAST(%s AS VARCHAR) AS s%d", expr, len(q.stats)))
	}
	for i, c := range cols {
		id := `"` + strings.ReplaceAll(c.Name, `"`, `""`) + `"`
		add(i, "nulls", "count(*) - count("+id+")")
		switch Kind(c.Type) {
		case "decimal":
			add(i, "sum", "sum("+id+")")
		case "integer":
			add(i, "sum", "sum("+id+")")
			add(i, "distinct", "count(DISTINCT "+id+")")
		case "string":
			add(i, "distinct", "count(DISTINCT "+id+")")
			add(i, "chars", "sum(length("+id+"))")
		case "date":
			add(i, "min", "min("+id+")")
			add(i, "max", "max("+id+")")
		case "timestamp", "timestamp_ntz":
			add(i, "min", "epoch_us(min("+id+"))")
			add(i, "max", "epoch_us(max("+id+"))")
		case "boolean":
			add(i, "trues", "count_if("+id+")")
		}
	}
	q.SQL = "SELECT " + strings.Join(exprs, ", ") + " FROM " + from
	return q
}

// Parse turns the query's one result row (column s0, s1, ... to text or nil) into a Summary
// of version.
func (q *SummaryQuery) Parse(row map[string]*string, version int64) (*Summary, error) {
	get := func(i int) *string { return row[fmt.Sprintf("s%d", i)] }
	s := &Summary{Version: version, Columns: append([]Column(nil), q.cols...)}
	if _, err := fmt.Sscan(deref(get(0)), &s.Rows); err != nil {
		return nil, fmt.Errorf("row count %v: %w", get(0), err)
	}
	for j, st := range q.stats {
		v := get(j + 1)
		c := &s.Columns[st.col]
		switch st.name {
		case "nulls":
			if _, err := fmt.Sscan(deref(v), &c.Nulls); err != nil {
				return nil, fmt.Errorf("nulls of %s: %w", c.Name, err)
			}
		case "sum":
			c.Sum = v
		case "distinct":
			c.Distinct = v
		case "chars":
			c.Chars = v
		case "min":
			c.Min = v
		case "max":
			c.Max = v
		case "trues":
			c.Trues = v
		}
	}
	return s, nil
}

func deref(p *string) string {
	if p == nil {
		return "<NULL>"
	}
	return *p
}

// Diff lists how got differs from want: version, rows, the set of columns, each column's type
// and statistics. Protocols are not compared (callers check them).
func Diff(want, got *Summary) []string {
	var d []string
	if want.Version != got.Version {
		d = append(d, fmt.Sprintf("version %d, want %d", got.Version, want.Version))
	}
	if want.Rows != got.Rows {
		d = append(d, fmt.Sprintf("rows %d, want %d", got.Rows, want.Rows))
	}
	names := map[string]bool{}
	for _, c := range want.Columns {
		names[c.Name] = true
	}
	for _, c := range got.Columns {
		names[c.Name] = true
	}
	var all []string
	for n := range names {
		all = append(all, n)
	}
	sort.Strings(all)
	for _, n := range all {
		w, g := want.Col(n), got.Col(n)
		switch {
		case w == nil:
			d = append(d, fmt.Sprintf("column %s is extra", n))
			continue
		case g == nil:
			d = append(d, fmt.Sprintf("column %s is missing", n))
			continue
		}
		if w.Type != g.Type {
			d = append(d, fmt.Sprintf("%s: type %s, want %s", n, g.Type, w.Type))
		}
		if w.Nulls != g.Nulls {
			d = append(d, fmt.Sprintf("%s: %d NULLs, want %d", n, g.Nulls, w.Nulls))
		}
		for _, f := range []struct {
			name string
			w, g *string
		}{{"sum", w.Sum, g.Sum}, {"distinct", w.Distinct, g.Distinct}, {"chars", w.Chars, g.Chars},
			{"min", w.Min, g.Min}, {"max", w.Max, g.Max}, {"trues", w.Trues, g.Trues}} {
			if deref(f.w) != deref(f.g) {
				d = append(d, fmt.Sprintf("%s: %s %s, want %s", n, f.name, deref(f.g), deref(f.w)))
			}
		}
	}
	return d
}
