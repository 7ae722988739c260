// Package spark runs the models on Apache Spark (or Databricks) through Spark Connect.
//
// Spark computes, rcmlake commits: a model's result is written by Spark as Parquet into a
// staging folder of the lake; rcmlake reads each file's row count and statistics and commits
// the files with the same Go delta commit path the embedded engine uses (txns,
// put-if-absent, conflict checks). Inputs reach Spark as temporary views over the exact data
// files of the snapshot rcmlake chose, so both engines read the same rows.
package spark

import (
	"context"
	"fmt"
	"path"
	"path/filepath"
	"strings"
	"sync/atomic"

	"github.com/google/uuid"

	"github.com/rcmlake/rcmlake/delta"
	"github.com/rcmlake/rcmlake/engine"
	"github.com/rcmlake/rcmlake/engine/duckdb"
	"github.com/rcmlake/rcmlake/engine/spark/connect"
	"github.com/rcmlake/rcmlake/lake"
)

// StagingPrefix is the lake folder Spark writes results into before rcmlake commits them.
// Leftovers of a crashed write hold no committed data and may be deleted.
const StagingPrefix = "_staging/spark"

// SessionConf is set on every session: UTC times, and Parquet that the Delta protocol and
// the embedded engine read as they read their own (INT64 microsecond timestamps, not INT96).
var SessionConf = map[string]string{
	"spark.sql.session.timeZone":               "UTC",
	"spark.sql.parquet.outputTimestampType":    "TIMESTAMP_MICROS",
	"spark.sql.parquet.compression.codec":      "zstd",
	"spark.sql.parquet.writeLegacyFormat":      "false",
	"spark.sql.sources.partitionOverwriteMode": "static",
}

// Engine is a Spark Connect session that runs models over the lake.
type Engine struct {
	c      *connect.Client
	commit *duckdb.Engine // reads staged files' statistics and commits them
	store  lake.Storage
	uri    URIMapper
	local  func(ctx context.Context, key string) (string, error)
	views  atomic.Int64
}

// URIMapper turns a lake storage key into a URI the Spark cluster can open.
type URIMapper func(key string) string

// Options open an Engine.
type Options struct {
	// Remote is the Spark Connect connection string, its token already resolved.
	Remote string
	// Store is the lake; URI maps its keys for Spark (default: LakeURI(Store)).
	Store lake.Storage
	URI   URIMapper
	// Commit is the embedded engine that reads staged files and commits them.
	Commit *duckdb.Engine
	// LocalPath gives a local path for a lake key (the file itself, or a cached copy).
	LocalPath func(ctx context.Context, key string) (string, error)
	Connect   connect.Options
}

// Open connects to Spark and prepares the session.
func Open(ctx context.Context, o Options) (*Engine, error) {
	uri := o.URI
	if uri == nil {
		var err error
		if uri, err = LakeURI(o.Store); err != nil {
			return nil, err
		}
	}
	c, err := connect.Dial(ctx, o.Remote, o.Connect)
	if err != nil {
		return nil, err
	}
	if err := c.SetConf(ctx, SessionConf); err != nil {
		c.Close()
		return nil, fmt.Errorf("spark session settings: %w", err)
	}
	return &Engine{c: c, commit: o.Commit, store: o.Store, uri: uri, local: o.LocalPath}, nil
}

// LakeURI is the one place lake keys become Spark URIs: a local lake is a file: path (Spark
// must run on the same machine or see the same mount); S3 becomes s3a://; ADLS Gen2 stays
// abfss://.
func LakeURI(store lake.Storage) (URIMapper, error) {
	if lp, ok := store.(lake.LocalPather); ok {
		return func(key string) string {
			p, _ := filepath.Abs(lp.LocalPath(key))
			return "file://" + filepath.ToSlash(p)
		}, nil
	}
	base := strings.TrimSuffix(store.URL(), "/")
	switch {
	case strings.HasPrefix(base, "s3://"):
		base = "s3a://" + strings.TrimPrefix(base, "s3://")
	case strings.HasPrefix(base, "abfss://"), strings.HasPrefix(base, "s3a://"), strings.HasPrefix(base, "gs://"):
	default:
		return nil, fmt.Errorf("spark: the lake %s has no URI a Spark cluster can open; use a local folder, abfss:// or s3://", base)
	}
	return func(key string) string { return base + "/" + key }, nil
}

// Client is the underlying Spark Connect session.
func (e *Engine) Client() *connect.Client { return e.c }

// Name implements engine.Engine.
func (e *Engine) Name() string { return "spark" }

// Exec implements engine.Engine.
func (e *Engine) Exec(ctx context.Context, query string) error { return e.c.Exec(ctx, query) }

// Query implements engine.Engine. Decimals come back as connect.Decimal.
func (e *Engine) Query(ctx context.Context, query string) (*engine.Result, error) {
	r, err := e.c.Query(ctx, query)
	if err != nil {
		return nil, err
	}
	return &engine.Result{Columns: r.Columns, Types: r.Types, Rows: r.Rows}, nil
}

// Close releases the session.
func (e *Engine) Close() error { return e.c.Close() }

// ScanSQL implements engine.Lake: a temporary view over the snapshot's data files (or the
// given ones), read with the table's schema, so Spark sees exactly the snapshot rcmlake
// resolved.
func (e *Engine) ScanSQL(ctx context.Context, s *delta.Snapshot, files []delta.FileEntry) (string, error) {
	if s.Schema == nil {
		return "", fmt.Errorf("delta %s: the table has no schema", s.Table().Location())
	}
	if len(s.Metadata.PartitionColumns) > 0 {
		return "", fmt.Errorf("delta %s: partitioned tables are not read by the Spark engine yet", s.Table().Location())
	}
	if files == nil {
		files = s.Files()
	}
	var cols, nulls []string
	for _, f := range s.Schema.Fields {
		t, err := sparkType(f.Type)
		if err != nil {
			return "", fmt.Errorf("delta %s: column %s: %w", s.Table().Location(), f.Name, err)
		}
		cols = append(cols, Ident(f.Name)+" "+t)
		nulls = append(nulls, "CAST(NULL AS "+t+") AS "+Ident(f.Name))
	}
	if len(files) == 0 {
		return "(SELECT " + strings.Join(nulls, ", ") + " WHERE FALSE)", nil
	}
	paths := make([]string, len(files))
	for i, f := range files {
		paths[i] = e.uri(f.Key)
	}
	name := fmt.Sprintf("rcmlake_scan_%d", e.views.Add(1))
	if err := e.c.CreateParquetView(ctx, name, paths, strings.Join(cols, ", "), nil); err != nil {
		return "", fmt.Errorf("delta %s: %w", s.Table().Location(), err)
	}
	return name, nil
}

// WriteDelta implements engine.Lake: Spark writes the query's rows as Parquet into a fresh
// staging folder; the embedded engine reads the files' statistics and commits them.
func (e *Engine) WriteDelta(ctx context.Context, tbl *delta.Table, query string, opts engine.WriteOptions) (*engine.WriteResult, error) {
	if len(opts.PartitionBy) > 0 {
		return nil, fmt.Errorf("delta %s: the Spark engine does not write partitioned tables yet", tbl.Location())
	}
	stage := path.Join(StagingPrefix, uuid.NewString())
	defer e.cleanup(context.WithoutCancel(ctx), stage)
	if err := e.c.Exec(ctx, "INSERT OVERWRITE DIRECTORY "+Literal(e.uri(stage))+" USING parquet SELECT * FROM ("+query+") q"); err != nil {
		return nil, fmt.Errorf("delta %s: %w", tbl.Location(), err)
	}
	objs, err := e.store.List(ctx, stage+"/")
	if err != nil {
		return nil, err
	}
	var staged []duckdb.StagedFile
	for _, o := range objs {
		base := path.Base(o.Key)
		if !strings.HasSuffix(base, ".parquet") || strings.HasPrefix(base, ".") || strings.HasPrefix(base, "_") {
			continue
		}
		lp, err := e.local(ctx, o.Key)
		if err != nil {
			return nil, err
		}
		staged = append(staged, duckdb.StagedFile{Key: o.Key, Local: lp})
	}
	return e.commit.CommitFiles(ctx, tbl, staged, opts)
}

// cleanup removes what is left of a staging folder (Spark's _SUCCESS and checksum files, or
// the data files of a write that failed before its commit).
func (e *Engine) cleanup(ctx context.Context, stage string) {
	objs, err := e.store.List(ctx, stage+"/")
	if err != nil {
		return
	}
	for _, o := range objs {
		_ = e.store.Delete(ctx, o.Key)
	}
	if lp, ok := e.store.(lake.LocalPather); ok {
		removeEmptyDirs(lp.LocalPath(stage))
	}
}

// ParquetSQL implements engine.Staging: a temporary view over the files, their schemas
// merged by name, with each row's file name and position from the _metadata column.
func (e *Engine) ParquetSQL(ctx context.Context, keys []string) (string, error) {
	uris := make([]string, len(keys))
	for i, k := range keys {
		uris[i] = e.uri(k)
	}
	name := fmt.Sprintf("rcmlake_files_%d", e.views.Add(1))
	if err := e.c.CreateParquetView(ctx, name, uris, "", map[string]string{"mergeSchema": "true"},
		"*", "_metadata.file_name AS "+engine.ColFile, "_metadata.row_index AS "+engine.ColRow); err != nil {
		return "", err
	}
	return name, nil
}

// TempTable implements engine.Staging with CACHE TABLE, which computes the query at once
// and keeps its rows (in memory, spilling to disk) until DropTemp.
func (e *Engine) TempTable(ctx context.Context, name, query string) error {
	if err := e.DropTemp(ctx, name); err != nil {
		return err
	}
	return e.c.Exec(ctx, "CACHE TABLE "+Ident(name)+" AS "+query)
}

// DropTemp implements engine.Staging.
func (e *Engine) DropTemp(ctx context.Context, name string) error {
	if err := e.c.Exec(ctx, "UNCACHE TABLE IF EXISTS "+Ident(name)); err != nil {
		return err
	}
	return e.c.Exec(ctx, "DROP VIEW IF EXISTS "+Ident(name))
}

var _ engine.Staging = (*Engine)(nil)
