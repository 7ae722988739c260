package models

import (
	"fmt"
	"strings"
)

// Dialect renders the date functions that DuckDB and Spark SQL name differently. Everything
// else in the models is SQL both engines accept; this is the one place they differ.
type Dialect interface {
	// MonthStart is the first day of x's month, as a DATE.
	MonthStart(x string) string
	// DateDiffDays is the number of days from a to b (b - a).
	DateDiffDays(a, b string) string
	// AddMonths is the DATE n months after x.
	AddMonths(x string, n int) string
	// DaySeries expands one row into a row per day from lo to hi, both DATEs, inclusive:
	// a set-returning expression for a SELECT list.
	DaySeries(lo, hi string) string
	// ISODayOfWeek is 1 for Monday through 7 for Sunday.
	ISODayOfWeek(x string) string
	// AddDays is the DATE n days after x; n is an integer SQL expression.
	AddDays(x, n string) string
	// TimestampText renders a timestamp as 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC, always six
	// fraction digits): the canonical text that surrogate-key hashes cover, identical in
	// every engine (a plain CAST to STRING is not: DuckDB appends "+00", Spark trims zeros).
	TimestampText(x string) string
	// RegexMatch is true when pattern matches somewhere in s.
	RegexMatch(s, pattern string) string
	// Ident quotes an identifier; Literal quotes a string literal.
	Ident(name string) string
	Literal(s string) string
}

// DuckDB is the embedded engine's dialect.
type DuckDB struct{}

func (DuckDB) MonthStart(x string) string {
	return fmt.Sprintf("CAST(date_trunc('month', %s) AS DATE)", x)
}
func (DuckDB) DateDiffDays(a, b string) string { return fmt.Sprintf("date_diff('day', %s, %s)", a, b) }
func (DuckDB) AddMonths(x string, n int) string {
	return fmt.Sprintf("CAST(%s + INTERVAL (%d) MONTH AS DATE)", x, n)
}

func (DuckDB) DaySeries(lo, hi string) string {
	return fmt.Sprintf("unnest(generate_series(CAST(%s AS TIMESTAMP), CAST(%s AS TIMESTAMP), INTERVAL 1 DAY))", lo, hi)
}
func (DuckDB) ISODayOfWeek(x string) string { return fmt.Sprintf("isodow(%s)", x) }
func (DuckDB) AddDays(x, n string) string {
	return fmt.Sprintf("CAST(%s + to_days(CAST(%s AS INTEGER)) AS DATE)", x, n)
}

func (DuckDB) TimestampText(x string) string {
	return fmt.Sprintf("strftime(CAST(%s AS TIMESTAMP), '%%Y-%%m-%%d %%H:%%M:%%S.%%f')", x)
}

func (DuckDB) RegexMatch(s, p string) string { return "regexp_matches(" + s + ", " + p + ")" }
func (DuckDB) Ident(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}
func (DuckDB) Literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// Spark is Spark SQL's dialect.
type Spark struct{}

func (Spark) MonthStart(x string) string       { return fmt.Sprintf("trunc(%s, 'MM')", x) }
func (Spark) DateDiffDays(a, b string) string  { return fmt.Sprintf("datediff(%s, %s)", b, a) }
func (Spark) AddMonths(x string, n int) string { return fmt.Sprintf("add_months(%s, %d)", x, n) }
func (Spark) DaySeries(lo, hi string) string {
	return fmt.Sprintf("explode(sequence(CAST(%s AS DATE), CAST(%s AS DATE), INTERVAL 1 DAY))", lo, hi)
}
func (Spark) ISODayOfWeek(x string) string { return fmt.Sprintf("(weekday(%s) + 1)", x) }
func (Spark) AddDays(x, n string) string   { return fmt.Sprintf("date_add(%s, CAST(%s AS INT))", x, n) }
func (Spark) TimestampText(x string) string {
	return fmt.Sprintf("date_format(CAST(%s AS TIMESTAMP), 'yyyy-MM-dd HH:mm:ss.SSSSSS')", x)
}

func (Spark) RegexMatch(s, p string) string { return "regexp_like(" + s + ", " + p + ")" }
func (Spark) Ident(name string) string      { return "`" + strings.ReplaceAll(name, "`", "``") + "`" }

// Literal escapes backslashes too: Spark reads backslash escapes in string literals.
func (Spark) Literal(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, "'", `\'`).Replace(s) + "'"
}

// DialectFor is the dialect of an engine by its name ("duckdb", "spark").
func DialectFor(engine string) Dialect {
	if engine == "spark" {
		return Spark{}
	}
	return DuckDB{}
}
