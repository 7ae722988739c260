package main

import (
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/rcmlake/rcmlake/delta"
	"github.com/rcmlake/rcmlake/engine"
)

func init() { register(newTableCmd) }

func newTableCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "table",
		Short: "Inspect and maintain Delta tables (history, show, describe, checkpoint, vacuum)",
		Long: `Each subcommand takes a catalog name such as silver.patients or gold.fact_claim@v3 (resolved
through the config's lake), or a table folder as a path or URL (file://, abfss://, s3://).`,
		Args: exactArgs(0),
		RunE: func(*cobra.Command, []string) error {
			return usagef("table needs a subcommand; see rcmlake table --help")
		},
	}
	cmd.AddCommand(newTableHistoryCmd(), newTableShowCmd(), newTableDescribeCmd(), newTableCheckpointCmd(), newTableVacuumCmd())
	return cmd
}

func newTableHistoryCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "history <table>",
		Short: "List a table's commits, newest first",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			ref, err := openTable(ctx, args[0])
			if err != nil {
				return err
			}
			defer ref.Close()
			hist, err := ref.table.History(ctx)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "VERSION\tTIMESTAMP\tOPERATION\tROWS\tFILES+\tFILES-\tENGINE")
			for _, c := range hist {
				op, rows, added, removed, eng := "", "", "", "", ""
				if c.Info != nil {
					op, eng = c.Info.Operation, c.Info.EngineInfo
					rows = c.Info.OperationMetrics["numOutputRows"]
					added = c.Info.OperationMetrics["numFiles"]
					removed = c.Info.OperationMetrics["numRemovedFiles"]
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", c.Version, fmtTime(c.Timestamp), op, rows, added, removed, eng)
			}
			return tw.Flush()
		},
	}
}

func newTableShowCmd() *cobra.Command {
	var version int64
	var asOf, format string
	var limit int
	cmd := &cobra.Command{
		Use:   "show <table>",
		Short: "Print a table's rows, at the latest version or by time travel",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			ref, err := openTable(ctx, args[0])
			if err != nil {
				return err
			}
			defer ref.Close()
			snap, err := ref.snapshot(ctx, version, asOf)
			if err != nil {
				return err
			}
			q, err := ref.lh.ScanSQL(ctx, snap)
			if err != nil {
				return err
			}
			sql := "SELECT * FROM " + q + " t"
			if limit >= 0 {
				sql += fmt.Sprintf(" LIMIT %d", limit)
			}
			res, err := ref.lh.Engine.Query(ctx, sql)
			if err != nil {
				return err
			}
			return printResult(cmd.OutOrStdout(), res, format)
		},
	}
	cmd.Flags().Int64Var(&version, "version", -1, "read this version (time travel)")
	cmd.Flags().StringVar(&asOf, "as-of", "", "read the version current at this time (RFC 3339 or a date)")
	cmd.Flags().IntVar(&limit, "limit", 20, "rows to print; -1 for all")
	cmd.Flags().StringVar(&format, "format", "table", "output: table, csv or jsonl")
	return cmd
}

func newTableDescribeCmd() *cobra.Command {
	var version int64
	var asOf string
	cmd := &cobra.Command{
		Use:   "describe <table>",
		Short: "Show a table's schema, protocol, files, rows and size",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			ref, err := openTable(ctx, args[0])
			if err != nil {
				return err
			}
			defer ref.Close()
			s, err := ref.snapshot(ctx, version, asOf)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			var size int64
			for _, f := range s.Files() {
				size += f.Size
			}
			rows, exact := s.NumRecords()
			rowText := fmt.Sprint(rows)
			if !exact {
				q, err := ref.lh.ScanSQL(ctx, s)
				if err != nil {
					return err
				}
				res, err := ref.lh.Engine.Query(ctx, "SELECT count(*) FROM "+q+" t")
				if err != nil {
					return err
				}
				rowText = fmt.Sprint(res.Rows[0][0])
			}
			fmt.Fprintf(w, "Location:   %s\n", s.Table().Location())
			fmt.Fprintf(w, "Version:    %d (%s)\n", s.Version, fmtTime(s.Timestamp))
			fmt.Fprintf(w, "Protocol:   reader %d, writer %d", s.Protocol.MinReaderVersion, s.Protocol.MinWriterVersion)
			if feats := append(append([]string{}, s.Protocol.ReaderFeatures...), s.Protocol.WriterFeatures...); len(feats) > 0 {
				fmt.Fprintf(w, " (features: %s)", strings.Join(feats, ", "))
			}
			fmt.Fprintf(w, "\nTable id:   %s\n", s.Metadata.ID)
			fmt.Fprintf(w, "Files:      %d\nRows:       %s\nSize:       %s\n", len(s.Files()), rowText, humanBytes(size))
			if len(s.Metadata.PartitionColumns) > 0 {
				fmt.Fprintf(w, "Partitions: %s\n", strings.Join(s.Metadata.PartitionColumns, ", "))
			}
			if len(s.Metadata.Configuration) > 0 {
				keys := make([]string, 0, len(s.Metadata.Configuration))
				for k := range s.Metadata.Configuration {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				fmt.Fprintln(w, "Properties:")
				for _, k := range keys {
					fmt.Fprintf(w, "  %s = %s\n", k, s.Metadata.Configuration[k])
				}
			}
			fmt.Fprintln(w, "Schema:")
			res := &engine.Result{Columns: []string{"  COLUMN", "TYPE", "NULLABLE"}}
			if s.Schema != nil {
				for _, f := range s.Schema.Fields {
					res.Rows = append(res.Rows, []any{"  " + f.Name, f.Type.String(), f.Nullable})
				}
			}
			return printResult(w, res, "table")
		},
	}
	cmd.Flags().Int64Var(&version, "version", -1, "describe this version")
	cmd.Flags().StringVar(&asOf, "as-of", "", "describe the version current at this time")
	return cmd
}

func newTableVacuumCmd() *cobra.Command {
	var retain time.Duration
	var dryRun, force bool
	cmd := &cobra.Command{
		Use:   "vacuum <table>",
		Short: "Delete data files no version within the retention needs",
		Long: `Deletes data files that are not part of the table any more and were removed longer ago than
the retention (default: the table's delta.deletedFileRetentionDuration, 7 days), and files left
by writers that never committed. Time travel to versions older than the retention stops working
for the files deleted. A retention shorter than the table's is refused without --force.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			ref, err := openTable(ctx, args[0])
			if err != nil {
				return err
			}
			defer ref.Close()
			opts := delta.VacuumOptions{DryRun: dryRun, Force: force}
			if cmd.Flags().Changed("retain") {
				opts.Retain = &retain
			}
			res, err := ref.table.Vacuum(ctx, opts)
			if err != nil {
				return err
			}
			verb := "deleted"
			if dryRun {
				verb = "would delete"
			}
			for _, f := range res.Files {
				fmt.Fprintln(cmd.OutOrStdout(), f)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "%s %d files (%s)\n", verb, len(res.Files), humanBytes(res.Bytes))
			return nil
		},
	}
	cmd.Flags().DurationVar(&retain, "retain", 0, "retention, e.g. 168h (default: the table's, 7 days)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "list the files, delete nothing")
	cmd.Flags().BoolVar(&force, "force", false, "allow a retention shorter than the table's")
	return cmd
}

func newTableCheckpointCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "checkpoint <table>",
		Short: "Write a checkpoint of the table's latest version",
		Long: `Writes a checkpoint (the table's state in one Parquet file) at the latest version and points
_last_checkpoint at it, so that readers, rcmlake or Spark or delta-rs, replay no JSON commit
before it. Commits write one every 10 versions (delta.checkpointInterval) anyway; this is for
a table that has just been rewritten or before older log files expire.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			ref, err := openTable(ctx, args[0])
			if err != nil {
				return err
			}
			defer ref.Close()
			s, err := ref.table.Latest(ctx)
			if err != nil {
				return err
			}
			if err := ref.table.Checkpoint(ctx, s); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "checkpoint written at version %d (%d files)\n", s.Version, len(s.Files()))
			return nil
		},
	}
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
