// Package bronze lands source data in the lake as it came, in Parquet, with every earlier
// load kept.
package bronze

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// SQLDialect is what extraction needs to know of a database's SQL.
type SQLDialect interface {
	// QuoteIdent quotes a column or a (schema-qualified) table name.
	QuoteIdent(name string) string
	// Placeholder is the n-th (1-based) query parameter: ?, $1 or @p1.
	Placeholder(n int) string
	// WatermarkExpr is the expression compared with the stored mark. It must compare the way
	// the stored canonical value does (SQLite keeps dates as text, so it compares text).
	WatermarkExpr(quotedCol string) string
}

// Extractor reads one source table, whole or past a watermark.
type Extractor struct {
	DB        *sql.DB
	Dialect   SQLDialect
	Table     string    // as configured, optionally schema-qualified
	Watermark string    // column; empty for a full load
	Prev      Watermark // the last committed mark; zero for a first or full load
	// Window, when set, takes the rows whose watermark is in [From, To) instead of those past
	// Prev: a backfill of a period, which never moves the stored mark.
	Window *Window
}

// Window is a backfill period over the watermark: [From, To).
type Window struct {
	From, To time.Time
	Kind     string // how the watermark compares: "time", or "text" for ISO date strings
}

// markColumn carries the watermark expression next to the row; it never reaches bronze.
const markColumn = "__rcmlake_mark"

// ExtractStats counts what one extraction saw.
type ExtractStats struct {
	Read     int64 // rows the query returned
	Kept     int64 // rows emitted to bronze
	Skipped  int64 // rows already loaded on the mark
	NullMark int64 // kept rows whose watermark is NULL
}

// Query builds the extraction query and its arguments.
func (e *Extractor) Query() (string, []any, error) {
	from := " FROM " + e.Dialect.QuoteIdent(e.Table)
	if e.Watermark == "" {
		return "SELECT *" + from, nil, nil
	}
	// The mark is read through the same expression the predicate compares, so the stored
	// value and the comparison always agree on type and format.
	wm := e.Dialect.WatermarkExpr(e.Dialect.QuoteIdent(e.Watermark))
	q := "SELECT *, " + wm + " AS " + e.Dialect.QuoteIdent(markColumn) + from
	if w := e.Window; w != nil {
		q += fmt.Sprintf(" WHERE %s >= %s AND %s < %s", wm, e.Dialect.Placeholder(1), wm, e.Dialect.Placeholder(2))
		switch w.Kind {
		case "time":
			return q, []any{w.From, w.To}, nil
		case "text":
			return q, []any{w.From.Format("2006-01-02"), w.To.Format("2006-01-02")}, nil
		}
		return "", nil, fmt.Errorf("backfill of %s: its watermark %s holds %s values; a period needs dates or times", e.Table, e.Watermark, w.Kind)
	}
	if e.Prev.Value == "" {
		return q, nil, nil
	}
	arg, err := e.Prev.Arg()
	if err != nil {
		return "", nil, fmt.Errorf("stored watermark %q of %s: %w", e.Prev.Value, e.Table, err)
	}
	q += fmt.Sprintf(" WHERE %s >= %s OR %s IS NULL", wm, e.Dialect.Placeholder(1), wm)
	return q, []any{arg}, nil
}

// Run streams the rows to emit. emit is called with the column types once per row; the values
// slice is reused between calls. The returned mark is the one to store after the load commits.
func (e *Extractor) Run(ctx context.Context, emit func(cols []*sql.ColumnType, vals []any) error) (ExtractStats, Watermark, error) {
	var st ExtractStats
	q, args, err := e.Query()
	if err != nil {
		return st, Watermark{}, err
	}
	rows, err := e.DB.QueryContext(ctx, q, args...)
	if err != nil {
		return st, Watermark{}, fmt.Errorf("extract %s: %w", e.Table, err)
	}
	defer rows.Close()
	cols, err := rows.ColumnTypes()
	if err != nil {
		return st, Watermark{}, fmt.Errorf("extract %s: %w", e.Table, err)
	}
	all := make([]any, len(cols))
	wmIdx := -1
	if e.Watermark != "" {
		// The mark column added by Query is the last one.
		wmIdx = len(cols) - 1
		if wmIdx < 0 || !strings.EqualFold(cols[wmIdx].Name(), markColumn) {
			return st, Watermark{}, fmt.Errorf("extract %s: the driver did not return the watermark column", e.Table)
		}
		cols = cols[:wmIdx]
	}
	prev := e.Prev
	if e.Window != nil {
		prev = Watermark{} // the window's rows are all taken, whatever was loaded before
	}
	filter := NewFilter(prev)
	ptrs := make([]any, len(all))
	for i := range all {
		ptrs[i] = &all[i]
	}
	vals := all[:len(cols)]
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return st, Watermark{}, fmt.Errorf("extract %s row %d: %w", e.Table, st.Read+1, err)
		}
		st.Read++
		if wmIdx >= 0 && !filter.Keep(watermarkValue(all[wmIdx]), RowHash(vals)) {
			continue
		}
		st.Kept++
		if err := emit(cols, vals); err != nil {
			return st, Watermark{}, err
		}
	}
	if err := rows.Err(); err != nil {
		return st, Watermark{}, fmt.Errorf("extract %s: %w", e.Table, err)
	}
	st.Skipped, st.NullMark = filter.Skipped, filter.NullRows
	if wmIdx < 0 {
		return st, Watermark{}, nil
	}
	return st, filter.Next(), nil
}

// watermarkValue normalises driver values so that they compare as the query does.
func watermarkValue(v any) any {
	if b, ok := v.([]byte); ok {
		return string(b)
	}
	return v
}
