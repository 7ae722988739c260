package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/rcmlake/rcmlake/config"
	"github.com/rcmlake/rcmlake/lake/open"
	"github.com/rcmlake/rcmlake/lakehouse"
	"github.com/rcmlake/rcmlake/models"
	"github.com/rcmlake/rcmlake/pipeline"
	"github.com/rcmlake/rcmlake/schedule"
)

func init() { register(newScheduleCmd) }

func newScheduleCmd() *cobra.Command {
	var listen string
	var leaseWait time.Duration
	cmd := &cobra.Command{
		Use:   "schedule",
		Short: "Run the pipeline on the config's cron schedules and when new landing files arrive (a long-running service)",
		Long: `Starts runs as rcmlake run --select does, from the config's schedules (cron expressions,
e.g. EMR loads daily, claims monthly) and from the landing trigger (a new file matching
sources.landing.files whose size has settled).

One run at a time: a fire that comes while the same schedule is still running or waiting is
skipped and logged; fires of other schedules wait their turn. Each scheduled instant starts at
most once, even across restarts and with two schedulers on one lake (a marker per instant in
_schedule/fires). After downtime a schedule with catch_up (the default) fires once for the
latest instant it missed; one without logs the miss. State: _schedule/state.json in the lake.

Prometheus metrics (schedule fires, skips, failures, last fire; run and task durations, rows,
failures) are served on --listen at /metrics. Ctrl-C or SIGTERM stops taking fires and waits
for the run in progress to stop cleanly; resume it with rcmlake run --from-failure.`,
		Example: `  rcmlake schedule
  rcmlake schedule --listen 0.0.0.0:9464`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			cfg, lh, err := openLake(ctx)
			if err != nil {
				return err
			}
			defer lh.Close()
			svc, err := newScheduleService(ctx, cfg, lh, leaseWait)
			if err != nil {
				return err
			}
			lakeMetrics.Use(lh)
			defer lakeMetrics.Use(nil)
			stopMetrics, err := serveMetrics(listen, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer stopMetrics()
			for _, st := range svc.Schedules {
				slog.Info("schedule", "name", st.Name, "cron", st.Cron, "select", st.Select, "catch_up", st.CatchUp)
			}
			if svc.Landing != nil {
				slog.Info("landing trigger", "folder", svc.Landing.Store.URL(), "patterns", strings.Join(svc.Landing.Patterns, ","), "poll", svc.Landing.Poll)
			}
			return svc.Run(ctx)
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:9464", "address of the Prometheus /metrics endpoint (empty: none)")
	cmd.Flags().DurationVar(&leaseWait, "lease-wait", time.Hour, "how long a scheduled run waits for another run (e.g. a manual rcmlake run) to release the lake's lease")
	return cmd
}

// newScheduleService builds the service from the config; each schedule's selection is checked
// against the plan first, so a typo fails at start rather than at 02:00.
func newScheduleService(ctx context.Context, cfg *config.Config, lh *lakehouse.Lakehouse, leaseWait time.Duration) (*schedule.Service, error) {
	svc := &schedule.Service{Store: lh.Store, Runner: &pipelineRunner{cfg: cfg, lh: lh, leaseWait: leaseWait}, Log: slog.Default()}
	var probs []string
	check := func(what, sel string) {
		o := pipeline.Options{Config: cfg, Lake: lh, Resolver: resolver, Models: models.Embedded(), Log: slog.New(slog.DiscardHandler)}
		dag, err := pipeline.Plan(&o, "plan")
		if err == nil {
			_, err = dag.Select(splitSelection(sel))
		}
		if err != nil {
			probs = append(probs, fmt.Sprintf("%s: select %q: %v", what, sel, err))
		}
	}
	for _, s := range cfg.Schedules {
		svc.Schedules = append(svc.Schedules, schedule.Schedule{Name: s.Name, Cron: s.Cron, Select: s.Select, CatchUp: s.CatchesUp()})
		check(cfg.Position(s.Pos)+": schedule "+s.Name, s.Select)
	}
	if lt := cfg.LandingTrigger; lt.Enabled {
		l := cfg.Sources.Landing
		if l == nil {
			return nil, usagef("%s: landing_trigger is enabled but the config has no sources.landing", cfg.Position(lt.Pos))
		}
		store, err := open.Open(ctx, cfg.ResolvePath(l.Root), open.Options{Create: true})
		if err != nil {
			return nil, fmt.Errorf("landing %s: %w", l.Root, err)
		}
		trig := &schedule.Landing{Store: store, Poll: lt.PollInterval(), Select: lt.Select, Exclude: []string{strings.Trim(l.Archive, "/") + "/"}}
		for _, f := range l.Files {
			if f.IsActive() {
				trig.Patterns = append(trig.Patterns, f.Pattern)
			}
		}
		svc.Landing = trig
		check(cfg.Position(lt.Pos)+": landing_trigger", lt.Select)
	}
	if len(probs) > 0 {
		return nil, usagef("%s", strings.Join(probs, "\n"))
	}
	if len(svc.Schedules) == 0 && svc.Landing == nil {
		return nil, usagef("%s has no schedules and no enabled landing_trigger: nothing to schedule (see docs/CONFIG.md)", cfg.File())
	}
	return svc, nil
}

// splitSelection turns a schedule's select text into --select's list: names separated by
// commas or spaces.
func splitSelection(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
}

// pipelineRunner starts a run exactly as rcmlake run --select does (runOnce), with the
// schedule as its trigger. When another run holds the lake's lease (a manual rcmlake run), it
// waits for it rather than failing the fire.
type pipelineRunner struct {
	cfg       *config.Config
	lh        *lakehouse.Lakehouse
	leaseWait time.Duration
}

func (r *pipelineRunner) Run(ctx context.Context, name, selection, trigger string) error {
	o := pipeline.Options{Trigger: trigger, Select: splitSelection(selection)}
	waitUntil := time.Now().Add(r.leaseWait)
	for {
		out, err := runOnce(ctx, r.cfg, r.lh, o, io.Discard)
		if errors.Is(err, pipeline.ErrLeaseHeld) && time.Now().Before(waitUntil) {
			slog.Info("another run holds the lake's lease; waiting", "schedule", name, "err", err)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(30 * time.Second):
				continue
			}
		}
		if err != nil {
			return err
		}
		slog.Info("scheduled run done", "schedule", name, "run", out.Run.RunID, "status", out.Run.Status, "tasks", len(out.Tasks))
		return out.Err()
	}
}

// lakeMetrics reports the state of the lake a long-running command has open (watermark lag,
// load age, quality) next to the pipeline's and scheduler's own metrics.
var lakeMetrics = &pipeline.LakeCollector{CacheFor: 15 * time.Second}

func init() { prometheus.MustRegister(lakeMetrics) }

// serveMetrics serves the default Prometheus registry (pipeline and scheduler metrics) on
// /metrics; the returned function shuts the server down.
func serveMetrics(listen string, stderr io.Writer) (func(), error) {
	if listen == "" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, usagef("--listen %s: %v", listen, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.Handler())
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	fmt.Fprintf(stderr, "metrics on http://%s/metrics\n", ln.Addr())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}, nil
}
