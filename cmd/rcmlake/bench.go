package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rcmlake/rcmlake/bench"
)

func init() { register(newBenchCmd) }

func newBenchCmd() *cobra.Command {
	var o bench.Options
	var sizes, pgSizes, scalingMonths, changeScales string
	var merge, postgresOnly bool
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Benchmark the pipeline on generated worlds and write docs/BENCHMARKS.md and docs/benchmarks.json",
		Long: `Generates a world per size (--sizes: generate --scale values; 1 is the seed's 20k transactions,
50 is 1M, 500 is 10M) and measures, each step as a child process: the full run stage by stage
(extract, landing, silver, gold, KPI), the KPI queries, an incremental month, the dashboard API
under 50 clients, extraction from PostgreSQL, and the same full refresh as a plain DuckDB script
(the floor, bench/floor.sql). On worlds with 96 months of history (--change-scale) it times the
month that changes about 1% of the rows against their full run, and on one world (--scaling-scale)
the incremental month as the history grows. It reports medians of --repeat runs, peak RSS, rows/s and the
lake's growth, then states the performance targets as met or missed.

It takes long: about a minute at scale 1, several at 50, and an hour or more at 500; the whole
default run about an hour and a half on 2 cores.`,
		Example: `  rcmlake bench --sizes 1 --repeat 1
  rcmlake bench --sizes 1,50 --profile
  rcmlake bench --sizes 500 --postgres-sizes 500 --scaling-scale 0 --change-scale ''
  rcmlake bench --sizes '' --scaling-scale 0 --change-scale 62.5 --merge`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if o.Sizes, err = floats(sizes); err != nil {
				return usagef("--sizes: %v", err)
			}
			if o.Postgres, err = floats(pgSizes); err != nil {
				return usagef("--postgres-sizes: %v", err)
			}
			if o.ChangeScales, err = floats(changeScales); err != nil {
				return usagef("--change-scale: %v", err)
			}
			ms, err := floats(scalingMonths)
			if err != nil || (o.ScalingScale > 0 && len(ms) == 0) {
				return usagef("--scaling-months %q: want months such as 2,4,8", scalingMonths)
			}
			for _, m := range ms {
				o.ScalingMonths = append(o.ScalingMonths, int(m))
			}
			if err := os.MkdirAll(o.OutDir, 0o755); err != nil {
				return err
			}
			if postgresOnly {
				// Add PostgreSQL extraction to the report in --out, for its worlds among --postgres-sizes.
				base, err := bench.ReadReport(filepath.Join(o.OutDir, "benchmarks.json"))
				if err != nil {
					return usagef("--postgres-only needs an earlier report: %v", err)
				}
				o.PostgresOnto, merge = base, false
			}
			o.Log = cmd.ErrOrStderr()
			partialJSON, partialMD := filepath.Join(o.OutDir, "benchmarks-partial.json"), filepath.Join(o.OutDir, "BENCHMARKS-partial.md")
			o.Progress = func(r *bench.Report) {
				r.WriteJSON(partialJSON)
				r.WriteMarkdown(partialMD)
			}
			b, err := bench.New(o)
			if err != nil {
				return err
			}
			rep, runErr := b.Run(cmd.Context(), "rcmlake bench "+strings.Join(os.Args[2:], " "))
			if rep == nil || (len(rep.Worlds) == 0 && rep.Scaling == nil && len(rep.Changes) == 0) {
				return runErr
			}
			jsonPath, mdPath := filepath.Join(o.OutDir, "benchmarks.json"), filepath.Join(o.OutDir, "BENCHMARKS.md")
			if runErr != nil {
				// A partial report is still worth reading, but must not replace a complete one.
				jsonPath, mdPath = partialJSON, partialMD
			} else {
				defer os.Remove(partialJSON)
				defer os.Remove(partialMD)
			}
			if merge && runErr == nil {
				if err := rep.Merge(jsonPath); err != nil && !os.IsNotExist(err) {
					return err
				}
			}
			if err := rep.WriteJSON(jsonPath); err != nil {
				return err
			}
			if err := rep.WriteMarkdown(mdPath); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s and %s\n", mdPath, jsonPath)
			for _, t := range rep.Targets {
				fmt.Fprintf(cmd.OutOrStdout(), "  %-24s %-40s %s\n", t.Name, t.Measured, t.Margin)
			}
			return runErr
		},
	}
	f := cmd.Flags()
	f.StringVar(&sizes, "sizes", "1,50,500", "world sizes (generate --scale): 1 = 20k transactions, 50 = 1M, 500 = 10M")
	f.IntVar(&o.Repeat, "repeat", 0, "runs of each step (default 3 below scale 100, 1 from there)")
	f.IntVar(&o.Months, "months", 12, "months of history in each world")
	f.StringVar(&o.Dir, "dir", filepath.Join(os.TempDir(), "rcmlake-bench"), "work folder for the worlds and lakes (needs ~20 GB free at scale 500)")
	f.StringVar(&o.OutDir, "out", "docs", "folder for BENCHMARKS.md, benchmarks.json and profiles/")
	f.StringVar(&o.MemoryLimit, "memory-limit", "2GB", "engine.memory_limit of the worlds and the floor")
	f.BoolVar(&o.Profile, "profile", false, "write pprof CPU and heap profiles of each stage of the first repeat into <out>/profiles")
	f.StringVar(&pgSizes, "postgres-sizes", "50,500", "sizes (among --sizes) at which to also extract from a throwaway PostgreSQL; empty for none")
	f.Float64Var(&o.ScalingScale, "scaling-scale", 10, "size of the world whose history grows a month at a time; 0 skips it")
	f.StringVar(&scalingMonths, "scaling-months", "2,8", "history lengths (first,last) between which each incremental month is timed")
	f.StringVar(&changeScales, "change-scale", "6.25,62.5", "sizes of the long-history worlds on which the 1%-changed month is timed (over 96 months, 6.25 is 1M transactions and 62.5 is 10M, about 30 minutes); empty skips them")
	f.IntVar(&o.ChangeMonths, "change-months", 96, "history of those worlds, in months")
	f.IntVar(&o.APIClients, "clients", 50, "concurrent clients of the dashboard API load")
	f.BoolVar(&merge, "merge", false, "keep the other sizes (and the scaling run and change months) of the existing benchmarks.json in --out")
	f.BoolVar(&o.Keep, "keep", false, "keep the worlds and lakes under --dir")
	f.BoolVar(&postgresOnly, "postgres-only", false, "only extract from PostgreSQL at --postgres-sizes, adding the figures to the benchmarks.json in --out (for worlds it already holds)")
	cmd.AddCommand(newBenchFloorCmd(), newBenchRenderCmd())
	return cmd
}

// newBenchFloorCmd runs the floor script in the current folder; rcmlake bench starts it as a
// child process so that its peak RSS is measured like any step's.
func newBenchFloorCmd() *cobra.Command {
	var mem, tmp string
	cmd := &cobra.Command{
		Use:    "floor",
		Short:  "Run bench/floor.sql in the current folder (inputs prepared by rcmlake bench)",
		Hidden: true,
		Args:   exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return bench.RunFloor(cmd.Context(), mem, tmp, cmd.ErrOrStderr())
		},
	}
	cmd.Flags().StringVar(&mem, "memory-limit", "2GB", "DuckDB memory limit")
	cmd.Flags().StringVar(&tmp, "temp-dir", "", "DuckDB temp folder")
	return cmd
}

func floats(s string) ([]float64, error) {
	var out []float64
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		f, err := strconv.ParseFloat(p, 64)
		if err != nil || f <= 0 {
			return nil, fmt.Errorf("%q is not a positive number", p)
		}
		out = append(out, f)
	}
	return out, nil
}

// newBenchRenderCmd writes BENCHMARKS.md again from benchmarks.json (after a change to the
// layout, or to restate the targets), keeping the notes.
func newBenchRenderCmd() *cobra.Command {
	var out, from string
	cmd := &cobra.Command{
		Use:   "render",
		Short: "Write BENCHMARKS.md again from benchmarks.json in --out",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			path := filepath.Join(out, "benchmarks.json")
			r, err := bench.ReadReport(path)
			if err != nil {
				return err
			}
			if from != "" {
				// Add the sizes measured by a run that was stopped (its benchmarks-partial.json).
				if err := r.Merge(from); err != nil {
					return err
				}
				if err := r.WriteJSON(path); err != nil {
					return err
				}
			}
			r.Restate()
			return r.WriteMarkdown(filepath.Join(out, "BENCHMARKS.md"))
		},
	}
	cmd.Flags().StringVar(&out, "out", "docs", "folder of benchmarks.json and BENCHMARKS.md")
	cmd.Flags().StringVar(&from, "merge", "", "add the worlds of this report (sizes benchmarks.json lacks) and state the targets again")
	return cmd
}
