package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rcmlake/rcmlake/internal/interop"
	"github.com/rcmlake/rcmlake/internal/testenv"
)

// copyDir copies a world (EMRs, landing files, config, lake) to a new folder.
func copyDir(t *testing.T, from string) string {
	t.Helper()
	to := filepath.Join(t.TempDir(), filepath.Base(from))
	if err := os.CopyFS(to, os.DirFS(from)); err != nil {
		t.Fatal(err)
	}
	// The config names its folders relative to itself, so the copy is a world of its own.
	return to
}

func mustCLI(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errs := runCLI(t, args...)
	if code != exitOK {
		t.Fatalf("rcmlake %s: exit %d\n%s\n%s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

func sqlList(keys []string) string {
	q := make([]string, len(keys))
	for i, k := range keys {
		q[i] = "'" + strings.ReplaceAll(k, "'", "''") + "'"
	}
	return "(" + strings.Join(q, ", ") + ")"
}

// rowHashes is the multiset of a silver table's rows, each row hashed over every column but the
// wall-clock ones (_inserted_at and _modified_at differ between two runs of the same data);
// exprs replaces a column by an expression. Keys in skip are left out.
func rowHashes(t *testing.T, cfg, table string, cols []string, exprs map[string]string, key string, skip []string) map[string]int {
	t.Helper()
	var parts []string
	for _, c := range cols {
		if c == "_inserted_at" || c == "_modified_at" {
			continue
		}
		e := `"` + c + `"`
		if x, ok := exprs[c]; ok {
			e = x
		}
		parts = append(parts, fmt.Sprintf("coalesce(CAST(%s AS VARCHAR), '<null>')", e))
	}
	where := ""
	if len(skip) > 0 {
		where = " WHERE " + key + " NOT IN " + sqlList(skip)
	}
	rows := queryJSONL(t, cfg, "SELECT md5(concat_ws('|', "+strings.Join(parts, ", ")+")) AS h FROM "+table+where)
	m := map[string]int{}
	for _, r := range rows {
		m[*r["h"]]++
	}
	return m
}

func diffMultisets(a, b map[string]int) (onlyA, onlyB int) {
	for h, n := range a {
		if d := n - b[h]; d > 0 {
			onlyA += d
		}
	}
	for h, n := range b {
		if d := n - a[h]; d > 0 {
			onlyB += d
		}
	}
	return
}

// TestEnginesWriteThenRcmlakeContinues: Spark appends to silver.claims and runs MERGE INTO on it
// (updating five current claims, inserting two), delta-rs compacts it (OPTIMIZE) and
// checkpoints it; rcmlake reads each state as the writing
// engine does, and its next run (a new month of source data) commits on top. Against a control
// world that got the same month without the engines' writes, no row is lost or duplicated:
// every row equals the control's but for the engines' own changes, which survive as written.
func TestEnginesWriteThenRcmlakeContinues(t *testing.T) {
	startSpark()
	testenv.FindSpark(t)
	testenv.FindDeltaRS(t)
	w := sharedInteropLake(t)
	control := copyDir(t, w.dir)
	mustCLI(t, "generate", "--out", control, "--append-month")
	world := copyDir(t, control) // the same new month, not yet run
	ccfg, wcfg := filepath.Join(control, "rcmlake.yaml"), filepath.Join(world, "rcmlake.yaml")
	claims := filepath.Join(world, "lake", "silver", "claims")

	before := w.snapshot(t, "silver.claims", -1)
	var cols []string
	for _, f := range before.Schema.Fields {
		cols = append(cols, f.Name)
	}
	mustCLI(t, "run", "-c", ccfg)
	// Keys the new month changes: the engines' writes stay off them, so that the expected
	// result is the control's plus the engines' changes, with no question of who wins.
	changed := map[string]bool{}
	for _, r := range queryJSONL(t, ccfg, fmt.Sprintf(`SELECT DISTINCT claim_key FROM (
		(SELECT * FROM silver.claims EXCEPT ALL SELECT * FROM silver.claims@v%[1]d)
		UNION ALL (SELECT * FROM silver.claims@v%[1]d EXCEPT ALL SELECT * FROM silver.claims))`, before.Version)) {
		changed[*r["claim_key"]] = true
	}
	if len(changed) == 0 {
		t.Fatal("the new month changed no claim: the test would prove nothing")
	}
	var stable []string
	for _, r := range queryJSONL(t, wcfg, "SELECT claim_key FROM silver.claims WHERE is_current AND NOT coalesce(is_deleted, false) ORDER BY claim_key") {
		if !changed[*r["claim_key"]] {
			stable = append(stable, *r["claim_key"])
		}
	}
	if len(stable) < 12 {
		t.Fatalf("only %d claims the new month leaves alone", len(stable))
	}
	appendKeys, mergeKeys, insertKeys := stable[:5], stable[5:10], stable[10:12]

	// What Spark writes: copies of current claims under new keys (claim_id too), by INSERT and
	// by the MERGE's insert branch, and copay + 1.00 on five current claims.
	copyOf := func(suffix string) string {
		var sel []string
		for _, c := range cols {
			switch c {
			case "claim_key", "claim_id":
				sel = append(sel, fmt.Sprintf("concat(`%s`, '%s') AS `%s`", c, suffix, c))
			default:
				sel = append(sel, "`"+c+"`")
			}
		}
		return strings.Join(sel, ", ")
	}
	spark := sparkEngine(t)
	tbl := "delta.`" + claims + "`"
	sqls := []string{
		fmt.Sprintf("INSERT INTO %s SELECT %s FROM %s WHERE is_current AND claim_key IN %s", tbl, copyOf("-spark"), tbl, sqlList(appendKeys)),
		fmt.Sprintf(`MERGE INTO %[1]s t USING (
			SELECT * FROM %[1]s WHERE is_current AND claim_key IN %[2]s
			UNION ALL SELECT %[3]s FROM %[1]s WHERE is_current AND claim_key IN %[4]s) s
		ON t.claim_key = s.claim_key AND t.is_current
		WHEN MATCHED THEN UPDATE SET t.copay = t.copay + 1.00
		WHEN NOT MATCHED THEN INSERT *`, tbl, sqlList(mergeKeys), copyOf("-merge"), sqlList(insertKeys)),
	}
	for _, s := range sqls {
		if _, err := spark.SQL(s); err != nil {
			t.Fatal(err)
		}
	}
	var sparkKeys []string
	for _, k := range appendKeys {
		sparkKeys = append(sparkKeys, k+"-spark")
	}
	for _, k := range insertKeys {
		sparkKeys = append(sparkKeys, k+"-merge")
	}

	// rcmlake reads what Spark wrote as Spark does, and the changes are exactly Spark's.
	afterSpark := snapshotIn(t, filepath.Join(world, "lake"), "silver.claims", -1)
	if afterSpark.Version != before.Version+2 {
		t.Fatalf("silver.claims is at version %d after Spark's two commits on %d", afterSpark.Version, before.Version)
	}
	wantSpark := rcmlakeSummary(t, wcfg, "silver.claims", afterSpark)
	gotSpark, err := spark.Summary(claims, -1)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range interop.Diff(wantSpark, gotSpark) {
		t.Errorf("silver.claims after Spark's writes: Spark vs rcmlake: %s", d)
	}
	if gotSpark.Protocol.MinReader != 1 || gotSpark.Protocol.MinWriter != 2 {
		t.Errorf("Spark's writes changed the protocol to %+v", gotSpark.Protocol)
	}
	orig := rcmlakeSummary(t, wcfg, "silver.claims", snapshotIn(t, filepath.Join(world, "lake"), "silver.claims", before.Version))
	if got, want := wantSpark.Rows, orig.Rows+7; got != want {
		t.Errorf("rcmlake reads %d rows after Spark's writes, want %d", got, want)
	}
	if got, want := *wantSpark.Col("claim_key").Distinct, fmt.Sprint(mustInt(t, *orig.Col("claim_key").Distinct)+7); got != want {
		t.Errorf("rcmlake reads %s distinct claim keys after Spark's writes, want %s", got, want)
	}
	if got, want := *wantSpark.Col("copay").Sum, addCents(t, *orig.Col("copay").Sum, 500+copaySum(t, wcfg, "silver.claims", sparkKeys)); got != want {
		t.Errorf("rcmlake reads copay total %s after Spark's writes, want %s", got, want)
	}

	// delta-rs compacts the table (rcmlake's files and Spark's) and checkpoints it; nothing a
	// reader sees changes.
	drs := deltaRSEngine(t)
	for _, p := range []struct{ name, path string }{{"silver.claims", claims}} {
		pre := rcmlakeSummary(t, wcfg, p.name, snapshotIn(t, filepath.Join(world, "lake"), p.name, -1))
		var opt struct {
			Version int64             `json:"version"`
			Metrics map[string]string `json:"metrics"`
		}
		if err := drs.Call("optimize", map[string]any{"path": p.path}, &opt); err != nil {
			t.Fatal(err)
		}
		if opt.Metrics["numFilesRemoved"] == "0" || opt.Version != pre.Version+1 {
			t.Fatalf("%s: delta-rs optimize compacted nothing: version %d, %v", p.name, opt.Version, opt.Metrics)
		}
		if err := drs.Call("checkpoint", map[string]any{"path": p.path}, nil); err != nil {
			t.Fatal(err)
		}
		post := snapshotIn(t, filepath.Join(world, "lake"), p.name, -1)
		if len(post.Files()) != 1 {
			t.Errorf("%s: %d files after delta-rs compacted it", p.name, len(post.Files()))
		}
		got := rcmlakeSummary(t, wcfg, p.name, post)
		pre.Version = post.Version
		for _, d := range interop.Diff(pre, got) {
			t.Errorf("%s after delta-rs optimize: rcmlake reads %s", p.name, d)
		}
		drsSum, err := drs.Summary(p.path, -1)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range interop.Diff(got, drsSum) {
			t.Errorf("%s after delta-rs optimize: delta-rs vs rcmlake: %s", p.name, d)
		}
	}
	if _, err := os.Stat(filepath.Join(claims, "_delta_log", fmt.Sprintf("%020d.checkpoint.parquet", afterSpark.Version+1))); err != nil {
		t.Fatalf("delta-rs wrote no checkpoint: %v", err)
	}

	// rcmlake's next run commits on top of Spark's and delta-rs's commits.
	mustCLI(t, "run", "-c", wcfg)
	for _, name := range []string{"silver.claims", "silver.transactions"} {
		exprs := map[string]string{}
		var skip []string
		if name == "silver.claims" {
			exprs["copay"] = "CASE WHEN claim_key IN " + sqlList(mergeKeys) + " AND is_current THEN copay - 1.00 ELSE copay END"
			skip = sparkKeys
		}
		key := map[string]string{"silver.claims": "claim_key", "silver.transactions": "transaction_key"}[name]
		s := snapshotIn(t, filepath.Join(world, "lake"), name, -1)
		var tcols []string
		for _, f := range s.Schema.Fields {
			tcols = append(tcols, f.Name)
		}
		got := rowHashes(t, wcfg, name, tcols, exprs, key, skip)
		want := rowHashes(t, ccfg, name, tcols, nil, key, nil)
		if onlyGot, onlyWant := diffMultisets(got, want); onlyGot+onlyWant > 0 {
			t.Errorf("%s after the next run: %d rows the control lacks, %d control rows missing (of %d)", name, onlyGot, onlyWant, len(want))
		}
	}
	// Spark's own rows come through the run as Spark wrote them, once each.
	n := queryJSONL(t, wcfg, "SELECT CAST(count(*) AS VARCHAR) AS n, CAST(count(DISTINCT claim_key) AS VARCHAR) AS k, CAST(sum(copay) AS VARCHAR) AS c FROM silver.claims WHERE claim_key IN "+sqlList(sparkKeys))
	if *n[0]["n"] != "7" || *n[0]["k"] != "7" {
		t.Errorf("Spark's 7 inserted claims: %s rows, %s keys after the run", *n[0]["n"], *n[0]["k"])
	}
	// Spark reads what rcmlake committed on top of its writes as rcmlake does.
	final := snapshotIn(t, filepath.Join(world, "lake"), "silver.claims", -1)
	gotFinal, err := spark.Summary(claims, -1)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range interop.Diff(rcmlakeSummary(t, wcfg, "silver.claims", final), gotFinal) {
		t.Errorf("silver.claims after the run: Spark vs rcmlake: %s", d)
	}
	// Gold is built from silver: Spark's seven current claims are there too.
	fc := func(cfg string) (int64, string) {
		r := queryJSONL(t, cfg, "SELECT CAST(count(*) AS VARCHAR) AS n, CAST(sum(claim_amount) AS VARCHAR) AS s FROM gold.fact_claim")
		return mustInt(t, *r[0]["n"]), *r[0]["s"]
	}
	gn, gs := fc(wcfg)
	cn, cs := fc(ccfg)
	extra := queryJSONL(t, wcfg, "SELECT CAST(sum(claim_amount) AS VARCHAR) AS s FROM silver.claims WHERE is_current AND claim_key IN "+sqlList(sparkKeys))
	if gn != cn+7 || gs != addCents(t, cs, moneyCents(t, *extra[0]["s"])) {
		t.Errorf("gold.fact_claim: %d claims totalling %s; control %d totalling %s, plus Spark's 7 of %s", gn, gs, cn, cs, *extra[0]["s"])
	}
}

// copaySum is the copay total of the given claims (current versions), in cents.
func copaySum(t *testing.T, cfg, table string, keys []string) int64 {
	t.Helper()
	r := queryJSONL(t, cfg, "SELECT CAST(coalesce(sum(copay), 0) AS VARCHAR) AS s FROM "+table+" WHERE is_current AND claim_key IN "+sqlList(keys))
	return moneyCents(t, *r[0]["s"])
}

func mustInt(t *testing.T, s string) int64 {
	t.Helper()
	var n int64
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatalf("%q is not an integer", s)
	}
	return n
}

// moneyCents parses a decimal(…,2) text exactly.
func moneyCents(t *testing.T, s string) int64 {
	t.Helper()
	neg := strings.HasPrefix(s, "-")
	whole, frac, ok := strings.Cut(strings.TrimPrefix(s, "-"), ".")
	if !ok || len(frac) != 2 {
		t.Fatalf("%q is not a decimal with two places", s)
	}
	n := mustInt(t, whole)*100 + mustInt(t, frac)
	if neg {
		n = -n
	}
	return n
}

func addCents(t *testing.T, s string, c int64) string {
	t.Helper()
	n := moneyCents(t, s) + c
	sign := ""
	if n < 0 {
		sign, n = "-", -n
	}
	return fmt.Sprintf("%s%d.%02d", sign, n/100, n%100)
}
