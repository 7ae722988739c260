package gold

import (
	"context"
	"fmt"
	"time"

	"github.com/rcmlake/rcmlake/catalog"
	"github.com/rcmlake/rcmlake/delta"
	"github.com/rcmlake/rcmlake/lakehouse"
)

// KPI is one headline figure with the benchmark it is read against.
type KPI struct {
	Name      string
	Column    string
	Value     *float64
	Unit      string // days, %, $
	Benchmark string
	Good      func(float64) bool
}

// Headlines are the KPIs a revenue-cycle team looks at first, with the usual benchmarks.
func Headlines() []KPI {
	return []KPI{
		{Name: "Days in A/R", Column: "days_in_ar", Unit: "days", Benchmark: "< 45", Good: func(v float64) bool { return v < 45 }},
		{Name: "A/R > 90 days", Column: "ar_over_90_pct", Unit: "%", Benchmark: "< 15%", Good: func(v float64) bool { return v < 0.15 }},
		{Name: "Initial denial rate", Column: "initial_denial_rate", Unit: "%", Benchmark: "< 10%", Good: func(v float64) bool { return v < 0.10 }},
		{Name: "Clean claim rate", Column: "clean_claim_rate", Unit: "%", Benchmark: "> 90%", Good: func(v float64) bool { return v > 0.90 }},
		{Name: "Net collection rate", Column: "net_collection_rate", Unit: "%", Benchmark: "> 95%", Good: func(v float64) bool { return v > 0.95 }},
		{Name: "Gross collection rate", Column: "gross_collection_rate", Unit: "%", Benchmark: "—", Good: nil},
		{Name: "Charge lag", Column: "charge_lag_days", Unit: "days", Benchmark: "< 3", Good: func(v float64) bool { return v < 3 }},
		{Name: "Claim lag", Column: "claim_lag_days", Unit: "days", Benchmark: "< 5", Good: func(v float64) bool { return v < 5 }},
		{Name: "Gross charges", Column: "gross_charges", Unit: "$", Benchmark: "—"},
		{Name: "Payments", Column: "payments", Unit: "$", Benchmark: "—"},
		{Name: "A/R", Column: "ar_total", Unit: "$", Benchmark: "—"},
	}
}

// Format renders a KPI's value for people.
func (k KPI) Format() string {
	if k.Value == nil {
		return "n/a"
	}
	switch k.Unit {
	case "%":
		return fmt.Sprintf("%.1f%%", *k.Value*100)
	case "$":
		return fmt.Sprintf("$%.2f", *k.Value)
	}
	return fmt.Sprintf("%.1f %s", *k.Value, k.Unit)
}

// Status is "ok", "watch" or "" (no benchmark).
func (k KPI) Status() string {
	if k.Value == nil || k.Good == nil {
		return ""
	}
	if k.Good(*k.Value) {
		return "ok"
	}
	return "watch"
}

// HeadlineKPIs reads the headline KPIs of a month (zero: the latest complete one) for the
// network, or for one hospital (datasource), from gold.kpi_monthly at a version (-1: latest).
func HeadlineKPIs(ctx context.Context, lh *lakehouse.Lakehouse, month time.Time, datasource string, version int64) (time.Time, []KPI, error) {
	tbl := delta.Open(lh.Store, catalog.Key(catalog.Gold, "kpi_monthly"))
	var s *delta.Snapshot
	var err error
	if version >= 0 {
		s, err = tbl.At(ctx, version)
	} else {
		s, err = tbl.Latest(ctx)
	}
	if err != nil {
		return month, nil, fmt.Errorf("gold.kpi_monthly: %w (run rcmlake transform gold first)", err)
	}
	rel, err := lh.ScanSQL(ctx, s)
	if err != nil {
		return month, nil, err
	}
	grain, member := "network", "all"
	if datasource != "" {
		grain, member = "hospital", datasource
	}
	if month.IsZero() {
		// The latest month with charges that is not the last one in the data (which is still
		// filling up), or the only one there is.
		r, err := lh.Engine.Query(ctx, fmt.Sprintf(`SELECT month_start FROM %s t WHERE grain = 'network' AND gross_charges > 0
			ORDER BY month_start DESC LIMIT 2`, rel))
		if err != nil {
			return month, nil, err
		}
		if len(r.Rows) == 0 {
			return month, nil, fmt.Errorf("gold.kpi_monthly is empty")
		}
		month = r.Rows[len(r.Rows)-1][0].(time.Time)
	}
	ks := Headlines()
	sel := ""
	for i, k := range ks {
		if i > 0 {
			sel += ", "
		}
		sel += "CAST(" + k.Column + " AS DOUBLE)"
	}
	r, err := lh.Engine.Query(ctx, fmt.Sprintf("SELECT %s FROM %s t WHERE grain = '%s' AND member = '%s' AND month_start = DATE '%s'",
		sel, rel, grain, member, month.Format("2006-01-02")))
	if err != nil {
		return month, nil, err
	}
	if len(r.Rows) == 0 {
		return month, nil, fmt.Errorf("no KPIs for %s in %s", member, month.Format("2006-01"))
	}
	for i := range ks {
		if v, ok := r.Rows[0][i].(float64); ok {
			ks[i].Value = &v
		}
	}
	return month, ks, nil
}
