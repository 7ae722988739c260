package silver

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/rcmlake/rcmlake/bronze"
	"github.com/rcmlake/rcmlake/catalog"
	"github.com/rcmlake/rcmlake/config"
	"github.com/rcmlake/rcmlake/delta"
	"github.com/rcmlake/rcmlake/engine"
	"github.com/rcmlake/rcmlake/lakehouse"
	"github.com/rcmlake/rcmlake/models"
)

// Columns silver adds to every entity, besides the SCD2 ones.
const (
	ColQuarantined = "is_quarantined"
	ColReasons     = "quarantine_reasons"
)

// Result reports one entity's build.
type Result struct {
	Entity         string
	Read           int64            // rows read from new bronze loads
	Valid          int64            // rows that passed every quarantine rule
	Quarantined    int64            // rows kept with is_quarantined = true
	Dropped        int64            // rows sent to the entity's quarantine table
	Deleted        int64            // keys the source no longer holds (deleted-marker versions)
	FilesBefore    int              // data files the table had
	FilesRewritten int              // of those, files the merge rewrote (0: only new files)
	RuleFails      map[string]int64 // failures per rule, warnings included
	Version        int64            // silver table version written (-1: nothing new)
	Skipped        bool             // no new bronze loads
}

// Builder builds silver entities from committed bronze loads.
type Builder struct {
	Config *config.Config
	Lake   *lakehouse.Lakehouse
	Models models.Source
	Log    *slog.Logger
	Now    func() time.Time
	// FullRefresh rebuilds each entity from every committed bronze load, ignoring what the
	// table has taken in so far; the result replaces the table in one commit.
	FullRefresh bool
	// FileBytes is the target data file size (default DefaultFileBytes).
	FileBytes int64
	// RunID tags the build's rows in audit.quality.
	RunID string
}

// engine is the engine that runs silver: the embedded one, or Spark.
func (b *Builder) engine() engine.Staging { return b.Lake.Models }

// dialect is the SQL dialect of b.engine().
func (b *Builder) dialect() models.Dialect { return models.DialectFor(b.Lake.Models.Name()) }

// Build builds every configured entity, in order, so that relationship rules see the
// entities they point at.
func (b *Builder) Build(ctx context.Context, only string) ([]Result, error) {
	if b.Now == nil {
		b.Now = time.Now
	}
	logs, err := bronze.ReadLoadLogs(ctx, b.Lake, nil)
	if err != nil {
		return nil, err
	}
	var out []Result
	for _, e := range b.Config.Silver.Entities {
		if only != "" && e.Name != only {
			continue
		}
		r, err := b.buildEntity(ctx, e, logs)
		rows := b.qualityRows(e, r, err != nil)
		fresh, ferr := b.checkFreshness(ctx, e)
		if qerr := b.recordQuality(ctx, e.Name, append(rows, fresh...)); qerr != nil && err == nil {
			err = fmt.Errorf("recording quality results: %w", qerr)
		}
		if err == nil {
			err = ferr
		}
		if err != nil {
			return out, fmt.Errorf("silver %s: %w", e.Name, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// source is one bronze input of an entity with its loads not yet in silver.
type source struct {
	cfg   config.EntitySource
	files []string
	loads int             // successful loads so far (the txn version once processed)
	last  *bronze.LoadLog // the newest load not yet in silver
}

func (b *Builder) buildEntity(ctx context.Context, e config.Entity, logs []bronze.LoadLog) (Result, error) {
	res := Result{Entity: e.Name, RuleFails: map[string]int64{}, Version: -1}
	tbl := delta.Open(b.Lake.Store, catalog.Key(catalog.Silver, e.Name))
	var existing *delta.Snapshot
	if ok, err := tbl.Exists(ctx); err != nil {
		return res, err
	} else if ok {
		if existing, err = tbl.Latest(ctx); err != nil {
			return res, err
		}
	}
	// New loads per source: those after the last one this table recorded (its txn version).
	var srcs []source
	for _, s := range e.Sources {
		var loads []bronze.LoadLog
		for _, l := range logs {
			if l.DataSource == s.Datasource && l.TableName == s.Table && l.Status == "success" {
				loads = append(loads, l)
			}
		}
		done := int64(0)
		if existing != nil && !b.FullRefresh {
			done, _ = existing.TxnVersion(appID(s))
		}
		src := source{cfg: s, loads: len(loads)}
		for i, l := range loads {
			if int64(i) >= done {
				src.files = append(src.files, l.Files...)
				src.last = &loads[i]
			}
		}
		srcs = append(srcs, src)
	}
	// Arrival numbers continue the table's counter, so that versions sharing a source
	// sequence are ordered by arrival across batches, not only inside one.
	firstSeq := int64(0)
	if existing != nil && !b.FullRefresh {
		var err error
		if firstSeq, err = b.lastIngestSeq(ctx, existing); err != nil {
			return res, err
		}
	}
	lastSeq := firstSeq
	// Every source yields the same columns, in one order, so their rows stack positionally.
	var cdm []string
	seen := map[string]bool{}
	for _, s := range srcs {
		for k := range s.cfg.Columns {
			if !seen[k] && len(s.files) > 0 {
				seen[k] = true
				cdm = append(cdm, k)
			}
		}
	}
	sort.Strings(cdm)
	var staged []string
	for _, s := range srcs {
		if len(s.files) == 0 {
			continue
		}
		q, n, err := b.stageSQL(ctx, s, cdm, lastSeq)
		if err != nil {
			return res, err
		}
		staged = append(staged, q)
		lastSeq += n
	}
	if len(staged) == 0 {
		res.Skipped = true
		return res, nil
	}
	stagedSQL := "(" + strings.Join(staged, "\nUNION ALL\n") + ")"
	model, err := b.Models.Render("silver", e.Name, models.Funcs{Staged: func() (string, error) { return stagedSQL + " staged", nil }})
	if err != nil {
		return res, err
	}
	eng, d := b.engine(), b.dialect()
	// Temp tables carry the entity's name: entities may build at once on one engine.
	tmp := "rcmlake_silver_" + strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, strings.ToLower(e.Name))
	batch := tmp + "_batch"
	if err := eng.TempTable(ctx, batch, model); err != nil {
		return res, fmt.Errorf("running the model: %w", err)
	}
	defer eng.DropTemp(context.WithoutCancel(ctx), batch)
	cols, err := columnsOf(ctx, eng, batch)
	if err != nil {
		return res, err
	}
	var data []string
	carries := 0
	for _, c := range cols {
		if c == ColSeq || c == ColIngestSeq || c == ColLoad {
			carries++
		} else {
			data = append(data, c)
		}
	}
	if carries != 3 {
		return res, fmt.Errorf("the silver model %s must select %s, %s and %s from {{ staged }} as they are: they order the versions and tell loads apart",
			e.Name, ColSeq, ColIngestSeq, ColLoad)
	}

	// Quality rules over the batch.
	refs := func(entity string) (string, error) {
		t := delta.Open(b.Lake.Store, catalog.Key(catalog.Silver, entity))
		s, err := t.Latest(ctx)
		if err != nil {
			return "", fmt.Errorf("relationship to silver.%s: build it first: %w", entity, err)
		}
		q, err := eng.ScanSQL(ctx, s, nil)
		if err != nil {
			return "", err
		}
		return "(SELECT * FROM " + q + " r WHERE is_current AND NOT is_deleted)", nil
	}
	var quarantine, drops, all []RuleSQL
	for _, r := range e.Rules {
		if r.Type == "freshness" {
			continue
		}
		c, err := CompileRule(r, refs, d)
		if err != nil {
			return res, err
		}
		all = append(all, c)
		switch r.Severity {
		case "quarantine":
			quarantine = append(quarantine, c)
		case "drop":
			drops = append(drops, c)
		}
	}
	// Each rule's verdict is computed once as a column (a unique rule is a window, which
	// cannot sit inside an aggregate), then named in the reasons columns and counted. One
	// table holds both: a second copy of the batch cost a full write at every size.
	checked := tmp + "_checked"
	var ruleCols, counts []string
	asCol := func(rules []RuleSQL) []RuleSQL {
		out := make([]RuleSQL, len(rules))
		for i, r := range rules {
			for j, a := range all {
				if a.Rule.Name == r.Rule.Name {
					out[i] = RuleSQL{Rule: r.Rule, Fails: fmt.Sprintf("_rcmlake_r%d", j)}
				}
			}
		}
		return out
	}
	for i, r := range all {
		ruleCols = append(ruleCols, fmt.Sprintf("coalesce(%s, FALSE) AS _rcmlake_r%d", r.Fails, i))
		counts = append(counts, fmt.Sprintf("sum(CASE WHEN _rcmlake_r%d THEN 1 ELSE 0 END)", i))
	}
	sel := "*"
	if len(ruleCols) > 0 {
		sel += ", " + strings.Join(ruleCols, ", ")
	}
	if err := eng.TempTable(ctx, checked, fmt.Sprintf(`SELECT *, %s AS %s, %s AS _rcmlake_drop FROM (SELECT %s FROM %s %s) v`,
		ReasonsExpr(asCol(quarantine)), ColReasons, ReasonsExpr(asCol(drops)), sel, batch, RowAlias)); err != nil {
		return res, fmt.Errorf("quality rules: %w", err)
	}
	defer eng.DropTemp(context.WithoutCancel(ctx), checked)
	if len(all) > 0 {
		r, err := eng.Query(ctx, "SELECT count(*), "+strings.Join(counts, ", ")+" FROM "+checked)
		if err != nil {
			return res, fmt.Errorf("quality counts: %w", err)
		}
		res.Read = toInt(r.Rows[0][0])
		for i, rule := range all {
			n := toInt(r.Rows[0][i+1])
			res.RuleFails[rule.Rule.Name] = n
			if rule.Rule.Severity == "fail" && n > 0 {
				return res, fmt.Errorf("rule %s (severity fail) failed on %d rows; the table was not changed", rule.Rule.Name, n)
			}
		}
	}
	r, err := eng.Query(ctx, fmt.Sprintf(`SELECT count(*), sum(CASE WHEN _rcmlake_drop <> '' THEN 1 ELSE 0 END),
		sum(CASE WHEN _rcmlake_drop = '' AND %s <> '' THEN 1 ELSE 0 END) FROM %s`, ColReasons, checked))
	if err != nil {
		return res, err
	}
	res.Read, res.Dropped, res.Quarantined = toInt(r.Rows[0][0]), toInt(r.Rows[0][1]), toInt(r.Rows[0][2])
	res.Valid = res.Read - res.Dropped - res.Quarantined
	if res.Valid+res.Quarantined+res.Dropped != res.Read {
		return res, fmt.Errorf("conservation broken: %d valid + %d quarantined + %d dropped != %d read", res.Valid, res.Quarantined, res.Dropped, res.Read)
	}

	// SCD2 over the kept rows. The hash covers the data and its quality verdict, so a row
	// that changes only in its verdict (a fixed reference) is a new version too.
	tracked := append(append([]string{}, data...), ColReasons)
	sort.Strings(tracked)
	kept := tmp + "_kept"
	if err := eng.TempTable(ctx, kept, fmt.Sprintf(`SELECT %s, %s, %s <> '' AS %s, %s AS %s, %s, FALSE AS %s, %s FROM %s WHERE _rcmlake_drop = ''`,
		strings.Join(data, ", "), ColReasons, ColReasons, ColQuarantined, HashExpr(tracked), ColHash, ColSeq, ColIsDeleted, ColIngestSeq, checked)); err != nil {
		return res, fmt.Errorf("staging the batch: %w", err)
	}
	defer eng.DropTemp(context.WithoutCancel(ctx), kept)
	incoming := kept // the kept rows, and the deleted-markers if any
	s := SCD2{Key: e.Key, Columns: append(append([]string{}, data...), ColReasons, ColQuarantined), CloseDeletes: e.Deletes == "close"}
	if b.FullRefresh {
		existing = nil
	}
	if e.Deletes == "close" || e.Deletes == "marker" {
		existingScan := ""
		if existing != nil {
			if existingScan, err = eng.ScanSQL(ctx, existing, nil); err != nil {
				return res, err
			}
		}
		markers, temps, n, err := b.markDeletes(ctx, e, srcs, existingScan, kept, s.Columns, lastSeq)
		for _, t := range temps {
			defer eng.DropTemp(context.WithoutCancel(ctx), t)
		}
		if err != nil {
			return res, err
		}
		res.Deleted = n
		lastSeq += n
		if len(markers) > 0 {
			all := append(append([]string{}, s.Columns...), ColHash, ColSeq, ColIsDeleted, ColIngestSeq)
			parts := []string{"SELECT " + strings.Join(all, ", ") + " FROM " + kept}
			for _, m := range markers {
				parts = append(parts, "SELECT "+strings.Join(all, ", ")+" FROM "+m)
			}
			// Materialised, not a UNION ALL subquery: read through the union, the merge's
			// windows ran out of memory under the limit (silver.patients at 1M under 300 MB,
			// silver.transactions at 10M under 2 GB), while a table of the same rows spills.
			incoming = tmp + "_incoming"
			if err := eng.TempTable(ctx, incoming, strings.Join(parts, "\nUNION ALL\n")); err != nil {
				return res, fmt.Errorf("adding the delete markers: %w", err)
			}
			defer eng.DropTemp(context.WithoutCancel(ctx), incoming)
		}
	}
	opts := engine.WriteOptions{Operation: "MERGE", Read: existing,
		Params: map[string]any{"entity": e.Name, "sources": len(srcs)},
		Metrics: map[string]int64{"numSourceRows": res.Read, "numQuarantinedRows": res.Quarantined, "numDroppedRows": res.Dropped,
			"numDeletedRows": res.Deleted}}
	if b.FullRefresh {
		opts.Read, _ = tbl.Latest(ctx) // replace whatever the table holds, in one commit
	}
	// One commit per build; it records, per source, how many bronze loads it has taken in.
	m := &merger{b: b, tbl: tbl, existing: existing, scd: s, incoming: incoming, tmp: tmp}
	w, ms, err := m.write(ctx, withAllTxns(opts, srcs, firstSeq, lastSeq))
	if err != nil {
		return res, err
	}
	res.Version, res.FilesBefore, res.FilesRewritten = w.Version, ms.filesBefore, ms.filesRewritten
	if res.Dropped > 0 {
		qt := delta.Open(b.Lake.Store, catalog.Key(catalog.Silver, e.Name+"_quarantine"))
		if _, err := eng.WriteDelta(ctx, qt, "SELECT "+strings.Join(data, ", ")+", _rcmlake_drop AS drop_reasons FROM "+checked+" WHERE _rcmlake_drop <> ''",
			engine.WriteOptions{}); err != nil {
			return res, err
		}
	}
	b.Log.Info("silver built", "entity", e.Name, "read", res.Read, "valid", res.Valid, "quarantined", res.Quarantined,
		"dropped", res.Dropped, "deleted", res.Deleted, "files_rewritten", res.FilesRewritten, "files_before", res.FilesBefore, "version", res.Version)
	return res, nil
}

// withAllTxns records in the commit every source's processed load count, and the last
// arrival number used when the batch used any (a load may hold no rows). A txn version must
// grow, so those the table already holds at that version or later are left out: a full
// refresh takes in no new load, and numbers arrivals from the start again (later builds go
// on after the larger number the table keeps).
func withAllTxns(opts engine.WriteOptions, srcs []source, firstSeq, lastSeq int64) engine.WriteOptions {
	var txns []delta.Txn
	for _, s := range srcs {
		if len(s.files) > 0 {
			txns = append(txns, delta.Txn{AppID: appID(s.cfg), Version: int64(s.loads)})
		}
	}
	if lastSeq > firstSeq {
		txns = append(txns, delta.Txn{AppID: ingestSeqAppID, Version: lastSeq})
	}
	opts.Txns = nil
	for _, x := range txns {
		if opts.Read != nil {
			if v, ok := opts.Read.TxnVersion(x.AppID); ok && v >= x.Version {
				continue
			}
		}
		opts.Txns = append(opts.Txns, x)
	}
	opts.Txn = nil
	return opts
}

func appID(s config.EntitySource) string { return "bronze:" + s.Datasource + "." + s.Table }

// ingestSeqAppID is the txn that holds a silver table's last arrival number (_ingest_seq).
const ingestSeqAppID = "rcmlake:ingest_seq"

// legacyMarkerSeq is where tables written before the counter numbered their delete markers.
const legacyMarkerSeq = 9_000_000_000_000_000

// lastIngestSeq is the last arrival number a silver table used. Tables written before the
// counter existed have no txn for it: their largest number is read once, leaving out the
// delete markers, which were numbered from legacyMarkerSeq.
func (b *Builder) lastIngestSeq(ctx context.Context, s *delta.Snapshot) (int64, error) {
	if v, ok := s.TxnVersion(ingestSeqAppID); ok {
		return v, nil
	}
	scan, err := b.Lake.ScanSQL(ctx, s)
	if err != nil {
		return 0, err
	}
	r, err := b.Lake.Engine.Query(ctx, fmt.Sprintf("SELECT coalesce(max(%[1]s), 0) FROM %[2]s t WHERE %[1]s < %[3]d", ColIngestSeq, scan, int64(legacyMarkerSeq)))
	if err != nil {
		return 0, fmt.Errorf("reading the last arrival number: %w", err)
	}
	return toInt(r.Rows[0][0]), nil
}

// timestampSQL is a UTC timestamp literal, in a form DuckDB and Spark (whose session time
// zone is UTC) read alike.
func timestampSQL(t time.Time) string {
	return "TIMESTAMP '" + t.UTC().Format("2006-01-02 15:04:05.000000") + "'"
}

// nowSQL is the build's clock as a SQL timestamp.
func (b *Builder) nowSQL() string { return timestampSQL(b.Now()) }

// stageSQL maps one source's new bronze files onto the entity's CDM column names. Its rows
// are numbered in arrival order (bronze load, then file and row) after lastSeq; it returns
// how many numbers it used.
func (b *Builder) stageSQL(ctx context.Context, s source, cdm []string, lastSeq int64) (string, int64, error) {
	eng, d := b.engine(), b.dialect()
	files, err := eng.ParquetSQL(ctx, s.files)
	if err != nil {
		return "", 0, err
	}
	r, err := eng.Query(ctx, "SELECT count(*) FROM "+files+" f")
	if err != nil {
		return "", 0, fmt.Errorf("counting %s.%s's new rows: %w", s.cfg.Datasource, s.cfg.Table, err)
	}
	sel := make([]string, len(cdm))
	for i, k := range cdm {
		expr, ok := s.cfg.Columns[k]
		if !ok {
			expr = "NULL"
		}
		sel[i] = fmt.Sprintf("CAST(%s AS STRING) AS %s", expr, k)
	}
	seq := "CAST(" + bronze.ColLoadTime + " AS TIMESTAMP)"
	if expr, ok := s.cfg.Columns["modified_date"]; ok {
		seq = fmt.Sprintf("coalesce(TRY_CAST(%s AS TIMESTAMP), %s)", expr, seq)
	}
	return fmt.Sprintf(`SELECT %s, %s AS datasource, %s AS %s,
		CAST(%d AS BIGINT) + row_number() OVER (ORDER BY %s, %s, %s) AS %s, CAST(%s AS TIMESTAMP) AS %s
		FROM %s f`,
			strings.Join(sel, ", "), d.Literal(s.cfg.Datasource), seq, ColSeq, lastSeq, bronze.ColLoadTime, engine.ColFile, engine.ColRow, ColIngestSeq,
			bronze.ColLoadTime, ColLoad, files),
		toInt(r.Rows[0][0]), nil
}

func columnsOf(ctx context.Context, e engine.Engine, table string) ([]string, error) {
	r, err := e.Query(ctx, "SELECT * FROM "+table+" LIMIT 0")
	if err != nil {
		return nil, err
	}
	return r.Columns, nil
}

func toInt(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case nil:
		return 0
	}
	var n int64
	fmt.Sscan(fmt.Sprint(v), &n)
	return n
}
