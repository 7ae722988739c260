// Package testenv finds shared test data and starts the real servers that integration
// tests need (PostgreSQL, Azurite, moto), each on 127.0.0.1.
package testenv

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// RepoRoot is the folder that holds go.mod.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// SharedDir is the project's read-only shared material (seed data, golden Delta tables,
// recorded API responses): $RCMLAKE_SHARED_DIR, else ../shared beside the repository.
// The test fails if it cannot be found; CI always has it.
func SharedDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("RCMLAKE_SHARED_DIR")
	if dir == "" {
		dir = filepath.Join(RepoRoot(), "..", "shared")
	}
	if _, err := os.Stat(filepath.Join(dir, "seed-data")); err != nil {
		t.Fatalf("shared test data not found at %s (set RCMLAKE_SHARED_DIR): %v", dir, err)
	}
	return dir
}
