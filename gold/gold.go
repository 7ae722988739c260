// Package gold builds the star schema and the KPI tables from silver: each model in
// models/gold and models/kpi is a SELECT over {{ ref "..." }} tables, materialised as a Delta
// table in dependency order.
package gold

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"

	"github.com/rcmlake/rcmlake/catalog"
	"github.com/rcmlake/rcmlake/delta"
	"github.com/rcmlake/rcmlake/engine"
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
	Rows    int64
	Version int64
	Unknown int64 // fact rows mapped to an "unknown" dimension member
}

// Builder builds the gold layer.
type Builder struct {
	Lake   *lakehouse.Lakehouse
	Models models.Source
	Log    *slog.Logger
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
	ref := func(name string) (string, error) {
		n, err := catalog.Parse(name)
		if err != nil {
			return "", err
		}
		s, err := b.Lake.Snapshot(ctx, b.Lake.Table(n), n)
		if err != nil {
			return "", fmt.Errorf("%s: %w", name, err)
		}
		q, err := b.Lake.Models.ScanSQL(ctx, s, nil)
		if err != nil {
			return "", err
		}
		return q, nil
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
	tbl := delta.Open(b.Lake.Store, catalog.Key(catalog.Gold, m.Name))
	w, err := b.Lake.Models.WriteDelta(ctx, tbl, sql, engine.WriteOptions{Mode: engine.Overwrite, Operation: "CREATE OR REPLACE TABLE AS SELECT",
		Params: map[string]any{"model": m.Layer + "/" + m.Name + ".sql"}})
	if err != nil {
		return res, err
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
	b.Log.Info("gold built", "table", res.Table, "rows", res.Rows, "unknown_members", res.Unknown, "version", res.Version)
	return res, nil
}
