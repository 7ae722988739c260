// Package engine is the interface to the SQL engine that runs the models.
//
// The embedded default is DuckDB (engine/duckdb). A Spark Connect backend can implement the
// same interface, so the SQL models are written once.
package engine

import (
	"context"

	"github.com/rcmlake/rcmlake/delta"
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

// WriteMode says what a write does with the table's current files.
type WriteMode int

const (
	// Append adds the query's rows.
	Append WriteMode = iota
	// Overwrite replaces every row with the query's rows.
	Overwrite
	// Replace removes the chosen files (WriteOptions.Remove) and adds the query's rows, in one
	// commit: the building block of MERGE and SCD2.
	Replace
)

// WriteOptions controls one write of a query's result into a Delta table.
type WriteOptions struct {
	Mode         WriteMode
	Operation    string            // commitInfo operation; default WRITE / MERGE
	Remove       []delta.FileEntry // Replace: files to remove
	Read         *delta.Snapshot   // the snapshot the query read; default: the latest
	Txn          *delta.Txn        // (appId, version) that makes a retried write a no-op
	Txns         []delta.Txn       // more (appId, version) pairs recorded by the same commit
	Config       map[string]string // table properties when the table is created
	Params       map[string]any    // extra commitInfo operationParameters
	Metrics      map[string]int64  // extra commitInfo operationMetrics
	FileBytes    int64             // target data file size; default 128 MiB
	RowGroupRows int               // rows per Parquet row group; default 122880
	// PartitionBy lays files out in Hive-style folders by these columns (string, integer,
	// date or boolean), escaped as Spark escapes them. Only when the table is created.
	PartitionBy []string
	// MergeSchema lets an append or replace add columns after the table's own (old files read
	// them as NULL), as Spark's mergeSchema does; any other change still needs an overwrite.
	MergeSchema bool
}

// WriteResult is what a write committed.
type WriteResult struct {
	Version int64
	Files   int
	Rows    int64
	Bytes   int64
	Skipped bool // the txn was already committed: nothing was written
}

// Lake is an engine that runs the models over Delta tables: it reads a snapshot as a SQL
// relation and writes a query's result into a table. Every implementation commits through
// the Go delta package, so commits, txn idempotency and conflict checks are the same
// whichever engine computed the rows.
type Lake interface {
	Engine
	// ScanSQL is a SQL relation over a snapshot's rows, with the table's schema; files, when
	// not nil, restricts it to those of the snapshot's files.
	ScanSQL(ctx context.Context, s *delta.Snapshot, files []delta.FileEntry) (string, error)
	// WriteDelta runs query and commits its rows to tbl in one commit.
	WriteDelta(ctx context.Context, tbl *delta.Table, query string, opts WriteOptions) (*WriteResult, error)
}

// Columns that Staging.ParquetSQL adds to each row.
const (
	ColFile = "_rcmlake_file" // the base name of the file the row came from
	ColRow  = "_rcmlake_row"  // the row's position in that file, from 0
)

// Staging is a Lake that also reads loose Parquet files and keeps temporary tables for the
// length of a build: what silver's staging, quality checks and SCD2 merge need besides scans
// and writes.
type Staging interface {
	Lake
	// ParquetSQL is a relation over Parquet files (lake keys). Columns are matched by name
	// across files (a column a file lacks reads as NULL), and ColFile and ColRow are added.
	ParquetSQL(ctx context.Context, keys []string) (string, error)
	// TempTable computes query once and keeps its rows, under name, until DropTemp.
	TempTable(ctx context.Context, name, query string) error
	// DropTemp releases a temporary table; one that does not exist is no error.
	DropTemp(ctx context.Context, name string) error
}
