package cache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rcmlake/rcmlake/internal/testenv"
	"github.com/rcmlake/rcmlake/lake"
	"github.com/rcmlake/rcmlake/lake/file"
)

// remote hides file.Storage's LocalPath, so the cache treats it as a remote store, and
// counts downloads.
type remote struct {
	lake.Storage
	gets  atomic.Int32
	delay time.Duration
}

func (r *remote) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	r.gets.Add(1)
	if r.delay > 0 {
		time.Sleep(r.delay)
	}
	return r.Storage.Get(ctx, key)
}

func newRemote(t *testing.T) *remote {
	s, err := file.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return &remote{Storage: s}
}

func put(t *testing.T, s lake.Storage, key string, data []byte) {
	t.Helper()
	if err := s.Put(context.Background(), key, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
}

// goldenParquet copies the Parquet files of a golden Delta table from the shared data
// into s, returning their keys and contents.
func goldenParquet(t *testing.T, s lake.Storage) map[string][]byte {
	t.Helper()
	dir := filepath.Join(testenv.SharedDir(t), "delta-golden", "data-reader-primitives")
	matches, err := filepath.Glob(filepath.Join(dir, "*.parquet"))
	if err != nil || len(matches) == 0 {
		t.Fatalf("no parquet files in %s: %v", dir, err)
	}
	out := map[string][]byte{}
	for _, m := range matches {
		b, err := os.ReadFile(m)
		if err != nil {
			t.Fatal(err)
		}
		key := "silver/primitives/" + filepath.Base(m)
		put(t, s, key, b)
		out[key] = b
	}
	return out
}

func TestLocalizeRemote(t *testing.T) {
	r := newRemote(t)
	files := goldenParquet(t, r)
	c, err := New(t.TempDir(), 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for key, want := range files {
		p, err := c.Localize(ctx, r, key)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(p, c.Dir()) || filepath.Ext(p) != ".parquet" {
			t.Fatalf("Localize(%s) = %s, want a .parquet file under %s", key, p, c.Dir())
		}
		got, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("local copy of %s differs from the object", key)
		}
		// A hit neither downloads nor moves the file.
		before := r.gets.Load()
		p2, err := c.LocalizeSize(ctx, r, key, int64(len(want)))
		if err != nil || p2 != p {
			t.Fatalf("second Localize = %s, %v; want %s", p2, err, p)
		}
		if r.gets.Load() != before {
			t.Fatal("a cache hit downloaded the object again")
		}
	}
	var total int64
	for _, b := range files {
		total += int64(len(b))
	}
	if c.Size() != total {
		t.Fatalf("Size = %d, want %d", c.Size(), total)
	}
}

func TestLocalPatherInPlace(t *testing.T) {
	s, err := file.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	put(t, s, "a/b.parquet", []byte("PAR1"))
	c, err := New(t.TempDir(), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.Localize(context.Background(), s, "a/b.parquet")
	if err != nil {
		t.Fatal(err)
	}
	if p != s.LocalPath("a/b.parquet") {
		t.Fatalf("Localize on local disk = %s, want the file in place %s", p, s.LocalPath("a/b.parquet"))
	}
	if c.Size() != 0 {
		t.Fatal("a local file was copied into the cache")
	}
	if _, err := c.Localize(context.Background(), s, "a/missing"); !errors.Is(err, lake.ErrNotExist) {
		t.Fatalf("missing local object: %v, want ErrNotExist", err)
	}
}

func TestMissingAndWrongSize(t *testing.T) {
	r := newRemote(t)
	put(t, r, "x.parquet", []byte("0123456789"))
	dir := t.TempDir()
	c, err := New(dir, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.Localize(ctx, r, "nope.parquet"); !errors.Is(err, lake.ErrNotExist) {
		t.Fatalf("missing object: %v, want ErrNotExist", err)
	}
	_, err = c.LocalizeSize(ctx, r, "x.parquet", 11)
	if err == nil || !strings.Contains(err.Error(), "x.parquet") {
		t.Fatalf("wrong size: %v, want an error naming the key", err)
	}
	// Nothing, not even a temp file, is left behind.
	var left []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			left = append(left, p)
		}
		return nil
	})
	if len(left) != 0 || c.Size() != 0 {
		t.Fatalf("failed downloads left %v (size %d)", left, c.Size())
	}
}

func TestConcurrentCallersDownloadOnce(t *testing.T) {
	r := newRemote(t)
	r.delay = 50 * time.Millisecond
	data := bytes.Repeat([]byte("claims,"), 100000)
	put(t, r, "big.parquet", data)
	c, err := New(t.TempDir(), 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	paths := make([]string, 16)
	errs := make([]error, 16)
	for i := range paths {
		wg.Add(1)
		go func() {
			defer wg.Done()
			paths[i], errs[i] = c.Localize(context.Background(), r, "big.parquet")
			if errs[i] == nil {
				// What a caller sees is always the whole file.
				b, err := os.ReadFile(paths[i])
				if err != nil || !bytes.Equal(b, data) {
					errs[i] = fmt.Errorf("caller %d read %d bytes, %v", i, len(b), err)
				}
			}
		}()
	}
	wg.Wait()
	for i := range paths {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if paths[i] != paths[0] {
			t.Fatalf("callers got different paths %s and %s", paths[0], paths[i])
		}
	}
	if n := r.gets.Load(); n != 1 {
		t.Fatalf("%d downloads for 16 concurrent callers, want 1", n)
	}
}

func TestEvictionLRU(t *testing.T) {
	r := newRemote(t)
	ctx := context.Background()
	for i := range 6 {
		put(t, r, fmt.Sprintf("f%d.parquet", i), bytes.Repeat([]byte{byte(i)}, 1000))
	}
	c, err := New(t.TempDir(), 3500)
	if err != nil {
		t.Fatal(err)
	}
	c.Grace = 0
	paths := map[int]string{}
	for i := range 3 {
		p, err := c.Localize(ctx, r, fmt.Sprintf("f%d.parquet", i))
		if err != nil {
			t.Fatal(err)
		}
		paths[i] = p
		time.Sleep(2 * time.Millisecond) // distinct use times
	}
	// Use f0 again: f1 is now the least recently used.
	if _, err := c.Localize(ctx, r, "f0.parquet"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Millisecond)
	for i := 3; i < 5; i++ {
		p, err := c.Localize(ctx, r, fmt.Sprintf("f%d.parquet", i))
		if err != nil {
			t.Fatal(err)
		}
		paths[i] = p
		time.Sleep(2 * time.Millisecond)
	}
	if c.Size() > 3500 {
		t.Fatalf("cache holds %d bytes, limit 3500", c.Size())
	}
	exists := func(p string) bool { _, err := os.Stat(p); return err == nil }
	if exists(paths[1]) || exists(paths[2]) {
		t.Fatal("the least recently used copies f1 and f2 were not evicted")
	}
	if !exists(paths[0]) || !exists(paths[3]) || !exists(paths[4]) {
		t.Fatal("a recently used copy was evicted")
	}
	// An evicted object comes back on demand.
	if p, err := c.Localize(ctx, r, "f1.parquet"); err != nil || !exists(p) {
		t.Fatalf("re-localizing an evicted file: %v", err)
	}
}

func TestGraceProtectsRecentFiles(t *testing.T) {
	r := newRemote(t)
	ctx := context.Background()
	c, err := New(t.TempDir(), 1500)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for i := range 3 {
		key := fmt.Sprintf("g%d", i)
		put(t, r, key, bytes.Repeat([]byte("x"), 1000))
		p, err := c.Localize(ctx, r, key)
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("a file localized moments ago was evicted within the grace period: %v", err)
		}
	}
}

func TestReopenAdoptsCopies(t *testing.T) {
	r := newRemote(t)
	put(t, r, "keep.parquet", []byte("PAR1 data PAR1"))
	dir := t.TempDir()
	c, err := New(dir, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.Localize(context.Background(), r, "keep.parquet")
	if err != nil {
		t.Fatal(err)
	}
	// A torn copy (size differs from its name) and a stale temp file from a crash.
	torn := filepath.Join(filepath.Dir(p), strings.Repeat("ab", 20)+"-99.parquet")
	os.WriteFile(torn, []byte("short"), 0o644)
	stale := filepath.Join(filepath.Dir(p), ".dl-123")
	os.WriteFile(stale, []byte("partial"), 0o644)
	old := time.Now().Add(-2 * time.Hour)
	os.Chtimes(stale, old, old)

	c2, err := New(dir, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if c2.Size() != int64(len("PAR1 data PAR1")) {
		t.Fatalf("reopened cache size %d, want %d", c2.Size(), len("PAR1 data PAR1"))
	}
	before := r.gets.Load()
	if p2, err := c2.Localize(context.Background(), r, "keep.parquet"); err != nil || p2 != p {
		t.Fatalf("reopened Localize = %s, %v", p2, err)
	}
	if r.gets.Load() != before {
		t.Fatal("the reopened cache downloaded a copy it already had")
	}
	for _, f := range []string{torn, stale} {
		if _, err := os.Stat(f); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s survived reopening", filepath.Base(f))
		}
	}
}

func TestKeyedBySize(t *testing.T) {
	r := newRemote(t)
	ctx := context.Background()
	put(t, r, "k", []byte("v1"))
	c, err := New(t.TempDir(), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	p1, err := c.Localize(ctx, r, "k")
	if err != nil {
		t.Fatal(err)
	}
	put(t, r, "k", []byte("version2"))
	p2, err := c.Localize(ctx, r, "k")
	if err != nil {
		t.Fatal(err)
	}
	if p1 == p2 {
		t.Fatal("a replaced object of another size reused the old copy")
	}
	if b, _ := os.ReadFile(p2); string(b) != "version2" {
		t.Fatalf("copy holds %q", b)
	}
}
