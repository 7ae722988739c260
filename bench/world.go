package bench

import (
	"context"
	"database/sql"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/rcmlake/rcmlake/source/sqldb"
	"github.com/rcmlake/rcmlake/synth"
)

// patchConfig bounds the engine in a generated world's config: the memory limit under test and
// a temp folder for DuckDB's spills. generate (and --append-month) rewrite the config, so it is
// patched after each of them.
func (b *Bench) patchConfig(world string) error {
	path := filepath.Join(world, "rcmlake.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	text := string(data)
	if strings.Contains(text, "\nengine:") {
		return fmt.Errorf("%s already has an engine section; the bench sets its own", path)
	}
	tmp := filepath.Join(b.opts.Dir, "duckdb-tmp")
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return err
	}
	text += fmt.Sprintf("engine:\n  name: duckdb\n  memory_limit: %s\n  temp_dir: %s\n", b.opts.MemoryLimit, strconv.Quote(tmp))
	return os.WriteFile(path, []byte(text), 0o644)
}

// worldSize is what a generated world holds, from its manifest.
type worldSize struct {
	Months       int
	Transactions int64
	EMRRows      int64
	ClaimsFiles  int
	tables       []string // EMR table names
	datasources  []string
}

func readWorld(dir string) (worldSize, *synth.Manifest, error) {
	m, err := synth.ReadManifest(dir)
	if err != nil {
		return worldSize{}, nil, err
	}
	w := worldSize{Months: m.Months, ClaimsFiles: len(m.ClaimsFiles)}
	seen := map[string]bool{}
	for _, h := range m.Hospitals {
		w.datasources = append(w.datasources, h.Code)
		for t, n := range h.Rows {
			w.EMRRows += int64(n)
			if t == "transactions" {
				w.Transactions += int64(n)
			}
		}
		for _, t := range h.Tables {
			if !seen[t.Name] {
				seen[t.Name] = true
				w.tables = append(w.tables, t.Name)
			}
		}
	}
	return w, m, nil
}

// ExportForFloor writes what the floor script reads (untimed): each SQLite EMR table as CSV
// under <datasource>/<table>.csv, and hard links to the claims files, the CPT file and the
// ICD-10 order file. DuckDB's sqlite extension is not available offline, hence the CSVs.
func ExportForFloor(ctx context.Context, world, out string) error {
	_, m, err := readWorld(world)
	if err != nil {
		return err
	}
	for _, h := range m.Hospitals {
		if h.Driver != "sqlite" {
			return fmt.Errorf("the floor reads SQLite EMRs; %s is %s", h.Name, h.Driver)
		}
		db, d, err := sqldb.Open("sqlite", filepath.Join(world, h.DSN))
		if err != nil {
			return err
		}
		for _, t := range h.Tables {
			err = exportTable(ctx, db, d.QuoteIdent(t.Name), filepath.Join(out, h.Code, t.Name+".csv"))
			if err != nil {
				break
			}
		}
		db.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", h.Name, err)
		}
	}
	links := map[string]string{"claims": filepath.Join(world, "landing", "claims"), "cptcodes": filepath.Join(world, "landing", "cptcodes")}
	for name, dir := range links {
		if err := linkDir(dir, filepath.Join(out, name)); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(filepath.Join(out, "out"), 0o755); err != nil {
		return err
	}
	return linkFile(filepath.Join(world, "ref", "icd10cm_order.txt"), filepath.Join(out, "icd10cm_order.txt"))
}

func exportTable(ctx context.Context, db *sql.DB, table, path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	rows, err := db.QueryContext(ctx, "SELECT * FROM "+table)
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
	defer f.Close()
	w := csv.NewWriter(f)
	w.Write(cols)
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	rec := make([]string, len(cols))
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		for i, v := range vals {
			switch x := v.(type) {
			case nil:
				rec[i] = ""
			case string:
				rec[i] = x
			case []byte:
				rec[i] = string(x)
			case float64:
				rec[i] = strconv.FormatFloat(x, 'f', -1, 64)
			case int64:
				rec[i] = strconv.FormatInt(x, 10)
			default:
				rec[i] = fmt.Sprint(x)
			}
		}
		if err := w.Write(rec); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return err
	}
	return f.Close()
}

func linkDir(src, dst string) error {
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	for _, e := range entries {
		if !e.IsDir() {
			if err := linkFile(filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

// linkFile hard-links src to dst, copying when the link fails (another file system).
func linkFile(src, dst string) error {
	if err := os.Link(src, dst); err == nil {
		return nil
	}
	return copyTree(src, dst)
}
