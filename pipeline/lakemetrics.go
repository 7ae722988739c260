package pipeline

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rcmlake/rcmlake/bronze"
	"github.com/rcmlake/rcmlake/delta"
	"github.com/rcmlake/rcmlake/lakehouse"
	"github.com/rcmlake/rcmlake/silver"
)

// LakeCollector exposes the lake's state as Prometheus gauges, read from the audit tables
// when scraped (at most every CacheFor): how far each source's watermark lags the clock, how
// old its last load is, and the rows each quality rule flagged in its entity's newest build.
// It serves `rcmlake serve` and `rcmlake schedule`, which do not run every pipeline
// themselves, so the counters of runs alone would not say whether the data is current.
type LakeCollector struct {
	Now      func() time.Time
	CacheFor time.Duration

	mu      sync.Mutex
	lake    *lakehouse.Lakehouse
	at      time.Time
	metrics []prometheus.Metric
}

// Use points the collector at a lake (nil: report nothing). A process registers one
// collector and switches it as commands open lakes.
func (c *LakeCollector) Use(lh *lakehouse.Lakehouse) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lake, c.metrics = lh, nil
}

var (
	descWatermarkLag = prometheus.NewDesc("rcmlake_watermark_lag_seconds",
		"Clock minus the newest committed watermark of an incremental source table.", []string{"datasource", "table"}, nil)
	descLoadAge = prometheus.NewDesc("rcmlake_last_load_age_seconds",
		"Clock minus the time of the newest successful load of a source table.", []string{"datasource", "table"}, nil)
	descQualityRows = prometheus.NewDesc("rcmlake_quality_failed_rows",
		"Rows a quality rule flagged in its entity's newest silver build, by outcome (warn, quarantined, dropped, failed).",
		[]string{"entity", "rule", "outcome"}, nil)
	descCollectErrors = prometheus.NewDesc("rcmlake_lake_metrics_errors",
		"1 when the lake's audit tables could not be read at the last scrape.", nil, nil)
)

// Describe implements prometheus.Collector.
func (c *LakeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descWatermarkLag, descLoadAge, descQualityRows, descCollectErrors} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *LakeCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	if c.lake == nil {
		return
	}
	if c.metrics == nil || now().Sub(c.at) >= c.CacheFor {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		ms, err := c.read(ctx, now().UTC())
		cancel()
		failed := 0.0
		if err != nil {
			failed = 1
		}
		c.metrics = append(ms, prometheus.MustNewConstMetric(descCollectErrors, prometheus.GaugeValue, failed))
		c.at = now()
	}
	for _, m := range c.metrics {
		ch <- m
	}
}

func (c *LakeCollector) read(ctx context.Context, now time.Time) ([]prometheus.Metric, error) {
	var out []prometheus.Metric
	logs, err := bronze.ReadLoadLogs(ctx, c.lake, nil)
	if err != nil {
		return nil, err
	}
	type latest struct {
		load time.Time
		mark time.Time
	}
	tables := map[[2]string]*latest{}
	for _, l := range logs {
		if l.Status != "success" {
			continue
		}
		k := [2]string{l.DataSource, l.TableName}
		t := tables[k]
		if t == nil {
			t = &latest{}
			tables[k] = t
		}
		if l.LoadDate.After(t.load) {
			t.load = l.LoadDate
		}
		if m, ok := parseMark(l.NewWatermark); ok && m.After(t.mark) {
			t.mark = m
		}
	}
	for k, t := range tables {
		out = append(out, prometheus.MustNewConstMetric(descLoadAge, prometheus.GaugeValue, now.Sub(t.load).Seconds(), k[0], k[1]))
		if !t.mark.IsZero() {
			out = append(out, prometheus.MustNewConstMetric(descWatermarkLag, prometheus.GaugeValue, now.Sub(t.mark).Seconds(), k[0], k[1]))
		}
	}
	q, err := c.qualityRows(ctx)
	return append(out, q...), err
}

// qualityRows reads each rule's newest outcome from audit.quality.
func (c *LakeCollector) qualityRows(ctx context.Context) ([]prometheus.Metric, error) {
	tbl := delta.Open(c.lake.Store, silver.QualityTable)
	if ok, err := tbl.Exists(ctx); err != nil || !ok {
		return nil, err
	}
	s, err := tbl.Latest(ctx)
	if err != nil {
		return nil, err
	}
	scan, err := c.lake.ScanSQL(ctx, s)
	if err != nil {
		return nil, err
	}
	res, err := c.lake.Engine.Query(ctx, `SELECT entity, rule, outcome, rows_failed FROM (
		SELECT *, row_number() OVER (PARTITION BY entity, rule ORDER BY evaluated_at DESC) AS n FROM `+scan+` q
		WHERE rule_type NOT IN ('conservation', 'deletes')) x WHERE n = 1`)
	if err != nil {
		return nil, err
	}
	var out []prometheus.Metric
	for _, r := range res.Rows {
		var n float64
		fmt.Sscan(fmt.Sprint(r[3]), &n)
		out = append(out, prometheus.MustNewConstMetric(descQualityRows, prometheus.GaugeValue, n, fmt.Sprint(r[0]), fmt.Sprint(r[1]), fmt.Sprint(r[2])))
	}
	return out, nil
}

// parseMark reads a watermark that is a date or a timestamp; other marks (ids) have no lag.
func parseMark(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}
