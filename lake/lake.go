// Package lake is the storage interface under every layer of the lakehouse.
//
// A Storage holds objects addressed by slash-separated keys relative to its root
// (for example "silver/patients/_delta_log/00000000000000000003.json"). Backends live in
// sub-packages, one per outside dependency: file (local disk), azure (Blob/ADLS Gen2) and
// s3. They import this package, never the reverse.
package lake

import (
	"context"
	"errors"
	"io"
	"time"
)

// ErrNotExist is returned (wrapped) when an object does not exist.
var ErrNotExist = errors.New("lake: object does not exist")

// ErrExists is returned (wrapped) by PutIfAbsent when the object is already there.
var ErrExists = errors.New("lake: object already exists")

// ObjectInfo describes one stored object.
type ObjectInfo struct {
	Key     string    // slash-separated, relative to the storage root
	Size    int64     // bytes
	ModTime time.Time // last modification, as the backend reports it
}

// Storage is the small interface every backend implements.
type Storage interface {
	// Get opens an object for reading. A missing object gives an error wrapping ErrNotExist.
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	// Put writes an object, replacing any earlier one. Used for immutable, uniquely named
	// data files and for files whose overwrite is harmless (hints, caches).
	Put(ctx context.Context, key string, r io.Reader) error
	// PutIfAbsent atomically creates an object only if no object has that key; otherwise it
	// returns an error wrapping ErrExists and leaves the existing object untouched.
	// Delta commits rely on it: a version file is never overwritten.
	PutIfAbsent(ctx context.Context, key string, data []byte) error
	// Stat describes one object. A missing object gives an error wrapping ErrNotExist.
	Stat(ctx context.Context, key string) (ObjectInfo, error)
	// List returns every object whose key starts with prefix, sorted by key.
	// The prefix is a plain string prefix, not necessarily a folder.
	List(ctx context.Context, prefix string) ([]ObjectInfo, error)
	// Delete removes an object. Deleting a missing object is not an error.
	Delete(ctx context.Context, key string) error
	// URL is the location of the storage root, for messages and for engines that read the
	// storage directly (e.g. Spark). It never contains credentials.
	URL() string
}

// LocalPather is implemented by backends whose objects are plain local files, so that an
// embedded engine can read them in place instead of through a cache.
type LocalPather interface {
	LocalPath(key string) string
}

// ReadAll reads a whole object.
func ReadAll(ctx context.Context, s Storage, key string) ([]byte, error) {
	rc, err := s.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}
