package serve

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/rcmlake/rcmlake/access"
	"github.com/rcmlake/rcmlake/bronze"
	"github.com/rcmlake/rcmlake/catalog"
	"github.com/rcmlake/rcmlake/delta"
	"github.com/rcmlake/rcmlake/engine/duckdb"
)

// TableInfo is one catalog table a principal may read.
type TableInfo struct {
	Name    string    `json:"name"`
	Layer   string    `json:"layer"`
	Version int64     `json:"version"` // -1 for bronze (a bronze table is its loads)
	Updated time.Time `json:"updated"`
}

// listTables lists the lake's tables the principal may read, in flow order.
func (s *Server) listTables(ctx context.Context, p access.Principal) ([]TableInfo, error) {
	store := s.Reader.Lake.Store
	var out []TableInfo
	logs, err := bronze.ReadLoadLogs(ctx, s.Reader.Lake, nil)
	if err != nil {
		return nil, err
	}
	seen := map[string]time.Time{}
	for _, l := range logs {
		if l.Status == "success" && l.LoadDate.After(seen[l.TableName]) {
			seen[l.TableName] = l.LoadDate
		}
	}
	for t, at := range seen {
		if s.Reader.Policy.CanRead(p.Role, catalog.Bronze, t) {
			out = append(out, TableInfo{Name: "bronze." + t, Layer: catalog.Bronze, Version: -1, Updated: at})
		}
	}
	for _, layer := range []string{catalog.Silver, catalog.Gold, catalog.Audit} {
		objs, err := store.List(ctx, layer+"/")
		if err != nil {
			return nil, err
		}
		tables := map[string]bool{}
		for _, o := range objs {
			rest := strings.TrimPrefix(o.Key, layer+"/")
			if name, _, ok := strings.Cut(rest, "/_delta_log/"); ok && !strings.Contains(name, "/") {
				tables[name] = true
			}
		}
		for t := range tables {
			if !s.Reader.Policy.CanRead(p.Role, layer, t) {
				continue
			}
			snap, err := delta.Open(store, catalog.Key(layer, t)).Latest(ctx)
			if err != nil {
				continue // being created, or damaged: `rcmlake table describe` says which
			}
			out = append(out, TableInfo{Name: layer + "." + t, Layer: layer, Version: snap.Version, Updated: snap.Timestamp})
		}
	}
	order := map[string]int{catalog.Bronze: 0, catalog.Silver: 1, catalog.Gold: 2, catalog.Audit: 3}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Layer != out[j].Layer {
			return order[out[i].Layer] < order[out[j].Layer]
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

// Column is a table column as a principal sees it.
type Column struct {
	Name   string `json:"name"`
	Type   string `json:"type"`
	PHI    bool   `json:"phi"`
	Masked bool   `json:"masked"` // masked for this principal
}

// TableDetail is a table's schema, version and history.
type TableDetail struct {
	TableInfo
	Columns []Column       `json:"columns"`
	Rows    *int64         `json:"rows,omitempty"`
	Files   int            `json:"files"`
	History []HistoryEntry `json:"history,omitempty"`
}

// HistoryEntry is one commit of a table.
type HistoryEntry struct {
	Version   int64             `json:"version"`
	Timestamp time.Time         `json:"timestamp"`
	Operation string            `json:"operation"`
	Metrics   map[string]string `json:"metrics,omitempty"`
}

func (s *Server) tableDetail(ctx context.Context, p access.Principal, name string) (*TableDetail, error) {
	n, err := catalog.Parse(name)
	if err != nil {
		return nil, userError{err}
	}
	if err := s.Reader.Authorize(p, "describe", n.Layer+"."+n.Table); err != nil {
		return nil, err
	}
	d := &TableDetail{TableInfo: TableInfo{Name: n.Layer + "." + n.Table, Layer: n.Layer, Version: -1}}
	seesPHI := s.Reader.Policy.SeesPHI(p.Role)
	if n.Layer == catalog.Bronze {
		res, err := s.Reader.Trusted(ctx, p, "describe", "DESCRIBE SELECT * FROM "+d.Name)
		if err != nil {
			return nil, err
		}
		for _, row := range res.Rows {
			c := Column{Name: fmt.Sprint(row[0]), Type: fmt.Sprint(row[1])}
			c.PHI = s.Reader.Policy.IsPHI(n.Layer, n.Table, c.Name)
			c.Masked = c.PHI && !seesPHI
			d.Columns = append(d.Columns, c)
		}
		return d, nil
	}
	tbl := delta.Open(s.Reader.Lake.Store, n.Key())
	snap, err := tbl.Latest(ctx)
	if err != nil {
		return nil, userError{fmt.Errorf("%s: %w", d.Name, err)}
	}
	d.Version, d.Updated, d.Files = snap.Version, snap.Timestamp, len(snap.Files())
	if rows, ok := snap.NumRecords(); ok {
		d.Rows = &rows
	}
	for _, f := range snap.Schema.Fields {
		c := Column{Name: f.Name, Type: f.Type.String()}
		c.PHI = s.Reader.Policy.IsPHI(n.Layer, n.Table, c.Name)
		c.Masked = c.PHI && !seesPHI
		d.Columns = append(d.Columns, c)
	}
	hist, err := tbl.History(ctx)
	if err != nil {
		return nil, err
	}
	for i, h := range hist {
		if i == 50 {
			break
		}
		e := HistoryEntry{Version: h.Version, Timestamp: h.Timestamp}
		if h.Info != nil {
			e.Operation, e.Metrics = h.Info.Operation, h.Info.OperationMetrics
		}
		d.History = append(d.History, e)
	}
	return d, nil
}

// tableRows reads a sample of a table (a version may be pinned) through the governed reader.
func (s *Server) tableRows(ctx context.Context, p access.Principal, name string, limit int) (*access.Result, error) {
	if !catalog.IsName(name) {
		return nil, userError{fmt.Errorf("%q: want layer.table[@vN]", name)}
	}
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	res, err := s.Reader.Trusted(ctx, p, "browse "+name, fmt.Sprintf("SELECT * FROM %s LIMIT %d", name, limit))
	if err != nil && !access.IsDenied(err) {
		return nil, userError{err} // a version or time the table does not have
	}
	return res, err
}

// QualityRow is one rule's count of quarantined current rows in a silver table.
type QualityRow struct {
	Table string `json:"table"`
	Rule  string `json:"rule"`
	Rows  int64  `json:"rows"`
}

// quality counts quarantined current rows per silver table and rule.
func (s *Server) quality(ctx context.Context, p access.Principal) ([]QualityRow, []string, error) {
	tables, err := s.listTables(ctx, p)
	if err != nil {
		return nil, nil, err
	}
	var parts, names []string
	for _, t := range tables {
		if t.Layer != catalog.Silver || strings.HasSuffix(t.Name, "_quarantine") {
			continue
		}
		names = append(names, t.Name)
		parts = append(parts, fmt.Sprintf(`SELECT %s AS tbl, trim(reason) AS rule, count(*) AS n
			FROM (SELECT unnest(string_split(quarantine_reasons, ',')) AS reason FROM %s WHERE is_quarantined AND is_current) q GROUP BY 2`,
			duckdb.Literal(t.Name), t.Name))
	}
	if len(parts) == 0 {
		return nil, names, nil
	}
	res, err := s.Reader.Trusted(ctx, p, "quality", strings.Join(parts, " UNION ALL ")+" ORDER BY 1, 3 DESC")
	if err != nil {
		return nil, nil, err
	}
	var out []QualityRow
	for _, row := range res.Rows {
		n := num(row[2])
		out = append(out, QualityRow{Table: fmt.Sprint(row[0]), Rule: fmt.Sprint(row[1]), Rows: int64(*n)})
	}
	return out, names, nil
}

// quarantined reads sample quarantined rows of a silver table, optionally for one rule.
func (s *Server) quarantined(ctx context.Context, p access.Principal, table, rule string, limit int) (*access.Result, error) {
	n, err := catalog.Parse(table)
	if err != nil || n.Layer != catalog.Silver || n.Version != nil || n.AsOf != nil {
		return nil, userError{fmt.Errorf("%q: want a silver table such as silver.patients", table)}
	}
	where := "is_quarantined AND is_current"
	if rule != "" {
		if !memberRe.MatchString(rule) {
			return nil, userError{fmt.Errorf("rule %q is not a valid name", rule)}
		}
		where += " AND list_contains(list_transform(string_split(quarantine_reasons, ','), x -> trim(x)), " + duckdb.Literal(rule) + ")"
	}
	if limit <= 0 || limit > 1000 {
		limit = 50
	}
	return s.Reader.Trusted(ctx, p, "quarantine "+table, fmt.Sprintf("SELECT * FROM %s WHERE %s LIMIT %d", table, where, limit))
}

// runs reads the run history (latest state of each run), newest first.
func (s *Server) runs(ctx context.Context, p access.Principal, limit int) (*access.Result, error) {
	return s.Reader.Trusted(ctx, p, "runs", fmt.Sprintf(`SELECT run_id, trigger, selection, status, started, finished, tasks, failed,
		date_diff('millisecond', started, finished) / 1000.0 AS seconds
		FROM (SELECT *, row_number() OVER (PARTITION BY run_id ORDER BY recorded_at DESC) AS rn FROM audit.runs) WHERE rn = 1
		ORDER BY started DESC LIMIT %d`, limit))
}

// runTasks reads one run's tasks (latest state of each), in start order.
func (s *Server) runTasks(ctx context.Context, p access.Principal, runID string) (*access.Result, error) {
	if !memberRe.MatchString(runID) {
		return nil, userError{fmt.Errorf("run %q: not a run id", runID)}
	}
	return s.Reader.Trusted(ctx, p, "run "+runID, fmt.Sprintf(`SELECT task, status, attempts, started, finished,
		date_diff('millisecond', started, finished) / 1000.0 AS seconds, rows_in, rows_out, error
		FROM (SELECT *, row_number() OVER (PARTITION BY task ORDER BY recorded_at DESC) AS rn FROM audit.task_runs WHERE run_id = %s) WHERE rn = 1
		ORDER BY started NULLS LAST, task`, duckdb.Literal(runID)))
}

// loadLogs reads the latest loads.
func (s *Server) loadLogs(ctx context.Context, p access.Principal, limit int) (*access.Result, error) {
	return s.Reader.Trusted(ctx, p, "load_logs", fmt.Sprintf(`SELECT loaddate, data_source, tablename, load_type, numberofrowscopied,
		rows_rejected, old_watermark, new_watermark, status, duration_ms FROM audit.load_logs ORDER BY loaddate DESC LIMIT %d`, limit))
}

// userError marks an error as the caller's (HTTP 400).
type userError struct{ error }

func (e userError) Unwrap() error { return e.error }
