package silver

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/rcmlake/rcmlake/catalog"
	"github.com/rcmlake/rcmlake/config"
	"github.com/rcmlake/rcmlake/delta"
	"github.com/rcmlake/rcmlake/engine/duckdb"
)

// QualityTable is the audit table of rule outcomes: one row per entity, rule and build.
const QualityTable = "audit/quality"

// Outcomes of a rule in one build.
const (
	OutcomePass        = "pass"
	OutcomeWarn        = "warn"
	OutcomeQuarantined = "quarantined"
	OutcomeDropped     = "dropped"
	OutcomeFailed      = "failed"
)

// QualityRow is one rule's outcome in one build of an entity.
type QualityRow struct {
	RunID    string
	Entity   string
	Rule     string
	Type     string // the rule's type; conservation and deletes for the built-in checks
	Severity string
	Checked  int64 // rows the rule saw (1 for a table-level check)
	Failed   int64
	Outcome  string
	Detail   string
	At       time.Time
}

// outcome names what a rule's failures did, by its severity.
func outcome(severity string, failed int64) string {
	if failed == 0 {
		return OutcomePass
	}
	return map[string]string{"warn": OutcomeWarn, "quarantine": OutcomeQuarantined, "drop": OutcomeDropped, "fail": OutcomeFailed}[severity]
}

// qualityRows turns one entity build into its audit rows: each row rule, the conservation
// check and the deletes seen. A skipped build (no new loads) has none of these.
func (b *Builder) qualityRows(e config.Entity, res Result, failed bool) []QualityRow {
	if res.Skipped || (failed && len(res.RuleFails) == 0) {
		return nil
	}
	now := b.Now().UTC()
	row := func(name, typ, severity string, checked, failed int64, detail string) QualityRow {
		return QualityRow{RunID: b.RunID, Entity: e.Name, Rule: name, Type: typ, Severity: severity, Checked: checked,
			Failed: failed, Outcome: outcome(severity, failed), Detail: detail, At: now}
	}
	var out []QualityRow
	for _, r := range e.Rules {
		if r.Type == "freshness" {
			continue
		}
		n, ok := res.RuleFails[r.Name]
		if !ok {
			continue // not evaluated: an earlier rule failed the build
		}
		out = append(out, row(r.Name, r.Type, r.Severity, res.Read, n, strings.Join(r.Columns, ",")))
	}
	if failed {
		return out // the build stopped: nothing was written, so there is nothing to conserve
	}
	lost := res.Read - res.Valid - res.Quarantined - res.Dropped
	out = append(out, row("conservation", "conservation", "fail", res.Read, lost,
		fmt.Sprintf("read %d = valid %d + quarantined %d + dropped %d", res.Read, res.Valid, res.Quarantined, res.Dropped)))
	if e.Deletes != "ignore" {
		d := row("deletes", "deletes", "warn", res.Read, res.Deleted, "keys the source no longer holds, policy "+e.Deletes)
		d.Outcome = OutcomePass // a delete is news, not a failure
		out = append(out, d)
	}
	return out
}

// checkFreshness evaluates the entity's freshness rules against the newest source sequence
// (the source's modified date, or the load time) of the table's rows, read from the data
// files' statistics. A failing rule of severity fail is returned as an error.
func (b *Builder) checkFreshness(ctx context.Context, e config.Entity) ([]QualityRow, error) {
	var rules []config.Rule
	for _, r := range e.Rules {
		if r.Type == "freshness" {
			rules = append(rules, r)
		}
	}
	if len(rules) == 0 {
		return nil, nil
	}
	newest, err := b.newestSeq(ctx, e.Name)
	if err != nil {
		return nil, err
	}
	now := b.Now().UTC()
	var out []QualityRow
	var errs []string
	for _, r := range rules {
		maxAge, err := config.ParseMaxAge(r.MaxAge)
		if err != nil {
			return nil, fmt.Errorf("rule %s: %w", r.Name, err)
		}
		q := QualityRow{RunID: b.RunID, Entity: e.Name, Rule: r.Name, Type: r.Type, Severity: r.Severity, Checked: 1, At: now}
		switch {
		case newest.IsZero():
			q.Failed, q.Detail = 1, "the table has no rows"
		default:
			age := now.Sub(newest)
			q.Detail = fmt.Sprintf("newest source row %s, %s old, max_age %s", newest.Format(time.RFC3339), age.Round(time.Minute), r.MaxAge)
			if age > maxAge {
				q.Failed = 1
			}
		}
		q.Outcome = outcome(r.Severity, q.Failed)
		if q.Failed > 0 && q.Outcome == OutcomeWarn {
			b.Log.Warn("stale data", "entity", e.Name, "rule", r.Name, "detail", q.Detail)
		}
		if q.Outcome == OutcomeFailed {
			errs = append(errs, fmt.Sprintf("freshness rule %s: %s", r.Name, q.Detail))
		}
		out = append(out, q)
	}
	if len(errs) > 0 {
		return out, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return out, nil
}

// newestSeq is the largest source sequence in the entity's table, from file statistics.
func (b *Builder) newestSeq(ctx context.Context, entity string) (time.Time, error) {
	tbl := delta.Open(b.Lake.Store, catalog.Key(catalog.Silver, entity))
	if ok, err := tbl.Exists(ctx); err != nil || !ok {
		return time.Time{}, err
	}
	s, err := tbl.Latest(ctx)
	if err != nil {
		return time.Time{}, err
	}
	var newest time.Time
	for _, f := range s.Files() {
		st, err := delta.ParseStats(f.Stats)
		if err != nil || st == nil {
			continue
		}
		v, _ := st.MaxValues[ColSeq].(string)
		if t, err := time.Parse(time.RFC3339Nano, v); err == nil && t.After(newest) {
			newest = t
		}
	}
	return newest, nil
}

// recordQuality appends rows to audit.quality in one commit. The txn makes a retried build
// of the same run write them once.
func (b *Builder) recordQuality(ctx context.Context, entity string, rows []QualityRow) error {
	if len(rows) == 0 {
		return nil
	}
	var sel []string
	for _, r := range rows {
		sel = append(sel, fmt.Sprintf("SELECT %s AS run_id, %s AS entity, %s AS rule, %s AS rule_type, %s AS severity, CAST(%d AS BIGINT) AS rows_checked, CAST(%d AS BIGINT) AS rows_failed, %s AS outcome, %s AS detail, %s AS evaluated_at",
			duckdb.Literal(r.RunID), duckdb.Literal(r.Entity), duckdb.Literal(r.Rule), duckdb.Literal(r.Type), duckdb.Literal(r.Severity),
			r.Checked, r.Failed, duckdb.Literal(r.Outcome), duckdb.Literal(r.Detail), "TIMESTAMPTZ "+duckdb.Literal(r.At.Format(time.RFC3339Nano))))
	}
	opts := duckdb.WriteOptions{Operation: "WRITE"}
	if b.RunID != "" {
		opts.Txn = &delta.Txn{AppID: "quality:" + b.RunID + ":" + entity, Version: 1}
	}
	_, err := b.Lake.Engine.AppendDelta(ctx, delta.Open(b.Lake.Store, QualityTable), strings.Join(sel, " UNION ALL "), opts)
	return err
}
