// Package record describes the flat, table-shaped view that the reference-data sources (NPI, ICD)
// give of their records, so that bronze can write any of them as a table with stable column names
// and types without knowing the source.
package record

import "time"

// Column types, named as DuckDB names them. Values() returns, per type:
// VARCHAR string, BOOLEAN bool, BIGINT int64, DATE and TIMESTAMP time.Time (UTC); nil is NULL.
const (
	Varchar   = "VARCHAR"
	Boolean   = "BOOLEAN"
	Bigint    = "BIGINT"
	Date      = "DATE"
	Timestamp = "TIMESTAMP"
)

// Column is one column of a record's flat view.
type Column struct {
	Name string
	Type string
}

// Flat is what every reference record offers: the column list is the same for every value of
// the type, and Values lines up with it.
type Flat interface {
	Columns() []Column
	Values() []any
}

// DateOrNil returns nil for the zero time, so that an unknown date is NULL, not 0001-01-01.
func DateOrNil(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC()
}

// StringOrNil returns nil for "", for columns where empty means unknown.
func StringOrNil(s string) any {
	if s == "" {
		return nil
	}
	return s
}
