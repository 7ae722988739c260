package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"
	"time"

	"github.com/rcmlake/rcmlake/config"
	"github.com/rcmlake/rcmlake/gold"
	"github.com/rcmlake/rcmlake/lakehouse"
	"github.com/rcmlake/rcmlake/pipeline"
)

// runPipeline runs the whole pipeline once, as `rcmlake run` does.
func runPipeline(ctx context.Context, cfg *config.Config, lh *lakehouse.Lakehouse, log *slog.Logger, progress io.Writer) error {
	out, err := runOnce(ctx, cfg, lh, pipeline.Options{Log: log}, progress)
	if err != nil {
		return err
	}
	return out.Err()
}

func printKPIs(w io.Writer, month time.Time, who string, ks []gold.KPI) {
	fmt.Fprintf(w, "KPIs for %s, %s\n", who, month.Format("January 2006"))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "KPI\tVALUE\tBENCHMARK\tSTATUS")
	for _, k := range ks {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", k.Name, k.Format(), k.Benchmark, k.Status())
	}
	tw.Flush()
}
