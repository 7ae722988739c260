package serve

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/rcmlake/rcmlake/access"
	"github.com/rcmlake/rcmlake/engine/duckdb"
	"github.com/rcmlake/rcmlake/gold"
)

// Filter is the dashboard's selection: a hospital, then at most one of a payer or a
// department (the grains gold.kpi_monthly holds), and a range of months.
type Filter struct {
	Hospital   string `json:"hospital,omitempty"`
	Payer      string `json:"payer,omitempty"`
	Department string `json:"department,omitempty"`
	From       string `json:"from,omitempty"` // YYYY-MM
	To         string `json:"to,omitempty"`   // YYYY-MM; its month is the one the tiles show
}

var (
	memberRe = regexp.MustCompile(`^[A-Za-z0-9 _.&'/-]{1,100}$`)
	monthRe  = regexp.MustCompile(`^[0-9]{4}-(0[1-9]|1[0-2])$`)
)

// ParseFilter reads a filter from query parameters, refusing anything that is not a plain
// member name or month.
func ParseFilter(q url.Values) (Filter, error) {
	f := Filter{Hospital: q.Get("hospital"), Payer: q.Get("payer"), Department: q.Get("department"), From: q.Get("from"), To: q.Get("to")}
	for name, v := range map[string]string{"hospital": f.Hospital, "payer": f.Payer, "department": f.Department} {
		if v != "" && !memberRe.MatchString(v) {
			return f, fmt.Errorf("%s %q is not a valid name", name, v)
		}
	}
	for name, v := range map[string]string{"from": f.From, "to": f.To} {
		if v != "" && !monthRe.MatchString(v) {
			return f, fmt.Errorf("%s %q: want YYYY-MM", name, v)
		}
	}
	if f.Department != "" && f.Payer != "" {
		f.Payer = "" // one slice at a time; the department wins, being the narrower choice
	}
	return f, nil
}

// slice is the kpi_monthly grain, datasource and member that a filter selects.
func (f Filter) slice() (grain, datasource, member string) {
	switch {
	case f.Department != "":
		return "department", f.Hospital, f.Department
	case f.Payer != "" && f.Hospital != "":
		return "payer", f.Hospital, f.Payer
	case f.Payer != "":
		return "network_payer", "all", f.Payer
	case f.Hospital != "":
		return "hospital", f.Hospital, f.Hospital
	}
	return "network", "all", "all"
}

// Tile is a headline KPI of the selected month, with its trend.
type Tile struct {
	Name      string     `json:"name"`
	Column    string     `json:"column"`
	Value     *float64   `json:"value"`
	Text      string     `json:"text"`
	Previous  *float64   `json:"previous"`
	Change    string     `json:"change"` // up, down, flat or ""
	Benchmark string     `json:"benchmark"`
	Status    string     `json:"status"` // ok, watch or ""
	Trend     []*float64 `json:"trend"`
}

// Member is one bar or slice of a breakdown.
type Member struct {
	Key   string  `json:"key"`
	Label string  `json:"label"`
	Value float64 `json:"value"`
}

// Dashboard is everything the dashboard page shows for one filter.
type Dashboard struct {
	Filter  Filter                `json:"filter"`
	Month   string                `json:"month"` // YYYY-MM the tiles describe
	Months  []string              `json:"months"`
	Tiles   []Tile                `json:"tiles"`
	Series  map[string][]*float64 `json:"series"` // by kpi_monthly column, over Months
	Aging   []Member              `json:"aging"`
	Payers  []Member              `json:"payer_mix"`
	TopProv []Member              `json:"top_providers"`
	TopDept []Member              `json:"top_departments"`
	Options Options               `json:"options"`
	Version int64                 `json:"kpi_version"`
}

// Options are the values the filters offer.
type Options struct {
	Hospitals   []string `json:"hospitals"`
	Payers      []string `json:"payers"`
	Departments []Member `json:"departments"` // key = datasource|department_key
	Months      []string `json:"months"`
}

// tileColumns are the dashboard's headline tiles, in gold.Headlines order.
var tileColumns = []string{"days_in_ar", "ar_over_90_pct", "initial_denial_rate", "net_collection_rate", "charge_lag_days"}

var seriesColumns = []string{"gross_charges", "payments", "claims_denied", "claims_submitted", "days_in_ar", "ar_over_90_pct",
	"initial_denial_rate", "net_collection_rate", "charge_lag_days", "ar_0_30", "ar_31_60", "ar_61_90", "ar_91_120", "ar_over_120"}

const kpiTable = "gold.kpi_monthly"

// dashboard reads the dashboard of a filter through the governed reader.
func dashboard(ctx context.Context, r *access.Reader, p access.Principal, f Filter, version int64) (*Dashboard, error) {
	d := &Dashboard{Filter: f, Series: map[string][]*float64{}, Version: version}
	lit := duckdb.Literal
	kpi := fmt.Sprintf("%s@v%d", kpiTable, version)
	// Filter options.
	opts, err := r.Trusted(ctx, p, "dashboard", fmt.Sprintf(`SELECT 'h' AS kind, datasource AS k, datasource AS label FROM %[1]s WHERE grain = 'hospital' GROUP BY 2
		UNION ALL SELECT 'p', member, member FROM %[1]s WHERE grain = %[2]s AND datasource = %[3]s GROUP BY 2
		UNION ALL SELECT 'm', strftime(month_start, '%%Y-%%m'), '' FROM %[1]s WHERE grain = 'network' AND gross_charges > 0 GROUP BY 2
		ORDER BY 1, 2`, kpi, lit(map[bool]string{true: "payer", false: "network_payer"}[f.Hospital != ""]), lit(orAll(f.Hospital))))
	if err != nil {
		return nil, err
	}
	for _, row := range opts.Rows {
		k := fmt.Sprint(row[1])
		switch row[0] {
		case "h":
			d.Options.Hospitals = append(d.Options.Hospitals, k)
		case "p":
			d.Options.Payers = append(d.Options.Payers, k)
		case "m":
			d.Options.Months = append(d.Options.Months, k)
		}
	}
	if f.Hospital != "" {
		deps, err := r.Trusted(ctx, p, "dashboard", fmt.Sprintf(`SELECT k.member, coalesce(max(d.name), k.member) FROM %s k
			LEFT JOIN gold.dim_department d ON d.department_key = k.member
			WHERE k.grain = 'department' AND k.datasource = %s GROUP BY 1 ORDER BY 2`, kpi, lit(f.Hospital)))
		if err != nil {
			return nil, err
		}
		for _, row := range deps.Rows {
			d.Options.Departments = append(d.Options.Departments, Member{Key: fmt.Sprint(row[0]), Label: fmt.Sprint(row[1])})
		}
	}
	if len(d.Options.Months) == 0 {
		return d, nil
	}
	// The tiles' month: the one asked for, else the latest complete one (as rcmlake kpi).
	d.Month = f.To
	if d.Month == "" {
		d.Month = d.Options.Months[max(0, len(d.Options.Months)-2)]
	}
	from := f.From
	if from == "" {
		from = d.Options.Months[0]
	}
	grain, ds, member := f.slice()
	cols := make([]string, len(seriesColumns))
	for i, c := range seriesColumns {
		cols[i] = "CAST(" + c + " AS DOUBLE)"
	}
	ser, err := r.Trusted(ctx, p, "dashboard", fmt.Sprintf(`SELECT strftime(month_start, '%%Y-%%m'), %s FROM %s
		WHERE grain = %s AND datasource = %s AND member = %s AND month_start BETWEEN DATE %s AND DATE %s ORDER BY month_start`,
		strings.Join(cols, ", "), kpi, lit(grain), lit(ds), lit(member), lit(from+"-01"), lit(d.Month+"-01")))
	if err != nil {
		return nil, err
	}
	for _, row := range ser.Rows {
		d.Months = append(d.Months, fmt.Sprint(row[0]))
		for i, c := range seriesColumns {
			d.Series[c] = append(d.Series[c], num(row[i+1]))
		}
	}
	last := len(d.Months) - 1
	for _, k := range gold.Headlines() {
		if !contains(tileColumns, k.Column) {
			continue
		}
		t := Tile{Name: k.Name, Column: k.Column, Benchmark: k.Benchmark, Trend: d.Series[k.Column]}
		if last >= 0 && d.Months[last] == d.Month {
			k.Value = t.Trend[last]
			if last > 0 {
				t.Previous = t.Trend[last-1]
			}
		}
		t.Value, t.Text, t.Status = k.Value, k.Format(), k.Status()
		if t.Value != nil && t.Previous != nil {
			switch {
			case *t.Value > *t.Previous*1.005:
				t.Change = "up"
			case *t.Value < *t.Previous*0.995:
				t.Change = "down"
			default:
				t.Change = "flat"
			}
		}
		d.Tiles = append(d.Tiles, t)
	}
	if last >= 0 && d.Months[last] == d.Month {
		for _, b := range []struct{ col, label string }{{"ar_0_30", "0–30"}, {"ar_31_60", "31–60"}, {"ar_61_90", "61–90"}, {"ar_91_120", "91–120"}, {"ar_over_120", "120+"}} {
			v := d.Series[b.col][last]
			if v != nil {
				d.Aging = append(d.Aging, Member{Key: b.col, Label: b.label, Value: *v})
			}
		}
	}
	// Breakdowns over the selected period.
	period := fmt.Sprintf("k.month_start BETWEEN DATE %s AND DATE %s", lit(from+"-01"), lit(d.Month+"-01"))
	where := "k.datasource = " + lit(orAll(f.Hospital))
	if f.Hospital == "" {
		where = "TRUE"
	}
	payerGrain := map[bool]string{true: "payer", false: "network_payer"}[f.Hospital != ""]
	if d.Payers, err = breakdown(ctx, r, p, fmt.Sprintf(`SELECT member, member, CAST(sum(gross_charges) AS DOUBLE) FROM %s k WHERE grain = %s AND datasource = %s AND %s
		GROUP BY 1 ORDER BY 3 DESC`, kpi, lit(payerGrain), lit(orAll(f.Hospital)), period)); err != nil {
		return nil, err
	}
	if d.TopProv, err = breakdown(ctx, r, p, fmt.Sprintf(`SELECT k.member, coalesce(max(trim(concat_ws(' ', pr.first_name, pr.last_name))), k.member), CAST(sum(k.gross_charges) AS DOUBLE)
		FROM %s k LEFT JOIN gold.dim_provider pr ON pr.provider_sk = k.member
		WHERE k.grain = 'provider' AND %s AND %s GROUP BY 1 ORDER BY 3 DESC LIMIT 10`, kpi, where, period)); err != nil {
		return nil, err
	}
	if d.TopDept, err = breakdown(ctx, r, p, fmt.Sprintf(`SELECT k.member, coalesce(max(dp.name), k.member) || CASE WHEN %t THEN ' (' || k.datasource || ')' ELSE '' END, CAST(sum(k.gross_charges) AS DOUBLE)
		FROM %s k LEFT JOIN gold.dim_department dp ON dp.department_key = k.member
		WHERE k.grain = 'department' AND %s AND %s GROUP BY k.member, k.datasource ORDER BY 3 DESC LIMIT 10`, f.Hospital == "", kpi, where, period)); err != nil {
		return nil, err
	}
	return d, nil
}

func breakdown(ctx context.Context, r *access.Reader, p access.Principal, sql string) ([]Member, error) {
	res, err := r.Trusted(ctx, p, "dashboard", sql)
	if err != nil {
		return nil, err
	}
	out := make([]Member, 0, len(res.Rows))
	for _, row := range res.Rows {
		v := num(row[2])
		if v == nil {
			continue
		}
		out = append(out, Member{Key: fmt.Sprint(row[0]), Label: fmt.Sprint(row[1]), Value: *v})
	}
	return out, nil
}

func orAll(s string) string {
	if s == "" {
		return "all"
	}
	return s
}

func num(v any) *float64 {
	switch x := v.(type) {
	case float64:
		return &x
	case int64:
		f := float64(x)
		return &f
	case int32:
		f := float64(x)
		return &f
	}
	return nil
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
