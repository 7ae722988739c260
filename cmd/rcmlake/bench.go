package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/rcmlake/rcmlake/bench"
	"github.com/rcmlake/rcmlake/config"
	"github.com/rcmlake/rcmlake/engine/duckdb"
)

func init() { register(newBenchCmd) }

func newBenchCmd() *cobra.Command {
	var (
		scales, scalingMonths, out, notes, render string
		o                                         bench.Options
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure rcmlake on generated worlds against a plain-DuckDB floor; write docs/BENCHMARKS.md and JSON",
		Long: `Generates worlds of several sizes and times, each step as its own process (wall time and
peak RSS): the full run (ingest, silver, gold and KPI tables), an appended month's incremental
run, the KPI queries and the dashboard API, and the floor: the same full refresh as one plain
DuckDB script (bench/floor.sql). Then one appended month on lakes holding more and more history.
Scale 1 is 20k transactions a year; 50 is 1M; 500 is 10M (slow: about an hour on 2 cores).`,
		Example: `  rcmlake bench --scales 1 --repeat 1 --scaling-months ''   # a quick look
  rcmlake bench --scales 1,50,500 --memory-limit 2GB          # the published report`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if o.Scales, err = floats(scales); err != nil || len(o.Scales) == 0 {
				return usagef("--scales %q: want numbers such as 1,50,500", scales)
			}
			sm, err := floats(scalingMonths)
			if err != nil {
				return usagef("--scaling-months %q: want whole numbers such as 2,4,8", scalingMonths)
			}
			for _, m := range sm {
				o.ScalingMonths = append(o.ScalingMonths, int(m))
			}
			if o.Binary, err = os.Executable(); err != nil {
				return err
			}
			if o.Work, err = filepath.Abs(o.Work); err != nil {
				return err
			}
			o.Log = cmd.ErrOrStderr()
			var rep *bench.Report
			var runErr error
			prefix := "rcmlake bench"
			if via := os.Getenv("RCMLAKE_BENCH_VIA"); via != "" {
				prefix = via // scripts/bench.sh, which also starts PostgreSQL
			}
			line := strings.TrimSpace(prefix + " " + strings.Join(rerunArgs(cmd), " "))
			if render != "" {
				// Only the Markdown, again, from a run's JSON (e.g. with new notes).
				data, err := os.ReadFile(render)
				if err != nil {
					return err
				}
				rep = &bench.Report{}
				if err := json.Unmarshal(data, rep); err != nil {
					return fmt.Errorf("%s: %w", render, err)
				}
				line = rep.Command
			} else if rep, runErr = bench.Run(cmd.Context(), o); rep == nil || len(rep.Sizes) == 0 {
				return runErr
			}
			rep.Command = line
			var note string
			if notes != "" {
				data, err := os.ReadFile(notes)
				if err != nil {
					return err
				}
				note = string(data)
			}
			if err := os.MkdirAll(out, 0o755); err != nil {
				return err
			}
			md, err := os.Create(filepath.Join(out, "BENCHMARKS.md"))
			if err != nil {
				return err
			}
			bench.WriteMarkdown(md, rep, line, note)
			if err := md.Close(); err != nil {
				return err
			}
			if render != "" {
				fmt.Fprintf(cmd.OutOrStdout(), "wrote %s\n", md.Name())
				return nil
			}
			js, err := os.Create(filepath.Join(out, "benchmarks.json"))
			if err != nil {
				return err
			}
			bench.WriteJSON(js, rep)
			if err := js.Close(); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s and %s\n", md.Name(), js.Name())
			return runErr
		},
	}
	f := cmd.Flags()
	f.StringVar(&scales, "scales", "1,50", "world sizes (1 = 20k transactions a year, 50 = 1M, 500 = 10M)")
	f.IntVar(&o.Months, "months", 12, "months of history per world")
	f.IntVar(&o.Repeat, "repeat", 3, "runs per world; the median is reported")
	f.Float64Var(&o.RepeatOnceAt, "repeat-once-from", 100, "worlds of this scale and more run once")
	f.StringVar(&o.MemoryLimit, "memory-limit", "2GB", "engine.memory_limit for rcmlake and the floor")
	f.Float64Var(&o.ScalingScale, "scaling-scale", 20, "world size of the history-scaling runs")
	f.StringVar(&scalingMonths, "scaling-months", "2,4,8", "months of history before the timed month; empty to skip")
	f.StringVar(&o.PostgresDSN, "postgres-dsn", "", "also time extraction from PostgreSQL (a database the bench may fill)")
	f.IntVar(&o.APIClients, "api-clients", 50, "dashboard API load: concurrent clients (0 to skip)")
	f.IntVar(&o.APIRequests, "api-requests", 40, "dashboard API load: requests per client")
	f.StringVar(&o.Work, "work", filepath.Join(os.TempDir(), "rcmlake-bench"), "scratch folder (worlds are reused when present)")
	f.StringVar(&out, "out", "docs", "where BENCHMARKS.md and benchmarks.json go")
	f.StringVar(&notes, "notes", "", "a Markdown file of analysis to append (where the time goes)")
	f.StringVar(&render, "render", "", "only rewrite BENCHMARKS.md from this benchmarks.json (with --notes)")
	cmd.AddCommand(newBenchFloorCmd())
	return cmd
}

// newBenchFloorCmd runs the floor script once, as its own process so its peak RSS is its own.
func newBenchFloorCmd() *cobra.Command {
	var world, exports, out, mem string
	cmd := &cobra.Command{
		Use:    "floor",
		Short:  "Run the floor script (bench/floor.sql) on a generated world's exports",
		Hidden: true,
		Args:   exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(filepath.Join(world, "rcmlake.yaml"))
			if err != nil {
				return err
			}
			in, err := bench.FloorInputsFor(cfg, exports, out)
			if err != nil {
				return err
			}
			return bench.RunFloor(cmd.Context(), in, duckdb.Options{MemoryLimit: mem, TempDir: filepath.Join(out, "spill")})
		},
	}
	cmd.Flags().StringVar(&world, "world", ".", "the generated world")
	cmd.Flags().StringVar(&exports, "exports", "", "its EMR tables as CSV (bench.ExportEMR)")
	cmd.Flags().StringVar(&out, "out", "floor-out", "where the floor writes its Parquet tables")
	cmd.Flags().StringVar(&mem, "memory-limit", "", "DuckDB memory_limit")
	return cmd
}

func floats(s string) ([]float64, error) {
	var out []float64
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		v, err := strconv.ParseFloat(p, 64)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("%q", p)
		}
		out = append(out, v)
	}
	return out, nil
}

// rerunArgs are the flags the user set, for the report's rerun line.
func rerunArgs(cmd *cobra.Command) []string {
	var out []string
	cmd.Flags().Visit(func(f *pflag.Flag) {
		if f.Name == "work" || f.Name == "out" || f.Name == "postgres-dsn" || f.Name == "render" {
			return
		}
		out = append(out, "--"+f.Name+" "+shellQuote(f.Value.String()))
	})
	return out
}

func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r == '.' || r == ',' || r == '-' || r == '/' || r == '_' || r >= '0' && r <= '9' || r >= 'A' && r <= 'z')
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
