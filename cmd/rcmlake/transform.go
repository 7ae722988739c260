package main

import (
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/rcmlake/rcmlake/bronze"
	"github.com/rcmlake/rcmlake/gold"
	"github.com/rcmlake/rcmlake/models"
	"github.com/rcmlake/rcmlake/silver"
)

func init() { register(newTransformCmd) }

func newTransformCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "transform",
		Short: "Build a layer from the one before it (silver from bronze)",
		Args:  exactArgs(0),
		RunE: func(*cobra.Command, []string) error {
			return usagef("transform needs a layer: rcmlake transform silver")
		},
	}
	var table, engineName string
	cmd.PersistentFlags().StringVar(&engineName, "engine", "", "engine that runs the models: duckdb or spark (default engine.name)")
	sv := &cobra.Command{
		Use:   "silver",
		Short: "Map new bronze loads onto the common data model, flag quality failures, keep SCD2 history",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			cfg, lh, err := openLakeEngine(ctx, engineName)
			if err != nil {
				return err
			}
			defer lh.Close()
			b := &silver.Builder{Config: cfg, Lake: lh, Models: models.Embedded(), Log: slog.Default(), RunID: bronze.NewRunID(time.Now())}
			results, err := b.Build(ctx, table)
			printSilver(cmd, results)
			return err
		},
	}
	sv.Flags().StringVar(&table, "table", "", "build only this entity")
	var goldFull bool
	gd := &cobra.Command{
		Use:   "gold",
		Short: "Build the star schema (dimensions, facts) and the KPI tables from current, clean silver rows",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			_, lh, err := openLakeEngine(ctx, engineName)
			if err != nil {
				return err
			}
			defer lh.Close()
			b := &gold.Builder{Lake: lh, Models: models.Embedded(), Log: slog.Default(), FullRefresh: goldFull}
			results, err := b.Build(ctx)
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "TABLE	BUILD	ROWS WRITTEN	UNKNOWN MEMBERS	VERSION")
			for _, r := range results {
				build := "full"
				switch {
				case r.Skipped:
					build = "up to date"
				case r.Incremental:
					build = fmt.Sprintf("incremental (%d keys)", r.ChangedKeys)
				}
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\n", r.Table, build, r.Rows, r.Unknown, r.Version)
			}
			tw.Flush()
			return err
		},
	}
	gd.Flags().BoolVar(&goldFull, "full-refresh", false, "rebuild every model from all of its inputs, even unchanged ones")
	cmd.AddCommand(sv, gd)
	return cmd
}

func printSilver(cmd *cobra.Command, results []silver.Result) {
	tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ENTITY\tREAD\tVALID\tQUARANTINED\tDROPPED\tVERSION\tFAILED RULES")
	for _, r := range results {
		if r.Skipped {
			fmt.Fprintf(tw, "%s\t-\t-\t-\t-\t-\tno new bronze loads\n", r.Entity)
			continue
		}
		var fails []string
		for name, n := range r.RuleFails {
			if n > 0 {
				fails = append(fails, fmt.Sprintf("%s=%d", name, n))
			}
		}
		sort.Strings(fails)
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%s\n", r.Entity, r.Read, r.Valid, r.Quarantined, r.Dropped, r.Version, strings.Join(fails, " "))
	}
	tw.Flush()
}
