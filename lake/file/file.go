// Package file is the local-disk lake backend, the embedded default.
package file

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/rcmlake/rcmlake/lake"
)

// Storage keeps objects as files under a root folder.
type Storage struct {
	root string
}

// New returns a Storage rooted at dir, creating it if needed.
func New(dir string) (*Storage, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("lake root %q: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("lake root %q: %w", dir, err)
	}
	return &Storage{root: abs}, nil
}

// FromURL opens a file:// URL or a plain path.
func FromURL(raw string) (*Storage, error) {
	if strings.HasPrefix(raw, "file://") {
		u, err := url.Parse(raw)
		if err != nil {
			return nil, fmt.Errorf("lake url %q: %w", raw, err)
		}
		return New(u.Path)
	}
	return New(raw)
}

// Root is the absolute folder behind the storage.
func (s *Storage) Root() string { return s.root }

// URL implements lake.Storage.
func (s *Storage) URL() string { return "file://" + filepath.ToSlash(s.root) }

// LocalPath implements lake.LocalPather.
func (s *Storage) LocalPath(key string) string {
	return filepath.Join(s.root, filepath.FromSlash(key))
}

func (s *Storage) path(key string) (string, error) {
	clean := filepath.ToSlash(filepath.Clean("/" + key))
	if clean == "/" || strings.Contains(key, "\x00") {
		return "", fmt.Errorf("lake: invalid key %q", key)
	}
	return filepath.Join(s.root, filepath.FromSlash(clean[1:])), nil
}

// Get implements lake.Storage.
func (s *Storage) Get(_ context.Context, key string) (io.ReadCloser, error) {
	p, err := s.path(key)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", key, lake.ErrNotExist)
	}
	if err != nil {
		return nil, err
	}
	// A folder is not an object: remote stores have no folders, so neither may we.
	if fi, err := f.Stat(); err == nil && fi.IsDir() {
		f.Close()
		return nil, fmt.Errorf("%s: is a folder: %w", key, lake.ErrNotExist)
	}
	return f, nil
}

// writeTemp writes r to a new temporary file beside the final path and returns its name.
func (s *Storage) writeTemp(p string, r io.Reader) (string, error) {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return "", err
	}
	f, err := os.CreateTemp(filepath.Dir(p), "."+filepath.Base(p)+".tmp-*")
	if err != nil {
		return "", err
	}
	_, err = io.Copy(f, r)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// Put implements lake.Storage: write a temp file, then rename it over the target.
func (s *Storage) Put(_ context.Context, key string, r io.Reader) error {
	p, err := s.path(key)
	if err != nil {
		return err
	}
	tmp, err := s.writeTemp(p, r)
	if err != nil {
		return fmt.Errorf("lake put %s: %w", key, err)
	}
	if err := os.Rename(tmp, p); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("lake put %s: %w", key, err)
	}
	return nil
}

// PutIfAbsent implements lake.Storage. The temp file is hard-linked to the target: link()
// fails if the target exists, so a committed file is never replaced, and readers never see
// a half-written one. rename() would silently overwrite.
func (s *Storage) PutIfAbsent(_ context.Context, key string, data []byte) error {
	p, err := s.path(key)
	if err != nil {
		return err
	}
	tmp, err := s.writeTemp(p, strings.NewReader(string(data)))
	if err != nil {
		return fmt.Errorf("lake put-if-absent %s: %w", key, err)
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, p); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s: %w", key, lake.ErrExists)
		}
		return fmt.Errorf("lake put-if-absent %s: %w", key, err)
	}
	syncDir(filepath.Dir(p))
	return nil
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// Stat implements lake.Storage.
func (s *Storage) Stat(_ context.Context, key string) (lake.ObjectInfo, error) {
	p, err := s.path(key)
	if err != nil {
		return lake.ObjectInfo{}, err
	}
	fi, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && fi.IsDir()) {
		return lake.ObjectInfo{}, fmt.Errorf("%s: %w", key, lake.ErrNotExist)
	}
	if err != nil {
		return lake.ObjectInfo{}, err
	}
	return lake.ObjectInfo{Key: key, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// List implements lake.Storage. It walks only the folder that contains the prefix.
func (s *Storage) List(_ context.Context, prefix string) ([]lake.ObjectInfo, error) {
	dir := prefix
	if i := strings.LastIndex(prefix, "/"); i >= 0 {
		dir = prefix[:i]
	} else {
		dir = ""
	}
	start := filepath.Join(s.root, filepath.FromSlash(dir))
	var out []lake.ObjectInfo
	err := filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(s.root, p)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if !strings.HasPrefix(key, prefix) || isTemp(d.Name()) {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		out = append(out, lake.ObjectInfo{Key: key, Size: fi.Size(), ModTime: fi.ModTime()})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("lake list %s: %w", prefix, err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// isTemp reports the temp files of an unfinished Put, which are never objects.
func isTemp(name string) bool {
	return strings.HasPrefix(name, ".") && strings.Contains(name, ".tmp-")
}

// Delete implements lake.Storage.
func (s *Storage) Delete(_ context.Context, key string) error {
	p, err := s.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("lake delete %s: %w", key, err)
	}
	return nil
}

var _ lake.Storage = (*Storage)(nil)
var _ lake.LocalPather = (*Storage)(nil)
