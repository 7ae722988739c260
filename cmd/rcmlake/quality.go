package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/rcmlake/rcmlake/delta"
	"github.com/rcmlake/rcmlake/engine/duckdb"
	"github.com/rcmlake/rcmlake/silver"
)

func init() { register(newQualityCmd) }

func newQualityCmd() *cobra.Command {
	var run, entity, format string
	var all, strict bool
	cmd := &cobra.Command{
		Use:   "quality",
		Short: "Show audit.quality: each rule's checked and failed rows per silver build",
		Long: `Shows the data-quality results silver recorded: per entity and rule, the rows checked, the
rows that failed, and what that did (pass, warn, quarantined, dropped, failed), with the
conservation check (read = valid + quarantined + dropped), the deletes seen and the freshness
rules. By default the newest build of each entity; --run picks one run, --all every build.
--strict exits 1 when a rule failed or data is stale, for use in scripts and CI.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !oneOfFormats(format) {
				return usagef("--format %q: want table, csv or json", format)
			}
			ctx := cmd.Context()
			_, lh, err := openLake(ctx)
			if err != nil {
				return err
			}
			defer lh.Close()
			tbl := delta.Open(lh.Store, silver.QualityTable)
			if ok, err := tbl.Exists(ctx); err != nil {
				return err
			} else if !ok {
				fmt.Fprintln(cmd.OutOrStdout(), "No quality results yet: run `rcmlake transform silver` or `rcmlake run`.")
				return nil
			}
			s, err := tbl.Latest(ctx)
			if err != nil {
				return err
			}
			scan, err := lh.ScanSQL(ctx, s)
			if err != nil {
				return err
			}
			where := "TRUE"
			if entity != "" {
				where += " AND entity = " + duckdb.Literal(entity)
			}
			switch {
			case run != "":
				where += " AND run_id = " + duckdb.Literal(run)
			case !all:
				// The newest build of each entity (freshness rows may come from a later run).
				where += " AND (entity, rule, evaluated_at) IN (SELECT (entity, rule, max(evaluated_at)) FROM " + scan + " q GROUP BY entity, rule)"
			}
			res, err := lh.Engine.Query(ctx, `SELECT run_id, entity, rule, rule_type, severity, rows_checked, rows_failed,
				CASE WHEN rows_checked > 0 THEN round(100.0 * rows_failed / rows_checked, 2) END AS pct_failed, outcome, detail,
				evaluated_at FROM `+scan+` q WHERE `+where+` ORDER BY evaluated_at, entity, rule`)
			if err != nil {
				return err
			}
			if err := printResult(cmd.OutOrStdout(), res, format); err != nil {
				return err
			}
			if strict {
				for _, row := range res.Rows {
					if o := fmt.Sprint(row[8]); o == silver.OutcomeFailed || (row[3] == "freshness" && o != silver.OutcomePass) {
						return fmt.Errorf("quality: %s.%s %s", row[1], row[2], o)
					}
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&run, "run", "", "only this run id")
	cmd.Flags().StringVar(&entity, "entity", "", "only this silver entity")
	cmd.Flags().BoolVar(&all, "all", false, "every build, not just the newest per entity")
	cmd.Flags().BoolVar(&strict, "strict", false, "exit 1 when a rule failed or a freshness rule is not met")
	cmd.Flags().StringVarP(&format, "format", "f", "table", "table, csv or json")
	return cmd
}

func oneOfFormats(f string) bool { return f == "table" || f == "csv" || f == "json" }
