package bench

import (
	"context"
	"database/sql"
	_ "embed"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	_ "modernc.org/sqlite" // the EMR exports read the generated SQLite files

	"github.com/rcmlake/rcmlake/config"
	"github.com/rcmlake/rcmlake/engine/duckdb"
)

//go:embed floor.sql
var floorSQL string

// FloorSQL is the floor script, for the report to point at.
func FloorSQL() string { return floorSQL }

// ExportEMR writes every EMR table of a generated world's config as CSV, under
// dir/<datasource>/<table>.csv: the floor reads these (DuckDB's sqlite extension is not
// available offline). Untimed: it stands for the export a source system would hand over.
func ExportEMR(ctx context.Context, cfg *config.Config, dir string) error {
	for _, db := range cfg.Sources.EMR {
		if db.Driver != "sqlite" {
			return fmt.Errorf("the floor reads SQLite EMRs; %s is %s", db.Name, db.Driver)
		}
		conn, err := sql.Open("sqlite", "file:"+cfg.ResolvePath(db.DSN)+"?mode=ro")
		if err != nil {
			return err
		}
		for _, t := range db.Tables {
			if err := exportTable(ctx, conn, t.Name, filepath.Join(dir, db.Datasource, t.Name+".csv")); err != nil {
				conn.Close()
				return fmt.Errorf("exporting %s.%s: %w", db.Datasource, t.Name, err)
			}
		}
		conn.Close()
	}
	return nil
}

func exportTable(ctx context.Context, conn *sql.DB, table, path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	rows, err := conn.QueryContext(ctx, `SELECT * FROM "`+strings.ReplaceAll(table, `"`, `""`)+`"`)
	if err != nil {
		return err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	w.Write(cols)
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	rec := make([]string, len(cols))
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			f.Close()
			return err
		}
		for i, v := range vals {
			rec[i] = v.String // NULL and empty both read back as NULL
		}
		w.Write(rec)
	}
	w.Flush()
	if err := rows.Err(); err != nil {
		f.Close()
		return err
	}
	if err := w.Error(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// FloorInputs are where the floor script reads and writes.
type FloorInputs struct {
	EMR     string // ExportEMR's folder
	ClaimsA string // glob of hospital A's claims CSVs
	ClaimsB string
	Out     string
}

// FloorInputsFor finds a generated world's claims files from its config's landing rules.
func FloorInputsFor(cfg *config.Config, emr, out string) (FloorInputs, error) {
	in := FloorInputs{EMR: emr, Out: out}
	root := cfg.ResolvePath(cfg.Sources.Landing.Root)
	for _, f := range cfg.Sources.Landing.Files {
		switch {
		case f.Table == "claims" && f.Datasource == "hos-a":
			in.ClaimsA = filepath.Join(root, f.Pattern)
		case f.Table == "claims" && f.Datasource == "hos-b":
			in.ClaimsB = filepath.Join(root, f.Pattern)
		}
	}
	if in.ClaimsA == "" || in.ClaimsB == "" {
		return in, fmt.Errorf("the floor needs the claims landing rules of hos-a and hos-b")
	}
	return in, nil
}

// RunFloor runs the floor script in an in-process DuckDB with the given limits.
func RunFloor(ctx context.Context, in FloorInputs, opts duckdb.Options) error {
	if err := os.MkdirAll(in.Out, 0o755); err != nil {
		return err
	}
	e, err := duckdb.Open(opts)
	if err != nil {
		return err
	}
	defer e.Close()
	script := strings.NewReplacer("{emr}", in.EMR, "{claims_a}", in.ClaimsA, "{claims_b}", in.ClaimsB, "{out}", in.Out).Replace(floorSQL)
	for _, stmt := range strings.Split(script, ";\n") {
		if strings.TrimSpace(stripComments(stmt)) == "" {
			continue
		}
		if err := e.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("floor: %w\n%s", err, strings.TrimSpace(stmt))
		}
	}
	return nil
}

func stripComments(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "--") {
			b.WriteString(l)
			b.WriteByte('\n')
		}
	}
	return b.String()
}
