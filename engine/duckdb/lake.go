package duckdb

import (
	"context"

	"github.com/rcmlake/rcmlake/delta"
	"github.com/rcmlake/rcmlake/engine"
)

// LakeEngine is the embedded engine as an engine.Lake: it reads snapshots through local
// copies of their data files (Local) and writes with WriteDelta.
type LakeEngine struct {
	*Engine
	Local Localizer
}

// ScanSQL implements engine.Lake.
func (l LakeEngine) ScanSQL(ctx context.Context, s *delta.Snapshot, files []delta.FileEntry) (string, error) {
	if files == nil {
		return l.DeltaScanSQL(ctx, s, l.Local)
	}
	return l.DeltaScanFilesSQL(ctx, s, files, l.Local)
}

var _ engine.Lake = LakeEngine{}
