package pipeline

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Prometheus metrics of runs and tasks, registered in the default registry, which
// `rcmlake schedule` and `rcmlake serve` expose on /metrics.
var (
	runsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rcmlake_runs_total", Help: "Pipeline runs by final status.",
	}, []string{"status"})
	taskSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "rcmlake_task_duration_seconds", Help: "Task duration, all attempts included.",
		Buckets: prometheus.ExponentialBuckets(0.05, 2, 14),
	}, []string{"task", "status"})
	taskRows = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rcmlake_task_rows_total", Help: "Rows read (in) and written (out) by tasks.",
	}, []string{"task", "direction"})
	taskFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rcmlake_task_failures_total", Help: "Tasks that failed after their retries.",
	}, []string{"task"})
	taskAttempts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rcmlake_task_attempts_total", Help: "Task attempts, retries included.",
	}, []string{"task"})
)

func init() {
	prometheus.MustRegister(runsTotal, taskSeconds, taskRows, taskFailures, taskAttempts)
}

// observe records a finished task in the metrics.
func observe(tr TaskRun) {
	switch tr.Status {
	case StatusSuccess, StatusFailed, StatusInterrupted:
	default:
		return
	}
	if !tr.Started.IsZero() && !tr.Finished.IsZero() {
		taskSeconds.WithLabelValues(tr.Task, tr.Status).Observe(tr.Finished.Sub(tr.Started).Seconds())
	}
	taskRows.WithLabelValues(tr.Task, "in").Add(float64(tr.RowsIn))
	taskRows.WithLabelValues(tr.Task, "out").Add(float64(tr.RowsOut))
	taskAttempts.WithLabelValues(tr.Task).Add(float64(tr.Attempts))
	if tr.Status == StatusFailed {
		taskFailures.WithLabelValues(tr.Task).Inc()
	}
}
