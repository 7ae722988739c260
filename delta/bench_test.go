package delta

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rcmlake/rcmlake/lake"

	"github.com/rcmlake/rcmlake/lake/file"
)

// buildTable commits n versions, each adding one file and removing the previous one.
func buildTable(b testing.TB, n int, checkpointInterval string) *Table {
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

// BenchmarkSnapshot5000Commits opens the latest snapshot of a table of 5,000 commits written
// with rcmlake's checkpoint interval: the last checkpoint and the commits after it, not 5,000
// JSON files (issue #9: under a second). Building the table takes a while; the figure is the
// open alone.
func BenchmarkSnapshot5000Commits(b *testing.B) {
	start := time.Now()
	t := buildTable(b, 5000, strconv.Itoa(CheckpointInterval))
	b.Logf("built 5,000 commits in %v", time.Since(start).Round(time.Millisecond))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s, err := t.Latest(context.Background())
		if err != nil || s.Version != 4999 || len(s.Files()) != 1 {
			b.Fatalf("%v %v", s, err)
		}
	}
}

// getCounter records the keys a table reads.
type getCounter struct {
	lake.Storage
	mu   sync.Mutex
	keys []string
}

func (g *getCounter) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	g.mu.Lock()
	g.keys = append(g.keys, key[strings.LastIndex(key, "/")+1:])
	g.mu.Unlock()
	return g.Storage.Get(ctx, key)
}

// Opening a table reads its last checkpoint and only the commits after it: with rcmlake's
// interval (10), a table at version 24 reads checkpoint 20 and commits 21 to 24, whatever its
// length. This is what keeps a 5,000-commit table quick to open (BenchmarkSnapshot5000Commits).
func TestSnapshotReadsFromLastCheckpoint(t *testing.T) {
	tbl := buildTable(t, 25, strconv.Itoa(CheckpointInterval))
	g := &getCounter{Storage: tbl.Storage()}
	s, err := Open(g, tbl.Root()).Latest(context.Background())
	if err != nil || s.Version != 24 || len(s.Files()) != 1 || s.Files()[0].Path != "f24.parquet" {
		t.Fatalf("latest: %v %v", s, err)
	}
	var read []string
	for _, k := range g.keys {
		if k != "_last_checkpoint" { // the hint, read before listing
			read = append(read, k)
		}
	}
	slices.Sort(read)
	want := []string{fmt.Sprintf("%020d.checkpoint.parquet", 20), CommitFileName(21), CommitFileName(22), CommitFileName(23), CommitFileName(24)}
	slices.Sort(want)
	if !slices.Equal(read, want) {
		t.Errorf("opening version 24 read %v, want only %v", read, want)
	}
}
