package lakehouse

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rcmlake/rcmlake/config"
	"github.com/rcmlake/rcmlake/secrets"
)

// The engine section of the config reaches DuckDB: its memory limit, threads and spill
// folder (relative to the config's folder, like every other path) are what DuckDB reports.
func TestEngineLimitsTakeEffect(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rcmlake.yaml")
	yaml := "version: 1\nlake:\n  root: lake\n  cache_dir: cache\nengine:\n  memory_limit: 256MB\n  threads: 1\n  temp_dir: spill\n"
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	lh, err := Open(context.Background(), cfg, secrets.NewResolver())
	if err != nil {
		t.Fatal(err)
	}
	defer lh.Close()
	res, err := lh.Engine.Query(context.Background(),
		"SELECT current_setting('memory_limit'), current_setting('threads'), current_setting('temp_directory')")
	if err != nil {
		t.Fatal(err)
	}
	row := res.Rows[0]
	// DuckDB reports 256MB as 244.1 MiB.
	if got := fmt.Sprint(row[0]); got != "244.1 MiB" {
		t.Errorf("memory_limit %q, want 244.1 MiB (256MB)", got)
	}
	if got := fmt.Sprint(row[1]); got != "1" {
		t.Errorf("threads %q, want 1", got)
	}
	if got := fmt.Sprint(row[2]); got != filepath.Join(dir, "spill") || !strings.HasPrefix(got, "/") {
		t.Errorf("temp_directory %q, want %s", got, filepath.Join(dir, "spill"))
	}
}
