package delta

import (
	"os"
	"path/filepath"
	"strconv"
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

// A checkpoint whose LZ4 page is corrupt made parquet-go double its buffer until memory ran
// out (FuzzParseCheckpoint stalled on it, then crashed); the page guard refuses it at once.
func TestCheckpointCorruptLZ4Refused(t *testing.T) {
	data := fuzzInput(t, "FuzzParseCheckpoint", "lz4-corrupt-page")
	if _, err := ParseCheckpoint(data); err == nil || !strings.Contains(err.Error(), "LZ4") {
		t.Fatalf("corrupt LZ4 page: %v", err)
	}
}

// fuzzInput reads a saved fuzz input (testdata/fuzz/<target>/<name>, one []byte value).
func fuzzInput(t *testing.T, target, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "fuzz", target, name))
	if err != nil {
		t.Fatal(err)
	}
	_, lit, ok := strings.Cut(strings.TrimSpace(string(raw)), "[]byte(")
	if !ok {
		t.Fatalf("%s: not a fuzz input", name)
	}
	s, err := strconv.Unquote(strings.TrimSuffix(lit, ")"))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return []byte(s)
}

// The page guard accepts every real checkpoint: all the Spark-written golden ones parse.
func TestGoldenCheckpointsPassTheGuard(t *testing.T) {
	root := filepath.Join(testenv.SharedDir(t), "delta-golden")
	n := 0
	filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() || !strings.Contains(p, ".checkpoint.") || !strings.HasSuffix(p, ".parquet") {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseCheckpoint(data); err != nil {
			t.Errorf("%s: %v", p, err)
		}
		n++
		return nil
	})
	if n == 0 {
		t.Fatal("no golden checkpoints found")
	}
}
