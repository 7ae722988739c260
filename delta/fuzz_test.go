package delta

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rcmlake/rcmlake/internal/testenv"
)

// seedLogFiles adds the golden tables' commits or checkpoints to a fuzz corpus.
func seedLogFiles(f *testing.F, suffix string) {
	root := filepath.Join(testenv.SharedDir(f), "delta-golden")
	filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && strings.Contains(p, "_delta_log") && strings.HasSuffix(p, suffix) && info.Size() < 1<<20 {
			if data, err := os.ReadFile(p); err == nil {
				f.Add(data)
			}
		}
		return nil
	})
}

// FuzzParseActions: a commit file never panics the parser; what parses re-encodes and parses
// again to the same number of actions.
func FuzzParseActions(f *testing.F) {
	seedLogFiles(f, ".json")
	f.Fuzz(func(t *testing.T, data []byte) {
		acts, err := ParseActions(data)
		if err != nil {
			return
		}
		out, err := MarshalActions(acts)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		again, err := ParseActions(out)
		if err != nil || len(again) != len(acts) {
			t.Fatalf("round trip: %d actions -> %d (%v)", len(acts), len(again), err)
		}
		for _, a := range acts {
			if a.MetaData != nil && a.MetaData.SchemaString != "" {
				a.MetaData.Schema() // must not panic
			}
		}
	})
}

// FuzzParseCheckpoint: a damaged checkpoint is an error, never a panic.
func FuzzParseCheckpoint(f *testing.F) {
	seedLogFiles(f, ".parquet")
	f.Fuzz(func(t *testing.T, data []byte) {
		ParseCheckpoint(data)
	})
}
