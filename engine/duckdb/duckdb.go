// Package duckdb is the embedded SQL engine, DuckDB, behind the engine interface.
package duckdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"log/slog"
	"strings"
	"time"

	duckdbdrv "github.com/duckdb/duckdb-go/v2" // also registers the "duckdb" database/sql driver

	"github.com/rcmlake/rcmlake/engine"
)

// Options bound the engine's resources.
type Options struct {
	MemoryLimit string // e.g. "2GB"; empty means DuckDB's default (80% of RAM)
	Threads     int    // 0 means one per core
	TempDir     string // where DuckDB spills; empty means its default
}

// Engine is an in-process DuckDB database.
type Engine struct {
	db *sql.DB
}

// Open starts an in-memory DuckDB with the given limits.
func Open(opts Options) (*Engine, error) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return nil, fmt.Errorf("duckdb: %w", err)
	}
	// One connection: settings, temp views and attached databases are per connection.
	db.SetMaxOpenConns(1)
	var set []string
	if opts.MemoryLimit != "" {
		set = append(set, fmt.Sprintf("SET memory_limit = %s", quote(opts.MemoryLimit)))
	}
	if opts.Threads > 0 {
		set = append(set, fmt.Sprintf("SET threads = %d", opts.Threads))
	}
	if opts.TempDir != "" {
		set = append(set, fmt.Sprintf("SET temp_directory = %s", quote(opts.TempDir)))
	}
	set = append(set, "SET TimeZone = 'UTC'")
	for _, s := range set {
		if _, err := db.Exec(s); err != nil {
			db.Close()
			return nil, fmt.Errorf("duckdb %s: %w", s, err)
		}
	}
	return &Engine{db: db}, nil
}

// ExecStreaming runs a statement that streams one input into one output (a COPY of a large
// file) on one thread, holding the engine's connection so that no other query runs with that
// setting. With more threads the readers race ahead of the single Parquet writer and DuckDB
// buffers what they read to keep the rows in order, so memory grew with the input.
func (e *Engine) ExecStreaming(ctx context.Context, query string) error {
	conn, err := e.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	var threads string
	if err := conn.QueryRowContext(ctx, "SELECT current_setting('threads')").Scan(&threads); err != nil {
		return err
	}
	if _, err := conn.ExecContext(ctx, "SET threads = 1"); err != nil {
		return err
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "SET threads = "+threads)
	_, err = conn.ExecContext(ctx, query)
	return err
}

// DB exposes the database/sql handle for Go code that streams rows.
func (e *Engine) DB() *sql.DB { return e.db }

// Name implements engine.Engine.
func (e *Engine) Name() string { return "duckdb" }

// Exec implements engine.Engine.
func (e *Engine) Exec(ctx context.Context, query string) error {
	defer slowStatement(time.Now(), query)
	_, err := e.db.ExecContext(ctx, query)
	return err
}

// slowStatement logs, at debug level, a statement that took more than a quarter second: where
// a stage's time goes, statement by statement. Only the statement's head is logged (models and
// paths, never row values).
func slowStatement(start time.Time, query string) {
	if d := time.Since(start); d > 250*time.Millisecond && slog.Default().Enabled(context.Background(), slog.LevelDebug) {
		head := strings.Join(strings.Fields(query), " ")
		if len(head) > 120 {
			head = head[:120]
		}
		slog.Debug("slow statement", "seconds", d.Seconds(), "sql", head)
	}
}

// Query implements engine.Engine.
func (e *Engine) Query(ctx context.Context, query string) (*engine.Result, error) {
	defer slowStatement(time.Now(), query)
	rows, err := e.db.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.ColumnTypes()
	if err != nil {
		return nil, err
	}
	res := &engine.Result{}
	for _, c := range cols {
		res.Columns = append(res.Columns, c.Name())
		res.Types = append(res.Types, c.DatabaseTypeName())
	}
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		res.Rows = append(res.Rows, vals)
	}
	return res, rows.Err()
}

// Close implements engine.Engine.
func (e *Engine) Close() error { return e.db.Close() }

// quote makes a SQL string literal.
func quote(s string) string { return Literal(s) }

var _ engine.Engine = (*Engine)(nil)

// Literal quotes s as a SQL string literal.
func Literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// Ident quotes s as a SQL identifier (a source's column name may be any text).
func Ident(s string) string { return quoteIdent(s) }

// RegisterStringFunc makes a Go function callable from SQL as name(VARCHAR) -> VARCHAR, with
// NULL in, NULL out. The serving layer masks PHI this way, so the masking key stays in Go
// memory and never appears in SQL text, view definitions or query plans.
func (e *Engine) RegisterStringFunc(ctx context.Context, name string, fn func(string) string) error {
	conn, err := e.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return duckdbdrv.RegisterScalarUDF(conn, name, stringFunc(fn))
}

type stringFunc func(string) string

func (f stringFunc) Config() duckdbdrv.ScalarFuncConfig {
	v, _ := duckdbdrv.NewTypeInfo(duckdbdrv.TYPE_VARCHAR)
	return duckdbdrv.ScalarFuncConfig{InputTypeInfos: []duckdbdrv.TypeInfo{v}, ResultTypeInfo: v}
}

func (f stringFunc) Executor() duckdbdrv.ScalarFuncExecutor {
	return duckdbdrv.ScalarFuncExecutor{RowExecutor: func(values []driver.Value) (any, error) {
		s, _ := values[0].(string)
		return f(s), nil
	}}
}
