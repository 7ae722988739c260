package main

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rcmlake/rcmlake/bench"
	"github.com/rcmlake/rcmlake/delta"
	"github.com/rcmlake/rcmlake/engine/duckdb"
)

// TestFloorComputesRcmlakesGold checks the benchmark floor's claim to be "the same full
// refresh" as rcmlake, so that the ratio to it compares like with like: on one generated world
// (with its defects), every gold table the floor writes holds as many rows as rcmlake's, and
// its fact tables and KPI table hold the same rows on every column the two share.
func TestFloorComputesRcmlakesGold(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the pipeline and the floor")
	}
	ctx := t.Context()
	dir := t.TempDir()
	world := filepath.Join(dir, "world")
	if code, _, errs := runCLI(t, "generate", "--out", world, "--scale", "0.25", "--months", "5"); code != 0 {
		t.Fatalf("generate: %s", errs)
	}
	// Exported before the run, as the bench does: the run moves the claims files to the archive.
	floorDir := filepath.Join(dir, "floor")
	if err := bench.ExportForFloor(ctx, world, floorDir); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := runCLI(t, "--log-level", "warn", "-c", filepath.Join(world, "rcmlake.yaml"), "run"); code != 0 {
		t.Fatalf("run: %s", errs)
	}
	t.Chdir(floorDir) // the floor reads and writes relative to its folder, as under rcmlake bench
	if err := bench.RunFloor(ctx, "1GB", t.TempDir(), nil); err != nil {
		t.Fatal(err)
	}

	store, lh := openLakeDir(t, filepath.Join(world, "lake"))
	defer lh.Close()
	columns := func(rel string) map[string]string {
		res, err := lh.Engine.Query(ctx, "DESCRIBE SELECT * FROM "+rel)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, r := range res.Rows {
			out[fmt.Sprint(r[0])] = fmt.Sprint(r[1])
		}
		return out
	}
	count := func(rel string) int64 {
		res, err := lh.Engine.Query(ctx, "SELECT count(*) FROM "+rel)
		if err != nil {
			t.Fatal(err)
		}
		return res.Rows[0][0].(int64)
	}

	tables := []string{"dim_patient", "dim_provider", "dim_department", "dim_cpt_code", "dim_icd_code",
		"dim_payer", "dim_date", "fact_transaction", "fact_claim", "fact_ar_snapshot", "kpi_monthly"}
	gold, floor := map[string]string{}, map[string]string{}
	for _, name := range tables {
		snap, err := delta.Open(store, "gold/"+name).Latest(ctx)
		if err != nil {
			t.Fatalf("gold.%s: %v", name, err)
		}
		rel, err := lh.ScanSQL(ctx, snap)
		if err != nil {
			t.Fatal(err)
		}
		gold[name] = "(SELECT * FROM " + rel + ")"
		floor[name] = "read_parquet(" + duckdb.Literal(filepath.Join(floorDir, "out", name+".parquet")) + ")"
	}
	// rcmlake's patient and provider surrogate keys name a version of the member (its key and
	// valid_from); the floor keeps no history, so its keys name the member. Facts are compared
	// by the member their keys point to, through each side's own dimension.
	byMember := func(rels map[string]string, name string) string {
		rel := rels[name]
		switch name {
		case "fact_transaction", "fact_claim":
			return fmt.Sprintf(`(SELECT t.* REPLACE (coalesce(p.patient_key, t.patient_sk) AS patient_sk,
				coalesce(v.provider_key, t.provider_sk) AS provider_sk) FROM %s t
				LEFT JOIN %s p ON p.patient_sk = t.patient_sk LEFT JOIN %s v ON v.provider_sk = t.provider_sk)`,
				rel, rels["dim_patient"], rels["dim_provider"])
		case "kpi_monthly":
			return fmt.Sprintf(`(SELECT t.* REPLACE (CASE WHEN t.grain = 'provider' THEN coalesce(v.provider_key, t.member) ELSE t.member END AS member)
				FROM %s t LEFT JOIN %s v ON t.grain = 'provider' AND v.provider_sk = t.member)`, rel, rels["dim_provider"])
		}
		return rel
	}

	// The tables whose rows must match, and how many shared columns each must at least have
	// (so that a renamed column cannot make the comparison vacuous).
	sameRows := map[string]int{"fact_transaction": 8, "fact_claim": 8, "fact_ar_snapshot": 5, "kpi_monthly": 20}
	for _, name := range tables {
		gotGold, gotFloor := count(gold[name]), count(floor[name])
		if gotGold == 0 || gotGold != gotFloor {
			t.Errorf("%s: rcmlake has %d rows, the floor %d", name, gotGold, gotFloor)
			continue
		}
		least, ok := sameRows[name]
		if !ok {
			continue
		}
		gold, floor := byMember(gold, name), byMember(floor, name)
		gc, fc := columns(gold), columns(floor)
		var shared []string
		for c, typ := range gc {
			if _, ok := fc[c]; ok {
				if typ == "DOUBLE" || typ == "FLOAT" {
					// Same formulas over the same sums; rounding keeps a last-bit difference from
					// failing the comparison.
					shared = append(shared, "round("+duckdb.Ident(c)+", 9) AS "+duckdb.Ident(c))
				} else {
					shared = append(shared, duckdb.Ident(c))
				}
			}
		}
		slices.Sort(shared)
		if len(shared) < least {
			t.Errorf("%s: only %d columns shared with the floor, want at least %d", name, len(shared), least)
			continue
		}
		differ := func(cols string) int64 {
			return count(fmt.Sprintf("(SELECT %s FROM %s EXCEPT ALL SELECT %s FROM %s)", cols, gold, cols, floor))
		}
		if n := differ(strings.Join(shared, ", ")); n != 0 {
			// Name the columns whose values differ on their own, to say where to look.
			var cols []string
			for _, c := range shared {
				if differ(c) != 0 {
					cols = append(cols, c)
				}
			}
			t.Errorf("%s: %d of %d rows differ from the floor's; columns whose values differ: %s", name, n, gotGold, strings.Join(cols, ", "))
			continue
		}
		t.Logf("%s: %d rows equal on %d columns", name, gotGold, len(shared))
	}
}
