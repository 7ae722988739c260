// Package gold builds the star schema and the KPI tables from silver: each model in
// models/gold and models/kpi is a SELECT over {{ ref "..." }} tables, materialised as a Delta
// table in dependency order.
package gold

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"

	"github.com/rcmlake/rcmlake/catalog"
	"github.com/rcmlake/rcmlake/delta"
	"github.com/rcmlake/rcmlake/engine"
	"github.com/rcmlake/rcmlake/engine/duckdb"
	"github.com/rcmlake/rcmlake/lakehouse"
	"github.com/rcmlake/rcmlake/models"
)

// Model is one gold table to build.
type Model struct {
	Layer string // gold or kpi (kpi tables live in the gold layer)
	Name  string
	Deps  []string // catalog names it reads
}

// Result reports one model's build.
type Result struct {
	Table   string
	Rows    int64 // rows written (for an incremental build, those of the rewritten files)
	Version int64
	Unknown int64 // fact rows mapped to an "unknown" dimension member
	Skipped bool  // the inputs and the model are those of the table's last build
	// Incremental builds rewrite only the keys that can have changed.
	Incremental  bool
	ChangedKeys  int64
	FilesRemoved int
	// Since is the first day a model recomputed from a day on rebuilt ('YYYY-MM-DD').
	Since string
}

// Builder builds the gold layer.
type Builder struct {
	Lake   *lakehouse.Lakehouse
	Models models.Source
	Log    *slog.Logger
	// FullRefresh rebuilds every model from all of its inputs, even when they are unchanged.
	FullRefresh bool
	// FileBytes is the target data file size of incremental facts (default FactFileBytes).
	FileBytes int64
	// MaxRewriteShare: an incremental fact build whose changed keys sit in more than this share
	// of the table's files rebuilds the table instead (default DefaultMaxRewriteShare).
	MaxRewriteShare float64
}

// Plan lists the models in dependency order.
func (b *Builder) Plan() ([]Model, error) {
	var all []Model
	for _, layer := range []string{"gold", "kpi"} {
		names, err := b.Models.List(layer)
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			m := Model{Layer: layer, Name: n}
			// Render with optional inputs present and absent: the deps are every table either
			// way may read.
			for _, present := range []bool{true, false} {
				_, err := b.Models.Render(layer, n, models.Funcs{
					Ref: func(r string) (string, error) {
						if !slices.Contains(m.Deps, r) {
							m.Deps = append(m.Deps, r)
						}
						return "x", nil
					},
					Exists: func(string) (bool, error) { return present, nil }})
				if err != nil {
					return nil, err
				}
			}
			all = append(all, m)
		}
	}
	byName := map[string]Model{}
	for _, m := range all {
		byName["gold."+m.Name] = m
	}
	var order []Model
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(name string) error
	visit = func(name string) error {
		m, ok := byName[name]
		if !ok {
			return nil // a silver table
		}
		switch state[name] {
		case 1:
			return fmt.Errorf("gold models depend on each other in a cycle through %s", name)
		case 2:
			return nil
		}
		state[name] = 1
		deps := append([]string{}, m.Deps...)
		sort.Strings(deps)
		for _, d := range deps {
			if err := visit(d); err != nil {
				return err
			}
		}
		state[name] = 2
		order = append(order, m)
		return nil
	}
	keys := make([]string, 0, len(byName))
	for k := range byName {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := visit(k); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// Build materialises every gold model, each as one commit that replaces the table.
func (b *Builder) Build(ctx context.Context) ([]Result, error) {
	plan, err := b.Plan()
	if err != nil {
		return nil, err
	}
	var out []Result
	for _, m := range plan {
		r, err := b.BuildModel(ctx, m)
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
	return out, nil
}

// BuildModel materialises one model as one commit that replaces its table. Its inputs must
// exist: Plan's order, or a scheduler that follows Deps, sees to that.
func (b *Builder) BuildModel(ctx context.Context, m Model) (Result, error) {
	r, err := b.build(ctx, m)
	if err != nil {
		return r, fmt.Errorf("gold %s: %w", m.Name, err)
	}
	return r, nil
}

func (b *Builder) build(ctx context.Context, m Model) (Result, error) {
	res := Result{Table: "gold." + m.Name}
	text, err := b.Models.Text(m.Layer, m.Name)
	if err != nil {
		return res, err
	}
	inc, err := parseIncremental(text)
	if err != nil {
		return res, fmt.Errorf("%s/%s.sql: %w", m.Layer, m.Name, err)
	}
	since, err := parseSince(text)
	if err != nil {
		return res, fmt.Errorf("%s/%s.sql: %w", m.Layer, m.Name, err)
	}
	if inc != nil && since != nil {
		return res, fmt.Errorf("%s/%s.sql: a model is incremental by key or since a day, not both", m.Layer, m.Name)
	}
	// Each input is read at one version, which the commit records.
	inputs := map[string]*delta.Snapshot{}
	ref := func(name string) (string, error) {
		s, ok := inputs[name]
		if !ok {
			n, err := catalog.Parse(name)
			if err != nil {
				return "", err
			}
			if s, err = b.Lake.Snapshot(ctx, b.Lake.Table(n), n); err != nil {
				return "", fmt.Errorf("%s: %w", name, err)
			}
			inputs[name] = s
		}
		return b.Lake.Models.ScanSQL(ctx, s, nil)
	}
	exists := func(name string) (bool, error) {
		n, err := catalog.Parse(name)
		if err != nil {
			return false, err
		}
		return b.Lake.Table(n).Exists(ctx)
	}
	sql, err := b.Models.Render(m.Layer, m.Name, models.Funcs{Ref: ref, Exists: exists, Dialect: models.DialectFor(b.Lake.Models.Name())})
	if err != nil {
		return res, err
	}
	// onlyKeys renders the model with its driver cut down to the keys in a temp table: by the
	// incremental contract, those keys' output rows need no other driver row.
	onlyKeys := func(keys string) (string, error) {
		cut := func(name string) (string, error) {
			scan, err := ref(name)
			if err != nil || inc == nil || name != inc.driver {
				return scan, err
			}
			return fmt.Sprintf("(SELECT * FROM %s d WHERE CAST(d.%s AS VARCHAR) IN (SELECT k FROM %s))", scan, duckdb.Ident(inc.key), keys), nil
		}
		return b.Models.Render(m.Layer, m.Name, models.Funcs{Ref: cut, Exists: exists})
	}
	tbl := delta.Open(b.Lake.Store, catalog.Key(catalog.Gold, m.Name))
	var prev *delta.Snapshot
	if ok, err := tbl.Exists(ctx); err != nil {
		return res, err
	} else if ok {
		if prev, err = tbl.Latest(ctx); err != nil {
			return res, err
		}
	}
	if prev != nil && !b.FullRefresh && upToDate(prev, m, text, inputs) {
		res.Version, res.Skipped = prev.Version, true
		b.Log.Info("gold up to date", "table", res.Table, "version", res.Version)
		return res, nil
	}
	opts := engine.WriteOptions{Mode: engine.Overwrite, Operation: "CREATE OR REPLACE TABLE AS SELECT", Read: prev,
		Txns: buildTxns(m, text, inputs, prev), Params: map[string]any{"model": m.Layer + "/" + m.Name + ".sql"}}
	var w *engine.WriteResult
	// Incremental builds keep their key sets in the embedded engine's temp tables; on another
	// engine every build is a full one.
	if b.Lake.Models.Name() != "duckdb" {
		inc, since = nil, nil
	}
	if since != nil {
		opts.FileBytes = cmp.Or(b.FileBytes, SinceFileBytes)
		if prev != nil && !b.FullRefresh {
			from := func(day string) (string, error) {
				return b.Models.Render(m.Layer, m.Name, models.Funcs{Ref: ref, Exists: exists, Since: day})
			}
			if w, err = b.mergeSince(ctx, m, text, since, from, prev, inputs, opts, &res); err != nil {
				return res, err
			}
		}
		// Written in date order, so that a later build replaces only the files from its day on.
		sql = "SELECT * FROM (" + sql + ") m ORDER BY " + duckdb.Ident(since.column)
	}
	if inc != nil {
		opts.FileBytes = cmp.Or(b.FileBytes, FactFileBytes)
		if prev != nil && !b.FullRefresh {
			if w, err = b.mergeChanges(ctx, m, text, inc, onlyKeys, prev, inputs, opts, &res); err != nil {
				return res, err
			}
		}
		sql = "SELECT * FROM (" + sql + ") m ORDER BY " + duckdb.Ident(inc.key)
	}
	if w == nil {
		if w, err = b.Lake.Models.WriteDelta(ctx, tbl, sql, opts); err != nil {
			return res, err
		}
	}
	if w.Skipped {
		res.Version, res.Skipped = w.Version, true
		return res, nil
	}
	res.Version, res.Rows = w.Version, w.Rows
	if strings.HasPrefix(m.Name, "fact_") {
		s, err := tbl.Latest(ctx)
		if err == nil {
			if q, err := b.Lake.Models.ScanSQL(ctx, s, nil); err == nil {
				if r, err := b.Lake.Models.Query(ctx, "SELECT count(*) FROM "+q+" t WHERE has_unknown_member"); err == nil {
					res.Unknown = r.Rows[0][0].(int64)
				}
			}
		}
	}
	b.Log.Info("gold built", "table", res.Table, "rows", res.Rows, "unknown_members", res.Unknown, "version", res.Version,
		"incremental", res.Incremental, "changed_keys", res.ChangedKeys, "since", res.Since, "files_rewritten", res.FilesRemoved)
	return res, nil
}
