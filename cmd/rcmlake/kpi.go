package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/rcmlake/rcmlake/gold"
)

func init() { register(newKPICmd) }

func newKPICmd() *cobra.Command {
	var month, hospital, format string
	var version int64
	cmd := &cobra.Command{
		Use:   "kpi",
		Short: "Print the headline revenue-cycle KPIs of a month, against the usual benchmarks",
		Long: `Reads gold.kpi_monthly. Formulas: docs/KPIS.md. The default month is the latest complete one;
--version reads the KPI table as it was at an earlier version (time travel).`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			var m time.Time
			if month != "" {
				t, err := time.Parse("2006-01", month)
				if err != nil {
					return usagef("--month %q: want YYYY-MM", month)
				}
				m = t
			}
			_, lh, err := openLake(ctx)
			if err != nil {
				return err
			}
			defer lh.Close()
			m, ks, err := gold.HeadlineKPIs(ctx, lh, m, hospital, version)
			if err != nil {
				return err
			}
			who := "the network"
			if hospital != "" {
				who = hospital
			}
			w := cmd.OutOrStdout()
			switch format {
			case "table":
				printKPIs(w, m, who, ks)
			case "csv":
				cw := csv.NewWriter(w)
				cw.Write([]string{"month", "kpi", "value", "benchmark", "status"})
				for _, k := range ks {
					v := ""
					if k.Value != nil {
						v = fmt.Sprint(*k.Value)
					}
					cw.Write([]string{m.Format("2006-01"), k.Column, v, k.Benchmark, k.Status()})
				}
				cw.Flush()
				return cw.Error()
			case "json":
				out := map[string]any{"month": m.Format("2006-01"), "scope": who}
				list := []map[string]any{}
				for _, k := range ks {
					list = append(list, map[string]any{"kpi": k.Column, "name": k.Name, "value": k.Value, "benchmark": k.Benchmark, "status": k.Status()})
				}
				out["kpis"] = list
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(out)
			default:
				return usagef("--format %q: want table, csv or json", format)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&month, "month", "", "month, YYYY-MM (default: the latest complete month)")
	cmd.Flags().StringVar(&hospital, "hospital", "", "one hospital's datasource code (default: the whole network)")
	cmd.Flags().StringVar(&format, "format", "table", "output: table, csv or json")
	cmd.Flags().Int64Var(&version, "version", -1, "read gold.kpi_monthly at this version")
	return cmd
}
