package schedule

import "github.com/prometheus/client_golang/prometheus"

// Prometheus metrics of the scheduler, in the default registry that rcmlake schedule serves
// on /metrics next to the pipeline's run and task metrics.
var (
	firesTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rcmlake_schedule_fires_total", Help: "Runs started by a schedule or the landing trigger.",
	}, []string{"schedule"})
	skippedTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rcmlake_schedule_skipped_total",
		Help: "Fires not started: busy (the schedule's previous run had not finished) or claimed (the instant had already been started).",
	}, []string{"schedule", "reason"})
	failuresTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rcmlake_schedule_run_failures_total", Help: "Scheduled runs that ended in an error.",
	}, []string{"schedule"})
	lastFire = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "rcmlake_schedule_last_fire_timestamp_seconds", Help: "Scheduled instant of the latest run started (Unix seconds).",
	}, []string{"schedule"})
	running = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "rcmlake_schedule_running", Help: "1 while the schedule's run is in progress.",
	}, []string{"schedule"})
)

func init() {
	prometheus.MustRegister(firesTotal, skippedTotal, failuresTotal, lastFire, running)
}
