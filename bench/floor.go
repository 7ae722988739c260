package bench

import (
	"context"
	_ "embed"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/rcmlake/rcmlake/engine/duckdb"
)

// FloorSQL is the floor script: the full refresh as plain DuckDB SQL (see floor.sql).
//
//go:embed floor.sql
var FloorSQL string

var (
	stmtSep  = regexp.MustCompile(`(?m)^;[ \t]*$`)
	stmtName = regexp.MustCompile(`(?i)(?:CREATE TABLE|COPY)\s+(\w+)`)
)

// statementName is the table a floor statement creates or copies, for its timing line.
func statementName(s string) string {
	if m := stmtName.FindStringSubmatch(stripComments(s)); m != nil {
		return m[1]
	}
	return "?"
}

// FloorStatements splits the floor script at lines holding only ';'.
func FloorStatements() []string {
	var out []string
	for _, s := range stmtSep.Split(FloorSQL, -1) {
		if strings.TrimSpace(stripComments(s)) != "" {
			out = append(out, s)
		}
	}
	return out
}

func stripComments(s string) string {
	var b strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "--") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

// RunFloor runs the floor script in the current folder (which holds its inputs, see
// ExportForFloor) on the same embedded DuckDB as rcmlake, with the same memory limit and temp
// folder. Tables live in a database file there, so that DuckDB can evict them under the limit
// as rcmlake's Parquet files can be.
func RunFloor(ctx context.Context, memoryLimit, tempDir string, log io.Writer) error {
	e, err := duckdb.Open(duckdb.Options{MemoryLimit: memoryLimit, TempDir: tempDir})
	if err != nil {
		return err
	}
	defer e.Close()
	db := e.DB()
	for _, s := range []string{"ATTACH 'floor.duckdb' AS floor", "USE floor"} {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("floor: %s: %w", s, err)
		}
	}
	for i, s := range FloorStatements() {
		began := time.Now()
		if _, err := db.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("floor statement %d: %w", i+1, err)
		}
		if log != nil {
			fmt.Fprintf(log, "floor %2d %-28s %7.2fs\n", i+1, statementName(s), time.Since(began).Seconds())
		}
	}
	return nil
}
