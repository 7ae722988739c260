// Package lakehouse wires a config to the running parts: the lake storage, the local cache of
// remote data files and the SQL engine, and resolves catalog names to Delta tables.
package lakehouse

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/rcmlake/rcmlake/catalog"
	"github.com/rcmlake/rcmlake/config"
	"github.com/rcmlake/rcmlake/delta"
	"github.com/rcmlake/rcmlake/engine"
	"github.com/rcmlake/rcmlake/engine/duckdb"
	"github.com/rcmlake/rcmlake/engine/spark"
	"github.com/rcmlake/rcmlake/lake"
	"github.com/rcmlake/rcmlake/lake/azure"
	"github.com/rcmlake/rcmlake/lake/cache"
	"github.com/rcmlake/rcmlake/lake/open"
	"github.com/rcmlake/rcmlake/lake/s3"
	"github.com/rcmlake/rcmlake/secrets"
)

// Lakehouse is an open lake with its engines.
type Lakehouse struct {
	Store lake.Storage
	Cache *cache.Cache
	// Engine is the embedded engine: rcmlake's own reads and writes (audit rows, queries, the
	// dashboard, file statistics and commits) run on it whichever engine runs the models.
	Engine *duckdb.Engine
	// Models runs the silver and gold models and the KPIs: the embedded engine, or Spark
	// (engine.name: spark). Both commit through the same Go delta path.
	Models engine.Staging
}

// Open opens the lake a config names, resolving its credential references.
func Open(ctx context.Context, cfg *config.Config, r *secrets.Resolver) (*Lakehouse, error) {
	opts := open.Options{Endpoint: cfg.Lake.Endpoint, Create: true}
	creds := map[string]string{}
	for k, ref := range cfg.Lake.Credentials {
		v, err := r.Resolve(ctx, ref)
		if err != nil {
			return nil, fmt.Errorf("lake credentials %s: %w", k, err)
		}
		creds[k] = v
	}
	opts.Azure = azure.Credentials{ConnectionString: creds["connection_string"], AccountKey: creds["account_key"], SASToken: creds["sas_token"]}
	opts.AzureAccount = creds["account"]
	opts.S3 = s3.Credentials{AccessKeyID: creds["access_key_id"], SecretAccessKey: creds["secret_access_key"], SessionToken: creds["session_token"]}
	opts.S3Region = creds["region"]
	store, err := open.Open(ctx, cfg.ResolvePath(cfg.Lake.Root), opts)
	if err != nil {
		return nil, err
	}
	lh, err := openWith(store, cfg.ResolvePath(cfg.Lake.CacheDir), duckdb.Options{MemoryLimit: cfg.Engine.MemoryLimit, Threads: cfg.Engine.Threads, TempDir: cfg.ResolvePath(cfg.Engine.TempDir)})
	if err != nil {
		return nil, err
	}
	if cfg.Engine.Name == "spark" {
		if err := lh.openSpark(ctx, cfg.Engine.Remote, r); err != nil {
			lh.Close()
			return nil, err
		}
	}
	return lh, nil
}

// openSpark makes a Spark Connect session run the models. The connection string may hold
// ${secret:...} references (the Databricks token); they are resolved here, and the resolver
// remembers the values so logs redact them.
func (l *Lakehouse) openSpark(ctx context.Context, remote string, r *secrets.Resolver) error {
	if remote == "" {
		remote = os.Getenv("SPARK_REMOTE")
	}
	if remote == "" {
		return fmt.Errorf("engine spark needs engine.remote (or $SPARK_REMOTE): a Spark Connect URL such as sc://127.0.0.1:15002")
	}
	if r != nil {
		v, err := r.Resolve(ctx, remote)
		if err != nil {
			return fmt.Errorf("engine.remote: %w", err)
		}
		remote = v
	}
	se, err := spark.Open(ctx, spark.Options{Remote: remote, Store: l.Store, Commit: l.Engine, LocalPath: l.LocalPath})
	if err != nil {
		return err
	}
	l.Models = se
	return nil
}

// OpenStorage wraps an already open storage (a table path given on the command line).
func OpenStorage(store lake.Storage) (*Lakehouse, error) {
	return openWith(store, "", duckdb.Options{})
}

func openWith(store lake.Storage, cacheDir string, eo duckdb.Options) (*Lakehouse, error) {
	if cacheDir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			base = os.TempDir()
		}
		cacheDir = filepath.Join(base, "rcmlake")
	}
	c, err := cache.New(cacheDir, 20<<30)
	if err != nil {
		return nil, err
	}
	e, err := duckdb.Open(eo)
	if err != nil {
		return nil, err
	}
	lh := &Lakehouse{Store: store, Cache: c, Engine: e}
	lh.Models = duckdb.LakeEngine{Engine: e, Local: lh.Localizer(), LocalKey: lh.LocalPath}
	return lh, nil
}

// Close releases the engines.
func (l *Lakehouse) Close() error {
	if l.Models != nil && l.Models.Name() != "duckdb" {
		l.Models.Close()
	}
	return l.Engine.Close()
}

// Table is the Delta table behind a catalog name.
func (l *Lakehouse) Table(n catalog.Name) *delta.Table { return delta.Open(l.Store, n.Key()) }

// Snapshot loads a table at the version or time its name pins, or the latest.
func (l *Lakehouse) Snapshot(ctx context.Context, t *delta.Table, n catalog.Name) (*delta.Snapshot, error) {
	switch {
	case n.Version != nil:
		return t.At(ctx, *n.Version)
	case n.AsOf != nil:
		return t.AsOf(ctx, *n.AsOf)
	}
	return t.Latest(ctx)
}

// Localizer gives DuckDB local paths for a snapshot's data files.
func (l *Lakehouse) Localizer() duckdb.Localizer {
	return func(ctx context.Context, f delta.FileEntry) (string, error) {
		return l.Cache.LocalizeSize(ctx, l.Store, f.Key, f.Size)
	}
}

// LocalPath is a local path for a lake file: the file itself on local disk, otherwise a
// cached copy.
func (l *Lakehouse) LocalPath(ctx context.Context, key string) (string, error) {
	if lp, ok := l.Store.(lake.LocalPather); ok {
		return filepath.Clean(lp.LocalPath(key)), nil
	}
	return l.Cache.Localize(ctx, l.Store, key)
}

// ScanSQL is a SQL relation over a snapshot's rows.
func (l *Lakehouse) ScanSQL(ctx context.Context, s *delta.Snapshot) (string, error) {
	return l.Engine.DeltaScanSQL(ctx, s, l.Localizer())
}

// ScanFilesSQL is a SQL relation over some of a snapshot's files, with the table's schema.
func (l *Lakehouse) ScanFilesSQL(ctx context.Context, s *delta.Snapshot, files []delta.FileEntry) (string, error) {
	return l.Engine.DeltaScanFilesSQL(ctx, s, files, l.Localizer())
}

// IsURL reports whether a table argument is a storage URL rather than a path or a name.
func IsURL(s string) bool { return strings.Contains(s, "://") }
