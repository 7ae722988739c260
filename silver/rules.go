// Package silver builds the silver layer: the common data model, data-quality flags and SCD2
// history, as Delta tables.
package silver

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/rcmlake/rcmlake/config"
)

// RuleSQL is one quality rule compiled to SQL over a row of the entity.
type RuleSQL struct {
	Rule config.Rule
	// Fails is a boolean SQL expression, true when the row breaks the rule. A rule never
	// fails a row because of a NULL it does not check (not_null does that).
	Fails string
}

// ColLoad is the time of the bronze load each batch row came from. Models carry it from
// staging (it is not stored in silver), and the unique rule counts within one load.
const ColLoad = "_load_time"

// RowAlias is the alias rules give the checked rows' relation: a relationships rule
// correlates a subquery with it, where the column's bare name could mean the other table's.
const RowAlias = "_rcmlake_this"

// Refs resolves the relation that a relationships rule points at (entity -> SQL relation of
// its current rows).
type Refs func(entity string) (string, error)

// Funcs renders the few functions whose names differ between engines.
type Funcs interface {
	// RegexMatch is true when the pattern matches somewhere in s.
	RegexMatch(s, pattern string) string
}

// CompileRule turns a rule into SQL. Apart from Funcs, the SQL is what DuckDB and Spark SQL
// both accept. Column names are bare identifiers, which config validation guarantees.
func CompileRule(r config.Rule, refs Refs, fn Funcs) (RuleSQL, error) {
	cols := make([]string, len(r.Columns))
	for i, c := range r.Columns {
		if !identRe.MatchString(c) {
			return RuleSQL{}, fmt.Errorf("rule %s: column %q is not a simple name", r.Name, c)
		}
		cols[i] = c
	}
	var parts []string
	switch r.Type {
	case "not_null":
		// The literal strings in Values count as null too: the seed's data has the string
		// 'NULL' where a name is missing.
		for _, c := range cols {
			cond := c + " IS NULL"
			if len(r.Values) > 0 {
				cond = fmt.Sprintf("(%s IS NULL OR TRIM(CAST(%s AS STRING)) IN (%s))", c, c, literals(r.Values))
			}
			parts = append(parts, cond)
		}
	case "unique":
		// Unique within each load: a batch may hold several loads of a source (a catch-up
		// run, a full refresh), in which one key's versions legitimately repeat.
		parts = append(parts, fmt.Sprintf("(COUNT(*) OVER (PARTITION BY %s, %s) > 1 AND %s)", strings.Join(cols, ", "), ColLoad, allNotNull(cols)))
	case "accepted_values":
		for _, c := range cols {
			parts = append(parts, fmt.Sprintf("(%s IS NOT NULL AND CAST(%s AS STRING) NOT IN (%s))", c, c, literals(r.Values)))
		}
	case "regex":
		for _, c := range cols {
			parts = append(parts, fmt.Sprintf("(%s IS NOT NULL AND NOT %s)", c, fn.RegexMatch("CAST("+c+" AS STRING)", literal(r.Pattern))))
		}
	case "range":
		for _, c := range cols {
			var conds []string
			if r.Min != nil {
				conds = append(conds, fmt.Sprintf("%s < %s", c, number(*r.Min)))
			}
			if r.Max != nil {
				conds = append(conds, fmt.Sprintf("%s > %s", c, number(*r.Max)))
			}
			parts = append(parts, fmt.Sprintf("(%s IS NOT NULL AND (%s))", c, strings.Join(conds, " OR ")))
		}
	case "relationships":
		entity, col, ok := strings.Cut(r.To, ".")
		if !ok {
			return RuleSQL{}, fmt.Errorf("rule %s: to %q: want entity.column", r.Name, r.To)
		}
		rel, err := refs(entity)
		if err != nil {
			return RuleSQL{}, fmt.Errorf("rule %s: %w", r.Name, err)
		}
		if !identRe.MatchString(col) {
			return RuleSQL{}, fmt.Errorf("rule %s: to %q: the column is not a simple name", r.Name, r.To)
		}
		// NOT EXISTS, not NOT IN: both engines hash-join it, while Spark runs a NOT IN inside a
		// SELECT list as a nested loop over both tables (null-aware), hours at 1M rows.
		for _, c := range cols {
			parts = append(parts, fmt.Sprintf("(%[1]s.%[2]s IS NOT NULL AND NOT EXISTS (SELECT 1 FROM %[3]s _rcmlake_ref WHERE _rcmlake_ref.%[4]s = %[1]s.%[2]s))",
				RowAlias, c, rel, col))
		}
	case "expression":
		parts = append(parts, fmt.Sprintf("NOT COALESCE((%s), FALSE)", r.Expr))
	case "freshness":
		return RuleSQL{}, fmt.Errorf("rule %s: freshness is checked per table, not per row", r.Name)
	default:
		return RuleSQL{}, fmt.Errorf("rule %s: unknown type %q", r.Name, r.Type)
	}
	return RuleSQL{Rule: r, Fails: "(" + strings.Join(parts, " OR ") + ")"}, nil
}

// ReasonsExpr is the SQL that lists the names of the failed rules, comma-separated, or ”
// when the row passes. concat_ws skips NULLs in DuckDB and Spark alike.
func ReasonsExpr(rules []RuleSQL) string {
	if len(rules) == 0 {
		return "''"
	}
	var cases []string
	for _, r := range rules {
		cases = append(cases, fmt.Sprintf("CASE WHEN %s THEN %s END", r.Fails, literal(r.Rule.Name)))
	}
	return "concat_ws(',', " + strings.Join(cases, ", ") + ")"
}

func allNotNull(cols []string) string {
	var parts []string
	for _, c := range cols {
		parts = append(parts, c+" IS NOT NULL")
	}
	return strings.Join(parts, " AND ")
}

var identRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func literals(vals []string) string {
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = literal(v)
	}
	return strings.Join(out, ", ")
}

func number(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
