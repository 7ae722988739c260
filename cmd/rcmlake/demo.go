package main

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/rcmlake/rcmlake/config"
	"github.com/rcmlake/rcmlake/gold"
	"github.com/rcmlake/rcmlake/lakehouse"
	"github.com/rcmlake/rcmlake/synth"
)

func init() { register(newDemoCmd) }

func newDemoCmd() *cobra.Command {
	var dir string
	var o synth.Options
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Generate a hospital network and run the whole pipeline on it, on embedded defaults",
		Long: `Generates a small synthetic hospital network (SQLite EMRs, claims files, a CPT file) in --dir,
then runs it through bronze, silver and gold on the embedded engine and a local lake, and prints
the headline KPIs. Run it again to re-run the pipeline on the same world (nothing is loaded twice).`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			w := cmd.OutOrStdout()
			began := time.Now()
			if _, err := os.Stat(filepath.Join(dir, synth.ManifestFile)); err != nil {
				fmt.Fprintf(w, "1/4 Generating a hospital network in %s ...\n", dir)
				o.Start = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
				if _, err := synth.Generate(ctx, dir, o); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(w, "1/4 Using the hospital network already in %s\n", dir)
			}
			cfgPath := filepath.Join(dir, "rcmlake.yaml")
			cfg, err := config.Load(cfgPath)
			if err != nil {
				return err
			}
			lh, err := lakehouse.Open(ctx, cfg, resolver)
			if err != nil {
				return err
			}
			defer lh.Close()
			fmt.Fprintln(w, "2/4 Loading EMR tables and landing files into bronze ...")
			fmt.Fprintln(w, "3/4 Building silver (common data model, quality, SCD2) and gold (star schema, KPIs) ...")
			if err := runPipeline(ctx, cfg, lh, slog.Default(), cmd.ErrOrStderr()); err != nil {
				return err
			}
			m, ks, err := gold.HeadlineKPIs(ctx, lh, time.Time{}, "", -1)
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "4/4 Done in %.1fs.\n\n", time.Since(began).Seconds())
			printKPIs(w, m, "the network", ks)
			abs, _ := filepath.Abs(dir)
			fmt.Fprintf(w, `
Where everything went (%s):
  emr/                  the hospitals' EMR databases (SQLite), each with its own schema
  landing/archive/      the claims and CPT files, archived once ingested
  ref/                  NPI Registry answers and an ICD-10-CM order file, for offline lookups
  lake/bronze/          every load as it came, in Parquet, by load date and run
  lake/silver/          Delta tables: one data model, quarantine flags, SCD2 history
  lake/gold/            Delta tables: dimensions, facts and kpi_monthly
  lake/audit/           load_logs (one row per load), quality, runs and task_runs
  manifest.json         the world, and every defect planted in it
  rcmlake.yaml          the pipeline config

Next:
  cd %s
  rcmlake audit                                   what each load did
  rcmlake table show silver.patients --limit 5    read any table (Spark and delta-rs read them too)
  rcmlake table history gold.kpi_monthly          versions, for time travel
  rcmlake kpi --hospital hos-a                    one hospital's KPIs
  rcmlake generate --out . --append-month && rcmlake demo --dir .   a new month, incrementally
`, abs, abs)
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "rcmlake-demo", "folder for the demo world and its lake")
	cmd.Flags().Uint64Var(&o.Seed, "seed", 7, "random seed of the generated world")
	cmd.Flags().Float64Var(&o.Scale, "scale", 0.25, "size of the world (1 = the seed project's)")
	cmd.Flags().IntVar(&o.Months, "months", 6, "months to simulate")
	cmd.Flags().IntVar(&o.Hospitals, "hospitals", 2, "number of hospitals")
	return cmd
}
