package delta

import (
	"context"
	"fmt"
	"testing"

	"github.com/rcmlake/rcmlake/lake/file"
)

// buildTable commits n versions, each adding one file and removing the previous one.
func buildTable(b *testing.B, n int, checkpointInterval string) *Table {
	b.Helper()
	st, err := file.New(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	t := Open(st, "t")
	ctx := context.Background()
	tx := t.Begin(nil, "CREATE TABLE")
	tx.SetMetadata(&StructType{Fields: []StructField{{Name: "id", Type: DataType{Primitive: "long"}, Nullable: true}}}, nil,
		map[string]string{"delta.checkpointInterval": checkpointInterval})
	tx.Add(Add{Path: "f0.parquet", Size: 10, DataChange: true, Stats: `{"numRecords":1}`})
	if _, err := tx.Commit(ctx); err != nil {
		b.Fatal(err)
	}
	for i := 1; i < n; i++ {
		s, err := t.Latest(ctx)
		if err != nil {
			b.Fatal(err)
		}
		tx := t.Begin(s, "WRITE")
		tx.Remove(s.Files()[0])
		tx.Add(Add{Path: fmt.Sprintf("f%d.parquet", i), Size: 10, DataChange: true, Stats: `{"numRecords":1}`})
		if _, err := tx.Commit(ctx); err != nil {
			b.Fatal(err)
		}
	}
	return t
}

// BenchmarkSnapshot1000Commits loads the latest snapshot of a table with 1,000 commits,
// replaying every JSON commit, and then with checkpoints every 10 commits.
func BenchmarkSnapshot1000Commits(b *testing.B) {
	for _, c := range []struct{ name, interval string }{{"no-checkpoint", "100000"}, {"checkpoint-every-10", "10"}} {
		b.Run(c.name, func(b *testing.B) {
			t := buildTable(b, 1000, c.interval)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				s, err := t.Latest(context.Background())
				if err != nil || s.Version != 999 || len(s.Files()) != 1 {
					b.Fatalf("%v %v", s, err)
				}
			}
		})
	}
}
