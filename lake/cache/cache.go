// Package cache keeps local copies of remote lake objects, so that an embedded engine
// (DuckDB) can read remote Parquet files as plain local files.
//
// Delta data files are immutable and uniquely named, so a copy is keyed by the storage
// URL, the key and the size, and never needs revalidation. The cache is bounded: the
// least recently localized files are removed once the total passes the limit. Files
// appear by rename only, so no caller, in this process or another one sharing the
// folder, ever sees a half-written copy.
package cache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rcmlake/rcmlake/lake"
)

// DefaultGrace is how long a localized file is safe from eviction. A caller should open
// the path within that time; once open, eviction cannot hurt it (the file is unlinked,
// not truncated).
const DefaultGrace = 10 * time.Minute

// Cache is a bounded folder of local copies. It is safe for concurrent use.
type Cache struct {
	dir      string
	maxBytes int64
	// Grace protects recently localized files from eviction (DefaultGrace).
	Grace time.Duration

	mu       sync.Mutex
	entries  map[string]*entry // by file path
	total    int64
	inflight map[string]*download
}

type entry struct {
	size    int64
	used    time.Time // last Localize
	touched time.Time // last mtime update on disk, which carries LRU order across runs
}

type download struct {
	done chan struct{}
	err  error
}

// New opens (or creates) a cache in dir holding at most maxBytes, taking in the copies a
// previous run left there.
func New(dir string, maxBytes int64) (*Cache, error) {
	if maxBytes <= 0 {
		return nil, fmt.Errorf("cache %s: the size limit must be positive, got %d", dir, maxBytes)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("cache %s: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("cache %s: %w", dir, err)
	}
	c := &Cache{dir: abs, maxBytes: maxBytes, Grace: DefaultGrace, entries: map[string]*entry{}, inflight: map[string]*download{}}
	if err := c.scan(); err != nil {
		return nil, fmt.Errorf("cache %s: %w", dir, err)
	}
	c.mu.Lock()
	c.evictLocked("")
	c.mu.Unlock()
	return c, nil
}

// Dir is the cache folder.
func (c *Cache) Dir() string { return c.dir }

// Size is the number of bytes the cache holds.
func (c *Cache) Size() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total
}

// nameRE matches cached file names: <hash>-<size>[.ext].
var nameRE = regexp.MustCompile(`^[0-9a-f]{40}-([0-9]+)(\.[a-z0-9]{1,16})?$`)

// scan adopts the copies on disk and removes what is not a valid copy: files whose size
// does not match their name (a crash before the data reached the disk) and stale
// temporary files.
func (c *Cache) scan() error {
	return filepath.WalkDir(c.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		name := d.Name()
		if strings.HasPrefix(name, ".dl-") {
			// Another process may still be writing it; remove only old leftovers.
			if time.Since(info.ModTime()) > time.Hour {
				os.Remove(p)
			}
			return nil
		}
		m := nameRE.FindStringSubmatch(name)
		if m == nil {
			return nil // not ours; leave it
		}
		size, _ := strconv.ParseInt(m[1], 10, 64)
		if info.Size() != size {
			os.Remove(p)
			return nil
		}
		c.entries[p] = &entry{size: size, used: info.ModTime(), touched: info.ModTime()}
		c.total += size
		return nil
	})
}

// Localize returns a local path holding the object key of s. For a storage whose
// objects are local files already (lake.LocalPather) it is the file itself; otherwise a
// copy in the cache, downloaded on first use. A missing object gives an error wrapping
// lake.ErrNotExist.
func (c *Cache) Localize(ctx context.Context, s lake.Storage, key string) (string, error) {
	if lp, ok := s.(lake.LocalPather); ok {
		return localPath(lp, key)
	}
	info, err := s.Stat(ctx, key)
	if err != nil {
		return "", err
	}
	return c.LocalizeSize(ctx, s, key, info.Size)
}

// LocalizeSize is Localize for a caller that knows the object's size (a Delta add action
// records it), which saves a round trip per file on a cache hit.
func (c *Cache) LocalizeSize(ctx context.Context, s lake.Storage, key string, size int64) (string, error) {
	if lp, ok := s.(lake.LocalPather); ok {
		return localPath(lp, key)
	}
	if size < 0 {
		return "", fmt.Errorf("cache: %s: negative size %d", key, size)
	}
	p := c.path(s.URL(), key, size)
	for {
		c.mu.Lock()
		if e, ok := c.entries[p]; ok {
			if _, err := os.Stat(p); err == nil {
				c.touchLocked(p, e)
				c.mu.Unlock()
				return p, nil
			}
			// Removed behind our back (another process evicted it): fetch again.
			c.total -= e.size
			delete(c.entries, p)
		}
		if d, ok := c.inflight[p]; ok {
			c.mu.Unlock()
			select {
			case <-d.done:
			case <-ctx.Done():
				return "", ctx.Err()
			}
			if d.err != nil {
				if isCancel(d.err) && ctx.Err() == nil {
					continue // the downloader gave up, we did not: try ourselves
				}
				return "", d.err
			}
			continue // the entry is there now (unless already evicted: then fetch again)
		}
		d := &download{done: make(chan struct{})}
		c.inflight[p] = d
		c.mu.Unlock()

		d.err = c.fetch(ctx, s, key, size, p)
		c.mu.Lock()
		delete(c.inflight, p)
		if d.err == nil {
			now := time.Now()
			if old, ok := c.entries[p]; ok {
				c.total -= old.size
			}
			c.entries[p] = &entry{size: size, used: now, touched: now}
			c.total += size
			c.evictLocked(p)
		}
		c.mu.Unlock()
		close(d.done)
		if d.err != nil {
			return "", d.err
		}
		return p, nil
	}
}

func isCancel(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

func localPath(lp lake.LocalPather, key string) (string, error) {
	p := lp.LocalPath(key)
	fi, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && fi.IsDir()) {
		return "", fmt.Errorf("%s: %w", key, lake.ErrNotExist)
	}
	if err != nil {
		return "", err
	}
	return p, nil
}

// path names the copy: a hash of storage URL and key (no key text on disk, which may
// hold partition values), the size, and the key's extension, which engines use to pick a
// reader.
func (c *Cache) path(storageURL, key string, size int64) string {
	sum := sha256.Sum256([]byte(storageURL + "\x00" + key))
	h := hex.EncodeToString(sum[:20])
	name := h + "-" + strconv.FormatInt(size, 10)
	if ext := strings.ToLower(path.Ext(key)); nameRE.MatchString(h + "-0" + ext) {
		name += ext
	}
	return filepath.Join(c.dir, h[:2], name)
}

// fetch downloads into a temporary file beside p and renames it into place once the
// whole object, of the expected size, is on disk.
func (c *Cache) fetch(ctx context.Context, s lake.Storage, key string, size int64, p string) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("cache %s: %w", c.dir, err)
	}
	rc, err := s.Get(ctx, key)
	if err != nil {
		return err
	}
	defer rc.Close()
	f, err := os.CreateTemp(filepath.Dir(p), ".dl-*")
	if err != nil {
		return fmt.Errorf("cache %s: %w", c.dir, err)
	}
	n, err := io.Copy(f, rc)
	if err == nil && n != size {
		err = fmt.Errorf("got %d bytes, expected %d: the object changed or the size given is wrong", n, size)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), p)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("cache: localizing %s from %s: %w", key, s.URL(), err)
	}
	return nil
}

// touchLocked records a use; the file's mtime is updated at most once a minute, so that
// a later run still knows which copies are cold.
func (c *Cache) touchLocked(p string, e *entry) {
	now := time.Now()
	e.used = now
	if now.Sub(e.touched) > time.Minute {
		e.touched = now
		_ = os.Chtimes(p, now, now)
	}
}

// evictLocked removes least recently used copies until the cache fits its limit, never
// keep (just localized) nor files used within the grace period; if only those remain,
// the cache stays over its limit until they age.
func (c *Cache) evictLocked(keep string) {
	if c.total <= c.maxBytes {
		return
	}
	type cand struct {
		p string
		e *entry
	}
	var cands []cand
	cutoff := time.Now().Add(-c.Grace)
	for p, e := range c.entries {
		if p != keep && !e.used.After(cutoff) {
			cands = append(cands, cand{p, e})
		}
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].e.used.Before(cands[j].e.used) })
	for _, cd := range cands {
		if c.total <= c.maxBytes {
			return
		}
		if err := os.Remove(cd.p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			continue
		}
		c.total -= cd.e.size
		delete(c.entries, cd.p)
	}
}
