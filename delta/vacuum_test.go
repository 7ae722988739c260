package delta

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/rcmlake/rcmlake/lake/file"
)

// TestLogRetention: commits older than the log retention are removed once a checkpoint covers
// them, and every version from that checkpoint on still loads.
func TestLogRetention(t *testing.T) {
	st, err := file.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tbl := Open(st, "t")
	now := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	tbl.Clock = func() time.Time { return now }
	ctx := context.Background()
	commit := func(i int) {
		s, _ := tbl.Latest(ctx)
		tx := tbl.Begin(s, "WRITE")
		if s == nil {
			tx.SetMetadata(&StructType{Fields: []StructField{{Name: "id", Type: DataType{Primitive: "long"}}}}, nil,
				map[string]string{"delta.logRetentionDuration": "interval 2 days"})
		}
		tx.Add(Add{Path: fmt.Sprintf("f%d.parquet", i), Size: 1, DataChange: true, Stats: `{"numRecords":1}`})
		if _, err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		// Age the commit and checkpoint files as the clock moves on.
		old := now
		for _, name := range []string{CommitFileName(int64(i)), fmt.Sprintf("%020d.checkpoint.parquet", i)} {
			os.Chtimes(st.LocalPath("t/_delta_log/"+name), old, old)
		}
		now = now.Add(time.Hour)
	}
	for i := 0; i <= 25; i++ {
		commit(i)
	}
	// 26 hours passed: nothing is older than 2 days yet.
	if _, err := os.Stat(st.LocalPath("t/_delta_log/" + CommitFileName(0))); err != nil {
		t.Fatalf("commit 0 removed too early: %v", err)
	}
	now = now.Add(72 * time.Hour)
	for i := 26; i <= 30; i++ {
		commit(i)
	}
	if _, err := os.Stat(st.LocalPath("t/_delta_log/" + CommitFileName(0))); !os.IsNotExist(err) {
		t.Errorf("commit 0 should be gone after the retention: %v", err)
	}
	for _, v := range []int64{20, 25, 30} {
		if s, err := tbl.At(ctx, v); err != nil || len(s.Files()) != int(v)+1 {
			t.Errorf("version %d after cleanup: %v", v, err)
		}
	}
	if _, err := tbl.At(ctx, 5); err == nil {
		t.Error("version 5 still loads though its commits were cleaned up")
	}
}
