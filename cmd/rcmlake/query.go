package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/rcmlake/rcmlake/access"
	"github.com/rcmlake/rcmlake/catalog"
	"github.com/rcmlake/rcmlake/config"
	"github.com/rcmlake/rcmlake/lakehouse"
	"github.com/rcmlake/rcmlake/models"
	"github.com/rcmlake/rcmlake/query"
)

func init() { register(newQueryCmd) }

func newQueryCmd() *cobra.Command {
	var format, out, named, asOf, role string
	var list bool
	cmd := &cobra.Command{
		Use:   "query [SQL]",
		Short: "Run SQL over the lake's tables: bronze.x, silver.x, gold.x, audit.x",
		Long: `Runs a SELECT on the embedded engine over the catalog. Name tables as bronze.x, silver.x,
gold.x and audit.x; pin a version or a time with silver.patients@v3 or
gold.kpi_monthly@2024-06-01T00:00:00Z, or pin every table at once with --as-of. Bronze tables
are every committed load of that table, from all datasources.

Ready-made reports ship as SQL files: --list names them, --named NAME runs one.

With --role, the query runs as that role would through rcmlake serve: only granted tables,
PHI masked unless the role may see it, only plain SELECTs over catalog names, and the read is
written to audit.access_log under your user name.`,
		Example: `  rcmlake query "SELECT payer_name, count(*) FROM gold.fact_claim GROUP BY 1"
  rcmlake query "SELECT count(*) FROM silver.patients@v1"
  rcmlake query --named denials_by_reason --format csv
  rcmlake query "SELECT * FROM gold.fact_transaction" --format parquet --out facts.parquet
  rcmlake query --role analyst "SELECT first_name, dob FROM silver.patients LIMIT 5"`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			src := models.Embedded()
			w := cmd.OutOrStdout()
			if list {
				names, err := src.List("queries")
				if err != nil {
					return err
				}
				for _, n := range names {
					fmt.Fprintln(w, n)
				}
				return nil
			}
			var sql string
			switch {
			case named != "" && len(args) == 1:
				return usagef("give either SQL or --named, not both")
			case named != "":
				q, err := src.Query(named)
				if err != nil {
					return usageError{err}
				}
				sql = q
			case len(args) == 1:
				sql = args[0]
			default:
				return usagef("give the SQL to run, or --named NAME (--list names them)")
			}
			switch format {
			case "table", "csv", "jsonl":
			case "parquet":
				if out == "" {
					return usagef("--format parquet writes a file: give --out FILE")
				}
			default:
				return usagef("--format %q: want table, csv, jsonl or parquet", format)
			}
			c := &query.Catalog{}
			if asOf != "" {
				t, err := catalog.ParseTime(asOf)
				if err != nil {
					return usagef("--as-of %q: %v", asOf, err)
				}
				c.AsOf = &t
			}
			ctx := cmd.Context()
			cfg, lh, err := openLake(ctx)
			if err != nil {
				return err
			}
			defer lh.Close()
			if role != "" {
				if format == "parquet" {
					return usagef("--role reads through the governed path: use --format table, csv or jsonl")
				}
				return governedQuery(cmd, cfg, lh, role, sql, c.AsOf, format, out)
			}
			c.Lake = lh
			p, err := c.Prepare(ctx, strings.TrimRight(strings.TrimSpace(sql), ";"))
			if err != nil {
				return err
			}
			q := p.SQL
			if format == "parquet" {
				abs, err := filepath.Abs(out)
				if err != nil {
					return err
				}
				if err := lh.Engine.Exec(ctx, fmt.Sprintf("COPY (%s) TO '%s' (FORMAT parquet)", q, strings.ReplaceAll(abs, "'", "''"))); err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s\n", out)
				return nil
			}
			res, err := lh.Engine.Query(ctx, q)
			if err != nil {
				return err
			}
			if out != "" {
				f, err := os.Create(out)
				if err != nil {
					return err
				}
				defer f.Close()
				w = f
			}
			return printResult(w, res, format)
		},
	}
	f := cmd.Flags()
	f.StringVar(&format, "format", "table", "output: table, csv, jsonl or parquet")
	f.StringVarP(&out, "out", "o", "", "write to this file instead of standard output")
	f.StringVar(&named, "named", "", "run a ready-made query by name")
	f.BoolVar(&list, "list", false, "list the ready-made queries")
	f.StringVar(&asOf, "as-of", "", "read every table as it was at this time (RFC 3339 or YYYY-MM-DD)")
	f.StringVar(&role, "role", "", "run as this role: its grants and PHI masks apply, and the read is audited")
	return cmd
}

// governedQuery runs a query through the same governed reader as rcmlake serve.
func governedQuery(cmd *cobra.Command, cfg *config.Config, lh *lakehouse.Lakehouse, role, sql string, asOf *time.Time, format, out string) error {
	ctx := cmd.Context()
	if !hasRole(cfg, role) {
		return usagef("--role %q: no such role in %s", role, cfg.File())
	}
	reader, err := governedReader(ctx, cfg, lh)
	if err != nil {
		return err
	}
	p := access.Principal{Name: currentUser(), Role: role, Via: "cli"}
	res, qerr := reader.Query(ctx, p, "query", sql, asOf)
	if err := reader.Audit.Flush(ctx); err != nil { // refused reads are audited too
		return err
	}
	if qerr != nil {
		return qerr
	}
	w := cmd.OutOrStdout()
	if out != "" {
		f, err := os.Create(out)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	if res.Truncated {
		fmt.Fprintf(cmd.ErrOrStderr(), "showing the first %d rows\n", len(res.Rows))
	}
	return printResult(w, res.Result, format)
}
