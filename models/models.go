// Package models holds the SQL models, one file per table, by layer, as in a dbt project:
// silver/<entity>.sql, gold/<table>.sql, kpi/<name>.sql; queries/<name>.sql are the ready-made
// reports that `rcmlake query --named` runs, written against catalog names. They are embedded in the binary and
// may be overridden by a folder of the same shape (config: models_dir).
//
// A model is a SELECT. It names its inputs with template calls that the runner expands:
// {{ staged }} is the entity's bronze rows mapped onto CDM column names, {{ ref "silver.x" }}
// another table. The SQL is what DuckDB and Spark SQL both accept.
package models

import (
	"cmp"
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"text/template"
)

//go:embed silver/*.sql gold/*.sql kpi/*.sql queries/*.sql
var embedded embed.FS

// Source is where models are read from.
type Source struct {
	fsys fs.FS
}

// Embedded returns the models built into the binary.
func Embedded() Source { return Source{fsys: embedded} }

// Dir returns the models in a folder (a user's override of the built-in ones).
func Dir(dir string) Source { return Source{fsys: os.DirFS(dir)} }

// List names the models of a layer, sorted.
func (s Source) List(layer string) ([]string, error) {
	entries, err := fs.ReadDir(s.fsys, layer)
	if err != nil {
		return nil, fmt.Errorf("models %s: %w", layer, err)
	}
	var out []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".sql") {
			out = append(out, strings.TrimSuffix(e.Name(), ".sql"))
		}
	}
	sort.Strings(out)
	return out, nil
}

// Query reads a named, ready-made query (queries/<name>.sql). It names tables as catalog names
// (gold.fact_claim), which the query runner resolves; it has no template calls.
func (s Source) Query(name string) (string, error) {
	data, err := fs.ReadFile(s.fsys, path.Join("queries", name+".sql"))
	if err != nil {
		names, _ := s.List("queries")
		return "", fmt.Errorf("no query named %q (named queries: %s)", name, strings.Join(names, ", "))
	}
	return string(data), nil
}

// Text is a model's file as written, before its template calls are expanded.
func (s Source) Text(layer, name string) (string, error) {
	data, err := fs.ReadFile(s.fsys, path.Join(layer, name+".sql"))
	if err != nil {
		return "", fmt.Errorf("model %s.%s: %w", layer, name, err)
	}
	return string(data), nil
}

// Funcs are the template calls a model may use.
type Funcs struct {
	// Dialect renders the few date functions whose names differ between engines.
	Dialect Dialect
	// Staged is the relation of the entity's mapped bronze rows (silver models).
	Staged func() (string, error)
	// Ref is the relation of another table, "layer.name".
	Ref func(name string) (string, error)
	// Exists reports whether a table has been built, for inputs that are optional (reference
	// data whose API is off). Without it, every table counts as present.
	Exists func(name string) (bool, error)
	// Since is the first day a build recomputes, as a SQL DATE literal, for models that are
	// recomputed from a day on (see gold's "since:" headers). Empty renders the earliest
	// date: a full build.
	Since string
}

// EarliestDate is what {{ since }} renders for a full build.
const EarliestDate = "DATE '0001-01-01'"

// Render reads layer/name.sql and expands its template calls.
func (s Source) Render(layer, name string, f Funcs) (string, error) {
	p := path.Join(layer, name+".sql")
	data, err := fs.ReadFile(s.fsys, p)
	if err != nil {
		return "", fmt.Errorf("model %s.%s: %w", layer, name, err)
	}
	missing := func(what string) func(...string) (string, error) {
		return func(...string) (string, error) {
			return "", fmt.Errorf("%s is not available in %s models", what, layer)
		}
	}
	fm := template.FuncMap{"staged": func() (string, error) { return missing("staged")() }, "ref": func(n string) (string, error) { return missing("ref")(n) }}
	d := f.Dialect
	if d == nil {
		d = DuckDB{}
	}
	fm["month_start"] = d.MonthStart
	fm["date_diff_days"] = d.DateDiffDays
	fm["add_months"] = d.AddMonths
	fm["day_series"] = d.DaySeries
	fm["iso_day_of_week"] = d.ISODayOfWeek
	fm["add_days"] = d.AddDays
	fm["timestamp_text"] = d.TimestampText
	if f.Staged != nil {
		fm["staged"] = f.Staged
	}
	if f.Ref != nil {
		fm["ref"] = f.Ref
	}
	fm["since"] = func() string { return cmp.Or(f.Since, EarliestDate) }
	fm["exists"] = func(string) (bool, error) { return true, nil }
	if f.Exists != nil {
		fm["exists"] = f.Exists
	}
	t, err := template.New(p).Option("missingkey=error").Funcs(fm).Parse(string(data))
	if err != nil {
		return "", fmt.Errorf("model %s: %w", p, err)
	}
	var b strings.Builder
	if err := t.Execute(&b, nil); err != nil {
		return "", fmt.Errorf("model %s: %w", p, err)
	}
	return b.String(), nil
}
