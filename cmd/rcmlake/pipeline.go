package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"
	"time"

	"github.com/rcmlake/rcmlake/bronze"
	"github.com/rcmlake/rcmlake/config"
	"github.com/rcmlake/rcmlake/gold"
	"github.com/rcmlake/rcmlake/lakehouse"
	"github.com/rcmlake/rcmlake/models"
	"github.com/rcmlake/rcmlake/silver"
)

// runPipeline runs bronze, silver and gold in order, as one run.
func runPipeline(ctx context.Context, cfg *config.Config, lh *lakehouse.Lakehouse, log *slog.Logger) error {
	runID := bronze.NewRunID(time.Now())
	in := &bronze.Ingester{Config: cfg, Lake: lh, Resolver: resolver, Log: log}
	_, err := in.Run(ctx, bronze.Options{RunID: runID})
	_, ferr := in.RunLanding(ctx, bronze.Options{RunID: runID})
	if err := errors.Join(err, ferr); err != nil {
		// Failed loads are recorded; silver and gold go on with what did load.
		log.Warn("some loads failed; continuing with the rest", "err", err)
	}
	sb := &silver.Builder{Config: cfg, Lake: lh, Models: models.Embedded(), Log: log}
	if _, err := sb.Build(ctx, ""); err != nil {
		return err
	}
	gb := &gold.Builder{Lake: lh, Models: models.Embedded(), Log: log}
	_, err = gb.Build(ctx)
	return err
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
