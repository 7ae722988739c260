package lake

import (
	"fmt"
	"strings"
)

// CheckKey rejects keys that object stores would accept but that would break the
// one-object-per-key contract across backends: "a//b" and "a/./b" are distinct blobs on
// Azure and S3 but the same file on disk. Remote backends call it before every request.
func CheckKey(key string) error {
	switch {
	case key == "":
		return fmt.Errorf("lake: empty key")
	case strings.HasPrefix(key, "/"):
		return fmt.Errorf("lake: key %q must be relative to the storage root (no leading /)", key)
	case strings.HasSuffix(key, "/"):
		return fmt.Errorf("lake: key %q names a folder, not an object", key)
	case strings.ContainsRune(key, 0):
		return fmt.Errorf("lake: key %q contains a NUL byte", key)
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("lake: key %q has an empty, \".\" or \"..\" path segment", key)
		}
	}
	return nil
}
