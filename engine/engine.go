// Package engine is the interface to the SQL engine that runs the models.
//
// The embedded default is DuckDB (engine/duckdb). A Spark Connect backend can implement the
// same interface, so the SQL models are written once.
package engine

import (
	"context"
)

// Engine runs SQL statements.
type Engine interface {
	// Name is the engine's dialect name, e.g. "duckdb" or "spark".
	Name() string
	// Exec runs statements that return no rows.
	Exec(ctx context.Context, query string) error
	// Query runs a query and returns its rows.
	Query(ctx context.Context, query string) (*Result, error)
	// Close releases the engine.
	Close() error
}

// Result is a fully read, engine-neutral query result. It is meant for small results
// (KPIs, counts, samples); bulk data moves as Parquet files, never through Result.
type Result struct {
	Columns []string
	Types   []string // the engine's type names
	Rows    [][]any
}
