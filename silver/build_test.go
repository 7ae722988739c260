package silver

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/rcmlake/rcmlake/bronze"
	"github.com/rcmlake/rcmlake/catalog"
	"github.com/rcmlake/rcmlake/config"
	"github.com/rcmlake/rcmlake/delta"
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

func newPipeline(t *testing.T) *pipeline {
	t.Helper()
	dir := t.TempDir()
	m, err := synth.Generate(context.Background(), dir, synth.Options{Seed: 33, Scale: 0.3, Months: 3})
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
		if n := p.one(t, entity, "SELECT count(*) FROM (SELECT "+key+" FROM %s GROUP BY 1 HAVING sum(CASE WHEN is_current THEN 1 ELSE 0 END) <> 1) x"); n != 0 {
			t.Errorf("%s: %d keys without exactly one current version", entity, n)
		}
		if n := p.one(t, entity, `SELECT count(*) FROM (SELECT valid_to, lead(valid_from) OVER (PARTITION BY `+key+` ORDER BY valid_from, _ingest_seq) AS nf FROM %s) x
			WHERE nf IS NOT NULL AND (valid_to IS NULL OR valid_to > nf)`); n != 0 {
			t.Errorf("%s: %d overlapping versions", entity, n)
		}
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
