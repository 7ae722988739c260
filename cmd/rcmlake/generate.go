package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/rcmlake/rcmlake/synth"
)

func init() { register(newGenerateCmd) }

func newGenerateCmd() *cobra.Command {
	var out, start string
	var o synth.Options
	var appendMonth bool
	cmd := &cobra.Command{
		Use:   "generate --out DIR",
		Short: "Generate a synthetic hospital network: EMR databases, monthly claims files, a CPT file",
		Long: `Writes a deterministic hospital network into DIR: one SQLite EMR per hospital (with the seed
project's per-hospital schemas), monthly claims CSV files and a CPT code file under landing/, and
manifest.json, which lists the world and every defect planted in it (null keys, the string 'NULL',
unparseable dates, orphan foreign keys, duplicate keys, negative amounts, CSV rows with a wrong
field count). The same flags always give the same sources. --append-month adds the next month
to an existing world, with changed, new and deleted rows.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return usagef("--out is required")
			}
			ctx := cmd.Context()
			began := time.Now()
			var m *synth.Manifest
			var err error
			if appendMonth {
				m, err = synth.AppendMonth(ctx, out)
			} else {
				t, perr := time.Parse("2006-01", start)
				if perr != nil {
					return usagef("--start %q: want YYYY-MM", start)
				}
				o.Start = t
				m, err = synth.Generate(ctx, out, o)
			}
			if err != nil {
				return err
			}
			rows := 0
			for _, h := range m.Hospitals {
				for _, n := range h.Rows {
					rows += n
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %d hospitals, %d months from %s, %d EMR rows, %d claims files, %d planted defects (%.1fs)\n",
				out, len(m.Hospitals), m.Months, m.Start, rows, len(m.ClaimsFiles), len(m.Defects), time.Since(began).Seconds())
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "out", "o", "", "folder to write the world into")
	cmd.Flags().Uint64Var(&o.Seed, "seed", 7, "random seed; the same seed gives the same world")
	cmd.Flags().IntVar(&o.Hospitals, "hospitals", 2, "number of hospitals")
	cmd.Flags().IntVar(&o.Months, "months", 12, "months to simulate")
	cmd.Flags().Float64Var(&o.Scale, "scale", 1, "size: 1 is the seed project's (10,000 charges per hospital a year)")
	cmd.Flags().StringVar(&start, "start", "2024-01", "first month, YYYY-MM")
	cmd.Flags().BoolVar(&appendMonth, "append-month", false, "add the next month to the world in --out")
	cmd.Flags().StringVar(&o.EMRDSN, "emr-dsn", "", "put the EMRs in this PostgreSQL database (one schema per hospital) instead of SQLite files")
	return cmd
}
