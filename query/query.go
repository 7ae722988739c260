// Package query runs SQL over the lake's catalog. A query names tables as bronze.x, silver.x,
// gold.x and audit.x, optionally pinned to a version or a time (silver.patients@v3,
// gold.kpi_monthly@2024-06-01T00:00:00Z). Each name becomes an engine view over exactly the
// files of that table version, so the query sees one consistent snapshot per table.
package query

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/rcmlake/rcmlake/bronze"
	"github.com/rcmlake/rcmlake/catalog"
	"github.com/rcmlake/rcmlake/engine"
	"github.com/rcmlake/rcmlake/lakehouse"
)

// Ref is one table reference found in a query text.
type Ref struct {
	Start, End int // byte offsets of the reference in the text
	Name       catalog.Name
}

var refRe = regexp.MustCompile(`(?i)^(bronze|silver|gold|audit)\.([a-z_][a-z0-9_]*)(@(?:v[0-9]+|[0-9]{4}-[0-9]{2}-[0-9]{2}(?:T[0-9:.]+(?:Z|[+-][0-9]{2}:?[0-9]{2})?)?))?`)

// Refs finds the catalog references in a SQL text, skipping string literals, quoted
// identifiers and comments, so 'silver.patients' inside a string is left alone.
func Refs(sql string) ([]Ref, error) {
	var refs []Ref
	for i := 0; i < len(sql); {
		c := sql[i]
		switch {
		case c == '\'' || c == '"':
			j := i + 1
			for j < len(sql) {
				if sql[j] == c {
					if j+1 < len(sql) && sql[j+1] == c { // doubled quote escapes itself
						j += 2
						continue
					}
					break
				}
				j++
			}
			i = j + 1
		case c == '-' && strings.HasPrefix(sql[i:], "--"):
			if j := strings.IndexByte(sql[i:], '\n'); j >= 0 {
				i += j + 1
			} else {
				i = len(sql)
			}
		case c == '/' && strings.HasPrefix(sql[i:], "/*"):
			if j := strings.Index(sql[i+2:], "*/"); j >= 0 {
				i += j + 4
			} else {
				i = len(sql)
			}
		case isIdent(c) && (i == 0 || !isIdent(sql[i-1]) && sql[i-1] != '.'):
			m := refRe.FindStringSubmatchIndex(sql[i:])
			if m == nil || (m[1] < len(sql)-i && isIdent(sql[i+m[1]])) {
				for i < len(sql) && isIdent(sql[i]) {
					i++
				}
				continue
			}
			name, err := catalog.Parse(strings.ToLower(sql[i+m[2]:i+m[3]]) + "." + strings.ToLower(sql[i+m[4]:i+m[5]]) + sql[i+m[5]:i+m[1]])
			if err != nil {
				return nil, fmt.Errorf("%s: %w", sql[i:i+m[1]], err)
			}
			refs = append(refs, Ref{Start: i, End: i + m[1], Name: name})
			i += m[1]
		default:
			i++
		}
	}
	return refs, nil
}

func isIdent(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// Catalog turns catalog references into views of one lakehouse's engine.
type Catalog struct {
	Lake *lakehouse.Lakehouse
	// AsOf pins every reference that names no version or time of its own.
	AsOf *time.Time
	// Project, when set, chooses each view's columns: given a table and its column names, it
	// returns the schema the view is created in and one select expression per column. The
	// governance layer masks PHI here, before any row leaves the engine.
	Project func(n catalog.Name, columns []string) (schema string, exprs []string)
}

// Prepared is a query rewritten to read engine views.
type Prepared struct {
	SQL    string
	Tables []catalog.Name
	Views  []View
}

// View is the engine view that stands for one catalog reference.
type View struct {
	Schema, Name string // unquoted
	Table        catalog.Name
	Columns      []string
}

// Quoted is the view's qualified, quoted name.
func (v View) Quoted() string { return quote(v.Schema) + "." + quote(v.Name) }

// Prepare creates a view for every table the query names and returns the query rewritten to
// read them, with the tables it reads.
func (c *Catalog) Prepare(ctx context.Context, sql string) (*Prepared, error) {
	refs, err := Refs(sql)
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	p := &Prepared{}
	views := map[string]View{}
	last := 0
	for _, r := range refs {
		n := c.Pin(r.Name)
		view, ok := views[n.String()]
		if !ok {
			if view, err = c.view(ctx, n); err != nil {
				return nil, err
			}
			views[n.String()] = view
			p.Tables = append(p.Tables, n)
			p.Views = append(p.Views, view)
		}
		b.WriteString(sql[last:r.Start])
		b.WriteString(view.Quoted())
		last = r.End
	}
	b.WriteString(sql[last:])
	p.SQL = b.String()
	return p, nil
}

// Pin applies the catalog's AsOf to a name that pins nothing itself.
func (c *Catalog) Pin(n catalog.Name) catalog.Name {
	if n.Version == nil && n.AsOf == nil && c.AsOf != nil {
		n.AsOf = c.AsOf
	}
	return n
}

// Run prepares and runs a query.
func (c *Catalog) Run(ctx context.Context, sql string) (*engine.Result, error) {
	p, err := c.Prepare(ctx, sql)
	if err != nil {
		return nil, err
	}
	return c.Lake.Engine.Query(ctx, p.SQL)
}

// view creates the engine view of one table version.
func (c *Catalog) view(ctx context.Context, n catalog.Name) (View, error) {
	var scan string
	var err error
	if n.Layer == catalog.Bronze {
		scan, err = c.bronzeScan(ctx, n)
	} else {
		t := c.Lake.Table(n)
		snap, serr := c.Lake.Snapshot(ctx, t, n)
		if serr != nil {
			return View{}, fmt.Errorf("%s: %w", n, serr)
		}
		scan, err = c.Lake.ScanSQL(ctx, snap)
	}
	if err != nil {
		return View{}, err
	}
	v := View{Schema: n.Layer, Name: strings.TrimPrefix(n.String(), n.Layer+"."), Table: n}
	sel := "*"
	if c.Project != nil {
		res, err := c.Lake.Engine.Query(ctx, "DESCRIBE SELECT * FROM "+scan)
		if err != nil {
			return View{}, fmt.Errorf("%s: %w", n, err)
		}
		for _, row := range res.Rows {
			v.Columns = append(v.Columns, fmt.Sprint(row[0]))
		}
		schema, exprs := c.Project(n, v.Columns)
		v.Schema, sel = schema, strings.Join(exprs, ", ")
	}
	stmts := []string{
		"CREATE SCHEMA IF NOT EXISTS " + quote(v.Schema),
		"CREATE OR REPLACE VIEW " + v.Quoted() + " AS SELECT " + sel + " FROM " + scan,
	}
	for _, s := range stmts {
		if err := c.Lake.Engine.Exec(ctx, s); err != nil {
			return View{}, fmt.Errorf("%s: %w", n, err)
		}
	}
	return v, nil
}

// Quote quotes an identifier.
func Quote(s string) string { return quote(s) }

// bronzeScan reads every committed load of a bronze table, from all datasources, up to the
// pinned time. Bronze is Parquet files, not a Delta table: its versions are its loads, so a
// time pins it but a version number does not.
func (c *Catalog) bronzeScan(ctx context.Context, n catalog.Name) (string, error) {
	if n.Version != nil {
		return "", fmt.Errorf("%s: bronze tables have loads, not versions; pin a time instead (%s.%s@2024-06-01)", n, n.Layer, n.Table)
	}
	logs, err := bronze.ReadLoadLogs(ctx, c.Lake, nil)
	if err != nil {
		return "", err
	}
	var paths []string
	tables := map[string]bool{}
	for _, l := range logs {
		tables[l.TableName] = true
		if l.TableName != n.Table || l.Status != "success" || (n.AsOf != nil && l.LoadDate.After(*n.AsOf)) {
			continue
		}
		for _, f := range l.Files {
			p, err := c.Lake.LocalPath(ctx, f)
			if err != nil {
				return "", err
			}
			paths = append(paths, "'"+strings.ReplaceAll(p, "'", "''")+"'")
		}
	}
	if len(paths) == 0 {
		known := make([]string, 0, len(tables))
		for t := range tables {
			known = append(known, "bronze."+t)
		}
		sort.Strings(known)
		return "", fmt.Errorf("%s: no committed loads (bronze tables: %s)", n, strings.Join(known, ", "))
	}
	return fmt.Sprintf("read_parquet([%s], union_by_name = true, hive_partitioning = false)", strings.Join(paths, ", ")), nil
}

func quote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
