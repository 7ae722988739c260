package pipeline

import (
	"testing"

	"github.com/rcmlake/rcmlake/config"
)

func TestSilverWorkersDefaultsToOneOnTheEmbeddedEngine(t *testing.T) {
	for _, c := range []struct {
		engine string
		set    int
		want   int
	}{
		{"duckdb", 0, 1}, // one DuckDB, one memory limit: one entity at a time
		{"duckdb", 3, 3}, // the config wins
		{"spark", 0, 0},  // concurrent Spark jobs: no limit of its own
		{"spark", 2, 2},
	} {
		cfg := &config.Config{}
		cfg.Engine.Name = c.engine
		cfg.Run.SilverWorkers = c.set
		if got := silverWorkers(cfg); got != c.want {
			t.Errorf("engine %s, silver_workers %d: got %d, want %d", c.engine, c.set, got, c.want)
		}
	}
}
