package main

import (
	"context"
	"fmt"
	"time"

	"github.com/rcmlake/rcmlake/catalog"
	"github.com/rcmlake/rcmlake/config"
	"github.com/rcmlake/rcmlake/delta"
	"github.com/rcmlake/rcmlake/lake/open"
	"github.com/rcmlake/rcmlake/lakehouse"
)

// tableRef is a table named on the command line, opened.
type tableRef struct {
	lh    *lakehouse.Lakehouse
	table *delta.Table
	name  catalog.Name // zero for a path or URL
}

// openTable resolves a table argument: a catalog name (silver.patients, gold.x@v3) through
// the config's lake, or a table folder given as a path or URL.
func openTable(ctx context.Context, arg string) (*tableRef, error) {
	if catalog.IsName(arg) {
		n, err := catalog.Parse(arg)
		if err != nil {
			return nil, usageError{err}
		}
		cfg, err := loadConfig(ctx, gflags.configPath)
		if err != nil {
			return nil, fmt.Errorf("%s names a catalog table, which needs the config: %w", arg, err)
		}
		lh, err := lakehouse.Open(ctx, cfg, resolver)
		if err != nil {
			return nil, err
		}
		return &tableRef{lh: lh, table: lh.Table(n), name: n}, nil
	}
	store, err := open.Open(ctx, arg, open.Options{})
	if err != nil {
		return nil, err
	}
	lh, err := lakehouse.OpenStorage(store)
	if err != nil {
		return nil, err
	}
	return &tableRef{lh: lh, table: delta.Open(store, "")}, nil
}

// snapshot loads the version the flags or the name ask for.
func (r *tableRef) snapshot(ctx context.Context, version int64, asOf string) (*delta.Snapshot, error) {
	switch {
	case version >= 0 && asOf != "":
		return nil, usagef("give --version or --as-of, not both")
	case version >= 0:
		return r.table.At(ctx, version)
	case asOf != "":
		t, err := catalog.ParseTime(asOf)
		if err != nil {
			return nil, usageError{err}
		}
		return r.table.AsOf(ctx, t)
	}
	return r.lh.Snapshot(ctx, r.table, r.name)
}

func (r *tableRef) Close() { r.lh.Close() }

func fmtTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05Z") }

// openLake loads the config and opens its lake, for the commands that work on the pipeline.
func openLake(ctx context.Context) (*config.Config, *lakehouse.Lakehouse, error) {
	return openLakeEngine(ctx, "")
}

// openLakeEngine is openLake with the engine that runs the models chosen on the command line
// (--engine duckdb|spark), over the config's engine.name. Spark's endpoint comes from
// engine.remote, else $SPARK_REMOTE.
func openLakeEngine(ctx context.Context, engineName string) (*config.Config, *lakehouse.Lakehouse, error) {
	cfg, err := loadConfig(ctx, gflags.configPath)
	if err != nil {
		return nil, nil, err
	}
	switch engineName {
	case "":
	case "duckdb", "spark":
		cfg.Engine.Name = engineName
	default:
		return nil, nil, usagef("--engine %q: want duckdb or spark", engineName)
	}
	lh, err := lakehouse.Open(ctx, cfg, resolver)
	if err != nil {
		return nil, nil, err
	}
	return cfg, lh, nil
}
