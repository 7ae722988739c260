package duckdb

import (
	"context"
	"fmt"
	"strings"

	"github.com/rcmlake/rcmlake/delta"
	"github.com/rcmlake/rcmlake/engine"
)

// LakeEngine is the embedded engine as an engine.Lake: it reads snapshots through local
// copies of their data files (Local) and writes with WriteDelta.
type LakeEngine struct {
	*Engine
	Local Localizer
	// LocalKey gives a local path for any lake file by its key (ParquetSQL).
	LocalKey func(ctx context.Context, key string) (string, error)
}

// ScanSQL implements engine.Lake.
func (l LakeEngine) ScanSQL(ctx context.Context, s *delta.Snapshot, files []delta.FileEntry) (string, error) {
	if files == nil {
		return l.DeltaScanSQL(ctx, s, l.Local)
	}
	return l.DeltaScanFilesSQL(ctx, s, files, l.Local)
}

// ParquetSQL implements engine.Staging.
func (l LakeEngine) ParquetSQL(ctx context.Context, keys []string) (string, error) {
	paths := make([]string, len(keys))
	for i, k := range keys {
		p, err := l.LocalKey(ctx, k)
		if err != nil {
			return "", err
		}
		paths[i] = Literal(p)
	}
	return fmt.Sprintf(`(SELECT * EXCLUDE (_rcmlake_path, file_row_number), parse_filename(_rcmlake_path) AS %s, file_row_number AS %s
		FROM read_parquet([%s], union_by_name = true, hive_partitioning = false, filename = '_rcmlake_path', file_row_number = true))`,
		engine.ColFile, engine.ColRow, strings.Join(paths, ", ")), nil
}

// TempTable implements engine.Staging.
func (l LakeEngine) TempTable(ctx context.Context, name, query string) error {
	return l.Exec(ctx, "CREATE OR REPLACE TEMP TABLE "+quoteIdent(name)+" AS "+query)
}

// DropTemp implements engine.Staging.
func (l LakeEngine) DropTemp(ctx context.Context, name string) error {
	return l.Exec(ctx, "DROP TABLE IF EXISTS "+quoteIdent(name))
}

var _ engine.Staging = LakeEngine{}
