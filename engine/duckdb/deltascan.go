package duckdb

import (
	"context"
	"fmt"
	"strings"

	"github.com/rcmlake/rcmlake/delta"
)

// Localizer turns a data file of a snapshot into a local path DuckDB can read: the file in
// place for local storage, a cached copy for remote storage.
type Localizer func(ctx context.Context, f delta.FileEntry) (string, error)

// DuckType maps a Delta type to DuckDB's.
func DuckType(t delta.DataType) (string, error) {
	switch {
	case t.Struct != nil:
		var parts []string
		for _, f := range t.Struct.Fields {
			ft, err := DuckType(f.Type)
			if err != nil {
				return "", err
			}
			parts = append(parts, quoteIdent(f.Name)+" "+ft)
		}
		return "STRUCT(" + strings.Join(parts, ", ") + ")", nil
	case t.Array != nil:
		et, err := DuckType(t.Array.ElementType)
		if err != nil {
			return "", err
		}
		return et + "[]", nil
	case t.Map != nil:
		kt, err := DuckType(t.Map.KeyType)
		if err != nil {
			return "", err
		}
		vt, err := DuckType(t.Map.ValueType)
		if err != nil {
			return "", err
		}
		return "MAP(" + kt + ", " + vt + ")", nil
	}
	if p, s, ok := t.Decimal(); ok {
		return fmt.Sprintf("DECIMAL(%d,%d)", p, s), nil
	}
	switch t.Primitive {
	case "string":
		return "VARCHAR", nil
	case "long":
		return "BIGINT", nil
	case "integer":
		return "INTEGER", nil
	case "short":
		return "SMALLINT", nil
	case "byte":
		return "TINYINT", nil
	case "float":
		return "FLOAT", nil
	case "double":
		return "DOUBLE", nil
	case "boolean":
		return "BOOLEAN", nil
	case "binary":
		return "BLOB", nil
	case "date":
		return "DATE", nil
	case "timestamp":
		return "TIMESTAMPTZ", nil
	case "timestamp_ntz":
		return "TIMESTAMP", nil
	}
	return "", fmt.Errorf("delta type %q is not supported", t.Primitive)
}

// partitionValueSQL casts a partition value string (or NULL) to its column type.
func partitionValueSQL(v *string, t delta.DataType) (string, error) {
	dt, err := DuckType(t)
	if err != nil {
		return "", err
	}
	if v == nil {
		return "CAST(NULL AS " + dt + ")", nil
	}
	lit := quote(*v)
	switch t.Primitive {
	case "binary":
		return "encode(" + lit + ")", nil
	case "string":
		return lit, nil
	case "timestamp":
		// Zone-less partition timestamps are read as UTC (the session time zone), as Delta
		// kernels do; ISO strings with a zone keep it.
		return "CAST(" + lit + " AS TIMESTAMPTZ)", nil
	}
	if *v == "" {
		return "CAST(NULL AS " + dt + ")", nil
	}
	return "CAST(" + lit + " AS " + dt + ")", nil
}

// DeltaScanSQL returns a SQL relation over the snapshot's rows, with the table's schema: the
// active files read by name (columns a file lacks are NULL), partition values from the log,
// types as the Delta schema declares them.
func (e *Engine) DeltaScanSQL(ctx context.Context, s *delta.Snapshot, local Localizer) (string, error) {
	return e.DeltaScanFilesSQL(ctx, s, s.Files(), local)
}

// DeltaScanFilesSQL is DeltaScanSQL over some of the snapshot's files only: what a MERGE
// reads when it rewrites just the files that hold changed keys.
func (e *Engine) DeltaScanFilesSQL(ctx context.Context, s *delta.Snapshot, files []delta.FileEntry, local Localizer) (string, error) {
	if s.Schema == nil {
		return "", fmt.Errorf("delta %s: the table has no schema", s.Table().Location())
	}
	partCols := map[string]bool{}
	for _, c := range s.Metadata.PartitionColumns {
		partCols[c] = true
	}
	var sel []string
	if len(files) == 0 {
		for _, f := range s.Schema.Fields {
			dt, err := DuckType(f.Type)
			if err != nil {
				return "", fmt.Errorf("column %s: %w", f.Name, err)
			}
			sel = append(sel, fmt.Sprintf("CAST(NULL AS %s) AS %s", dt, quoteIdent(f.Name)))
		}
		return "(SELECT " + strings.Join(sel, ", ") + " WHERE FALSE)", nil
	}
	paths := make([]string, len(files))
	for i, f := range files {
		p, err := local(ctx, f)
		if err != nil {
			return "", fmt.Errorf("delta %s: data file %s: %w", s.Table().Location(), f.Path, err)
		}
		paths[i] = p
	}
	list := make([]string, len(paths))
	for i, p := range paths {
		list[i] = quote(p)
	}
	reader := fmt.Sprintf("read_parquet([%s], union_by_name = true, filename = '_rcmlake_file')", strings.Join(list, ", "))
	present, err := e.columnsOf(ctx, "SELECT * FROM "+reader)
	if err != nil {
		return "", fmt.Errorf("delta %s: reading data files: %w", s.Table().Location(), err)
	}
	for _, f := range s.Schema.Fields {
		dt, err := DuckType(f.Type)
		if err != nil {
			return "", fmt.Errorf("column %s: %w", f.Name, err)
		}
		switch {
		case partCols[f.Name]:
			sel = append(sel, "p."+quoteIdent(f.Name))
		case present[strings.ToLower(f.Name)] && (f.Type.Struct != nil || f.Type.Map != nil || f.Type.Array != nil):
			sel = append(sel, "d."+quoteIdent(f.Name))
		case present[strings.ToLower(f.Name)]:
			sel = append(sel, fmt.Sprintf("CAST(d.%s AS %s) AS %s", quoteIdent(f.Name), dt, quoteIdent(f.Name)))
		default:
			sel = append(sel, fmt.Sprintf("CAST(NULL AS %s) AS %s", dt, quoteIdent(f.Name)))
		}
	}
	q := "SELECT " + strings.Join(sel, ", ") + " FROM " + reader + " d"
	if len(partCols) > 0 {
		var rows []string
		for i, f := range files {
			vals := []string{quote(paths[i])}
			for _, c := range s.Metadata.PartitionColumns {
				field, ok := s.Schema.Field(c)
				if !ok {
					return "", fmt.Errorf("delta %s: partition column %s is not in the schema", s.Table().Location(), c)
				}
				v, err := partitionValueSQL(f.PartitionValues[c], field.Type)
				if err != nil {
					return "", err
				}
				vals = append(vals, v)
			}
			rows = append(rows, "("+strings.Join(vals, ", ")+")")
		}
		names := []string{"_rcmlake_file"}
		for _, c := range s.Metadata.PartitionColumns {
			names = append(names, quoteIdent(c))
		}
		q += fmt.Sprintf(" JOIN (VALUES %s) p(%s) ON p._rcmlake_file = d._rcmlake_file", strings.Join(rows, ", "), strings.Join(names, ", "))
	}
	return "(" + q + ")", nil
}

// columnsOf lists the (lower-cased) column names a query returns.
func (e *Engine) columnsOf(ctx context.Context, q string) (map[string]bool, error) {
	rows, err := e.db.QueryContext(ctx, "DESCRIBE "+q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var name, typ string
		var a, b, c, d any
		if err := rows.Scan(&name, &typ, &a, &b, &c, &d); err != nil {
			return nil, err
		}
		out[strings.ToLower(name)] = true
	}
	return out, rows.Err()
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
