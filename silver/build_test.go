package silver

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rcmlake/rcmlake/bronze"
	"github.com/rcmlake/rcmlake/catalog"
	"github.com/rcmlake/rcmlake/config"
	"github.com/rcmlake/rcmlake/delta"
	"github.com/rcmlake/rcmlake/engine"
	"github.com/rcmlake/rcmlake/lakehouse"
	"github.com/rcmlake/rcmlake/models"
	"github.com/rcmlake/rcmlake/secrets"
	"github.com/rcmlake/rcmlake/synth"
)

type pipeline struct {
	dir string
	cfg *config.Config
	lh  *lakehouse.Lakehouse
	in  *bronze.Ingester
	b   *Builder
	m   *synth.Manifest
}

func newPipeline(t *testing.T) *pipeline { return newPipelineAt(t, 0.3) }

func newPipelineAt(t *testing.T, scale float64) *pipeline {
	t.Helper()
	dir := t.TempDir()
	m, err := synth.Generate(context.Background(), dir, synth.Options{Seed: 33, Scale: scale, Months: 3})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(filepath.Join(dir, "rcmlake.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	r := secrets.NewResolver(secrets.Env{})
	lh, err := lakehouse.Open(context.Background(), cfg, r)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lh.Close() })
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	return &pipeline{dir: dir, cfg: cfg, lh: lh, m: m,
		in: &bronze.Ingester{Config: cfg, Lake: lh, Resolver: r, Log: quiet},
		b:  &Builder{Config: cfg, Lake: lh, Models: models.Embedded(), Log: quiet}}
}

func (p *pipeline) run(t *testing.T, id string) []Result {
	t.Helper()
	ctx := context.Background()
	if _, err := p.in.Run(ctx, bronze.Options{RunID: id}); err != nil {
		t.Fatal(err)
	}
	res, err := p.b.Build(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func (p *pipeline) one(t *testing.T, entity, q string) int64 {
	t.Helper()
	ctx := context.Background()
	s, err := delta.Open(p.lh.Store, catalog.Key(catalog.Silver, entity)).Latest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rel, err := p.lh.ScanSQL(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	r, err := p.lh.Engine.Query(ctx, fmt.Sprintf(q, rel+" t"))
	if err != nil {
		t.Fatal(err)
	}
	return toInt(r.Rows[0][0])
}

func (p *pipeline) sourceCount(t *testing.T, table string) int64 {
	var total int64
	for _, h := range p.m.Hospitals {
		db, err := sql.Open("sqlite", filepath.Join(p.dir, h.DSN))
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		db.QueryRow("SELECT count(*) FROM " + table).Scan(&n)
		db.Close()
		total += n
	}
	return total
}

func defects(m *synth.Manifest, table string) int64 {
	var n int64
	for _, d := range m.Defects {
		if d.Table == table {
			n++
		}
	}
	return n
}

// TestSilverOnGeneratedWorld: every source row reaches silver; exactly the planted defects
// are quarantined; after a new month each key still has exactly one current version, valid
// intervals do not overlap, and a rerun changes nothing.
func TestSilverOnGeneratedWorld(t *testing.T) {
	p := newPipeline(t)
	res := p.run(t, "r1")
	for _, r := range res {
		if !r.Skipped && r.Valid+r.Quarantined+r.Dropped != r.Read {
			t.Errorf("%s: conservation %+v", r.Entity, r)
		}
	}
	for _, table := range []string{"patients", "transactions"} {
		if got, want := p.one(t, table, "SELECT count(*) FROM %s WHERE is_current"), p.sourceCount(t, table)-dupExtra(p.m, table); got != want {
			t.Errorf("%s: %d current rows, the sources hold %d distinct", table, got, want)
		}
		if got, want := p.one(t, table, "SELECT count(*) FROM %s WHERE is_quarantined"), defects(p.m, table); got != want {
			t.Errorf("%s: %d quarantined rows, the manifest planted %d defects", table, got, want)
		}
	}
	// Both hospitals' patients share the CDM columns: no hospital has a NULL last name column.
	if n := p.one(t, "patients", "SELECT count(DISTINCT datasource) FROM %s WHERE last_name IS NOT NULL"); n != 2 {
		t.Errorf("patients of %d hospitals have last names", n)
	}

	if _, err := synth.AppendMonth(context.Background(), p.dir); err != nil {
		t.Fatal(err)
	}
	p.run(t, "r2")
	for _, entity := range []string{"patients", "transactions", "encounters"} {
		key := map[string]string{"patients": "patient_key", "transactions": "transaction_key", "encounters": "encounter_key"}[entity]
		// Deleted keys (policy close) have no current version, and a deleted-marker version.
		if n := p.one(t, entity, "SELECT count(*) FROM (SELECT "+key+" FROM %s GROUP BY 1 HAVING sum(CASE WHEN is_current THEN 1 ELSE 0 END) <> 1 AND NOT (sum(CASE WHEN is_current THEN 1 ELSE 0 END) = 0 AND bool_or(is_deleted))) x"); n != 0 {
			t.Errorf("%s: %d keys without exactly one current version and not deleted", entity, n)
		}
		if n := p.one(t, entity, `SELECT count(*) FROM (SELECT valid_to, lead(valid_from) OVER (PARTITION BY `+key+` ORDER BY valid_from, _ingest_seq) AS nf FROM %s) x
			WHERE nf IS NOT NULL AND (valid_to IS NULL OR valid_to > nf)`); n != 0 {
			t.Errorf("%s: %d overlapping versions", entity, n)
		}
	}
	// The EMR deleted patients and voided charges; silver closed exactly those keys, so the
	// current rows again equal what the sources hold.
	for _, table := range []string{"patients", "transactions"} {
		if got, want := p.one(t, table, "SELECT count(*) FROM %s WHERE is_current"), p.sourceCount(t, table)-dupExtra(p.m, table); got != want {
			t.Errorf("after a month with deletes, %s: %d current rows, the sources hold %d distinct", table, got, want)
		}
	}
	if n := p.one(t, "patients", "SELECT count(*) FROM %s WHERE is_deleted"); n == 0 {
		t.Error("the month deleted no patient in silver")
	}
	if n := p.one(t, "transactions", "SELECT count(*) FROM %s WHERE NOT is_current"); n == 0 {
		t.Error("payments in the new month closed no transaction version")
	}
	// NULL-to-value and value-to-NULL changes of middle names are versions too.
	if n := p.one(t, "patients", `SELECT count(*) FROM (SELECT middle_name IS NULL AS n, lag(middle_name IS NULL) OVER (PARTITION BY patient_key ORDER BY valid_from, _ingest_seq) AS pn FROM %s) x WHERE n <> pn`); n == 0 {
		t.Error("no middle-name change to or from NULL became a version")
	}
	before := p.one(t, "patients", "SELECT count(*) FROM %s")
	res2, err := p.b.Build(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res2 {
		if !r.Skipped {
			t.Errorf("%s rebuilt without new bronze loads", r.Entity)
		}
	}
	if after := p.one(t, "patients", "SELECT count(*) FROM %s"); after != before {
		t.Errorf("a rerun changed silver.patients from %d to %d rows", before, after)
	}
}

// dupExtra is how many source rows are exact duplicates of another (planted duplicate keys):
// silver keeps one row for each.
func dupExtra(m *synth.Manifest, table string) int64 {
	var n int64
	for _, d := range m.Defects {
		if d.Table == table && d.Kind == "duplicate_key" {
			n++
		}
	}
	return n
}

// currentDigest is an order-independent digest of an entity's current rows, without the
// columns that record when rcmlake wrote them.
func (p *pipeline) currentDigest(t *testing.T, entity string) (string, int64) {
	t.Helper()
	ctx := context.Background()
	s, err := delta.Open(p.lh.Store, catalog.Key(catalog.Silver, entity)).Latest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rel, err := p.lh.ScanSQL(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	r, err := p.lh.Engine.Query(ctx, "SELECT CAST(bit_xor(hash(x)) AS VARCHAR), count(*) FROM (SELECT * EXCLUDE (_inserted_at, _modified_at, _ingest_seq) FROM "+rel+" t WHERE is_current) x")
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprint(r.Rows[0][0]), toInt(r.Rows[0][1])
}

// TestIncrementalMergeEqualsRebuild: month after month, merging only the files that hold
// changed keys gives the same current rows as rebuilding every entity from all of bronze,
// while most files of the big tables are left alone.
func TestIncrementalMergeEqualsRebuild(t *testing.T) {
	p := newPipelineAt(t, 2)
	p.b.FileBytes = 48 << 10 // many small files, so the merge has files to leave alone
	p.run(t, "r1")
	for _, id := range []string{"r2", "r3"} {
		if _, err := synth.AppendMonth(context.Background(), p.dir); err != nil {
			t.Fatal(err)
		}
		for _, r := range p.run(t, id) {
			switch {
			case r.Entity == "encounters" && (r.FilesBefore < 4 || r.FilesRewritten != 0):
				// Visits only arrive, never change: their month goes to new files.
				t.Errorf("%s: encounters rewrote %d of %d files for a month of new rows only", id, r.FilesRewritten, r.FilesBefore)
			case r.Entity == "transactions" && r.FilesRewritten == 0:
				t.Errorf("%s: payments changed transactions, but no file was rewritten", id)
			}
		}
	}
	entities := []string{"patients", "providers", "departments", "encounters", "transactions"}
	incremental := map[string]string{}
	for _, e := range entities {
		d, n := p.currentDigest(t, e)
		if n == 0 {
			t.Fatalf("%s has no current rows", e)
		}
		incremental[e] = d
	}
	full := &Builder{Config: p.cfg, Lake: p.lh, Models: p.b.Models, Log: p.b.Log, FullRefresh: true}
	version := func(e string) int64 {
		s, err := delta.Open(p.lh.Store, catalog.Key(catalog.Silver, e)).Latest(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return s.Version
	}
	before := map[string]int64{}
	for _, e := range entities {
		before[e] = version(e)
	}
	if _, err := full.Build(context.Background(), ""); err != nil {
		t.Fatal(err)
	}
	for _, e := range entities {
		if v := version(e); v != before[e]+1 {
			t.Errorf("full refresh of %s: version %d -> %d, want one new commit", e, before[e], v)
		}
	}
	for _, e := range entities {
		if d, _ := p.currentDigest(t, e); d != incremental[e] {
			t.Errorf("%s: the incremental merges and a full rebuild disagree on the current rows", e)
		}
	}
}

// TestQualityAuditAndFreshness: every build records each rule's failures, the conservation
// check and the deletes in audit.quality; freshness rules judge the newest source row.
func TestQualityAuditAndFreshness(t *testing.T) {
	p := newPipeline(t)
	p.b.RunID = "r1"
	res := p.run(t, "r1")
	ctx := context.Background()
	s, err := delta.Open(p.lh.Store, QualityTable).Latest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rel, err := p.lh.ScanSQL(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][2]int64{}
	r, err := p.lh.Engine.Query(ctx, "SELECT entity || '.' || rule, rows_checked, rows_failed, outcome, severity FROM "+rel+" q WHERE run_id = 'r1'")
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range r.Rows {
		got[fmt.Sprint(row[0])] = [2]int64{toInt(row[1]), toInt(row[2])}
		if n := toInt(row[2]); (n == 0) != (row[3] == OutcomePass) {
			t.Errorf("%v: %d failed rows but outcome %v", row[0], n, row[3])
		}
	}
	for _, res := range res {
		if res.Skipped {
			continue
		}
		if c := got[res.Entity+".conservation"]; c != [2]int64{res.Read, 0} {
			t.Errorf("%s conservation row %v, the build read %d", res.Entity, c, res.Read)
		}
		for rule, n := range res.RuleFails {
			if c := got[res.Entity+"."+rule]; c != [2]int64{res.Read, n} {
				t.Errorf("%s.%s: audit row %v, the build counted %d of %d", res.Entity, rule, c, n, res.Read)
			}
		}
	}
	if c := got["patients.first_name_present"]; c[1] == 0 {
		t.Error("no patient failed first_name_present, but the generator plants such defects")
	}

	// Freshness: the newest patient row is from the world's last month.
	newest, err := p.b.newestSeq(ctx, "patients")
	if err != nil || newest.IsZero() {
		t.Fatalf("newest patient row: %v %v", newest, err)
	}
	for i := range p.cfg.Silver.Entities {
		if e := &p.cfg.Silver.Entities[i]; e.Name == "patients" {
			e.Rules = append(e.Rules, config.Rule{Name: "recent", Type: "freshness", MaxAge: "3d", Severity: "fail"})
		}
	}
	p.b.RunID = "fresh"
	p.b.Now = func() time.Time { return newest.Add(48 * time.Hour) }
	if _, err := p.b.Build(ctx, "patients"); err != nil {
		t.Errorf("two days after the newest row, a 3d freshness rule failed: %v", err)
	}
	p.b.RunID = "stale"
	p.b.Now = func() time.Time { return newest.Add(96 * time.Hour) }
	if _, err := p.b.Build(ctx, "patients"); err == nil || !strings.Contains(err.Error(), "freshness rule recent") {
		t.Errorf("four days after the newest row, a 3d freshness rule of severity fail gave %v", err)
	}
	s, _ = delta.Open(p.lh.Store, QualityTable).Latest(ctx)
	rel, _ = p.lh.ScanSQL(ctx, s)
	r, err = p.lh.Engine.Query(ctx, "SELECT run_id, outcome FROM "+rel+" q WHERE rule = 'recent' ORDER BY run_id")
	if err != nil || fmt.Sprint(r.Rows) != "[[fresh pass] [stale failed]]" {
		t.Errorf("freshness rows %v %v", r.Rows, err)
	}
}

// TestLaterArrivalWinsASequenceTie: a row corrected in place keeps its ModifiedDate, so its
// new version ties the stored one on the source sequence. The version that arrived later must
// be current even when the source returns it earlier within its batch than the stored one
// sat within its own (arrival numbers are per table, not per batch).
func TestLaterArrivalWinsASequenceTie(t *testing.T) {
	p := newPipeline(t)
	p.run(t, "r1")
	h := p.m.Hospitals[0]
	if h.Style != "a" {
		t.Fatalf("hospital 0 has style %q, the test expects a", h.Style)
	}
	db, err := sql.Open("sqlite", filepath.Join(p.dir, h.DSN))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// The last row holding the newest watermark: the next incremental load takes that
	// watermark again, and the row came late in the first load.
	var id string
	var rowid, n int64
	if err := db.QueryRow(`SELECT PatientID, rowid, (SELECT count(*) FROM patients) FROM patients
		WHERE ModifiedDate = (SELECT max(ModifiedDate) FROM patients) AND PatientID IS NOT NULL ORDER BY rowid DESC LIMIT 1`).Scan(&id, &rowid, &n); err != nil {
		t.Fatal(err)
	}
	if n < 2 {
		t.Fatalf("hospital a has %d patients", n)
	}
	// Correct it in place and move it ahead of every other row, so the source returns it
	// first.
	for _, q := range []string{
		"CREATE TEMP TABLE moved AS SELECT * FROM patients WHERE rowid = ?",
		"UPDATE moved SET FirstName = 'Corrected'",
		"DELETE FROM patients WHERE rowid = ?",
		"INSERT INTO patients (rowid, PatientID, FirstName, LastName, MiddleName, SSN, PhoneNumber, Gender, DOB, Address, ModifiedDate) SELECT (SELECT min(rowid) - 1 FROM patients), PatientID, FirstName, LastName, MiddleName, SSN, PhoneNumber, Gender, DOB, Address, ModifiedDate FROM moved",
	} {
		var args []any
		if strings.Contains(q, "?") {
			args = append(args, rowid)
		}
		if _, err := db.Exec(q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	p.run(t, "r2")
	q := "SELECT count(*) FILTER (WHERE is_current AND first_name = 'Corrected') * 10 + count(*) FILTER (WHERE is_current) FROM %s WHERE patient_id = '" + id + "' AND datasource = '" + h.Code + "'"
	if got := p.one(t, "patients", q); got != 11 {
		t.Errorf("patient %s: current versions with the correction*10 + current versions = %d, want 11 (the later arrival current)", id, got)
	}
}

// TestLastIngestSeqOfOlderTables: a table written before the arrival counter has no txn for
// it; its largest number is read from its rows, leaving out the old delete markers (numbered
// from 9e15), so new numbers stay small. A table with the txn answers from it.
func TestLastIngestSeqOfOlderTables(t *testing.T) {
	p := newPipeline(t)
	ctx := context.Background()
	tbl := delta.Open(p.lh.Store, catalog.Key(catalog.Silver, "legacy"))
	if _, err := p.lh.Engine.WriteDelta(ctx, tbl, "SELECT * FROM (VALUES (1000000000001), (2000000000007), (9000000000000003)) v(_ingest_seq)", engine.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	s, err := tbl.Latest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := p.b.lastIngestSeq(ctx, s); err != nil || got != 2000000000007 {
		t.Errorf("last arrival number of an older table: %d, %v; want 2000000000007", got, err)
	}
	if _, err := p.lh.Engine.WriteDelta(ctx, tbl, "SELECT CAST(5 AS BIGINT) AS _ingest_seq", engine.WriteOptions{Txns: []delta.Txn{{AppID: ingestSeqAppID, Version: 2000000000012}}}); err != nil {
		t.Fatal(err)
	}
	if s, err = tbl.Latest(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := p.b.lastIngestSeq(ctx, s); err != nil || got != 2000000000012 {
		t.Errorf("last arrival number from the txn: %d, %v; want 2000000000012", got, err)
	}
}
