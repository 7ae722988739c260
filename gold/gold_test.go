package gold

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rcmlake/rcmlake/bronze"
	"github.com/rcmlake/rcmlake/catalog"
	"github.com/rcmlake/rcmlake/config"
	"github.com/rcmlake/rcmlake/delta"
	"github.com/rcmlake/rcmlake/engine"
	"github.com/rcmlake/rcmlake/lakehouse"
	"github.com/rcmlake/rcmlake/models"
	"github.com/rcmlake/rcmlake/secrets"
	"github.com/rcmlake/rcmlake/silver"
	"github.com/rcmlake/rcmlake/synth"
)

type world struct {
	dir string
	lh  *lakehouse.Lakehouse
	in  *bronze.Ingester
	sb  *silver.Builder
	gb  *Builder
}

func newWorld(t *testing.T) *world {
	t.Helper()
	return newWorldOf(t, synth.Options{Seed: 5, Scale: 0.5, Months: 3})
}

func newWorldOf(t *testing.T, o synth.Options) *world {
	t.Helper()
	dir := t.TempDir()
	if _, err := synth.Generate(context.Background(), dir, o); err != nil {
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
	return &world{dir: dir, lh: lh,
		in: &bronze.Ingester{Config: cfg, Lake: lh, Resolver: r, Log: quiet},
		sb: &silver.Builder{Config: cfg, Lake: lh, Models: models.Embedded(), Log: quiet},
		// Small files, so that an incremental build has files to leave alone.
		// Small files, and never a fallback to a rebuild: the merge path is what is tested.
		gb: &Builder{Lake: lh, Models: models.Embedded(), Log: quiet, FileBytes: 64 << 10, MaxRewriteShare: 2}}
}

func (w *world) run(t *testing.T, id string) map[string]Result {
	t.Helper()
	ctx := context.Background()
	opts := bronze.Options{RunID: id}
	if _, err := w.in.Run(ctx, opts); err != nil {
		t.Fatal(err)
	}
	if _, err := w.in.RunLanding(ctx, opts); err != nil {
		t.Fatal(err)
	}
	for _, ref := range w.in.References() {
		if l := ref.Load(ctx, opts); l.Status != "success" {
			t.Fatalf("%s: %+v", ref.Table, l)
		}
	}
	w.sb.RunID = id
	if _, err := w.sb.Build(ctx, ""); err != nil {
		t.Fatal(err)
	}
	return w.build(t)
}

func (w *world) build(t *testing.T) map[string]Result {
	t.Helper()
	res, err := w.gb.Build(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]Result{}
	for _, r := range res {
		out[r.Table] = r
	}
	return out
}

// latest is a table's latest snapshot and a relation that scans it.
func (w *world) latest(t *testing.T, layer, table string) (*delta.Snapshot, string) {
	t.Helper()
	ctx := context.Background()
	s, err := delta.Open(w.lh.Store, catalog.Key(layer, table)).Latest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rel, err := w.lh.ScanSQL(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	return s, rel
}

// digest is an order-independent digest of a gold table's rows, with their count and files.
func (w *world) digest(t *testing.T, table string) (string, int64, int) {
	t.Helper()
	s, rel := w.latest(t, catalog.Gold, table)
	r, err := w.lh.Engine.Query(context.Background(), "SELECT CAST(bit_xor(hash(x)) AS VARCHAR), count(*), count(DISTINCT x) FROM "+rel+" x")
	if err != nil {
		t.Fatal(err)
	}
	if r.Rows[0][1] != r.Rows[0][2] {
		t.Errorf("gold.%s: %v rows but %v distinct", table, r.Rows[0][1], r.Rows[0][2])
	}
	return fmt.Sprint(r.Rows[0][0]), r.Rows[0][1].(int64), len(s.Files())
}

// TestIncrementalFactsEqualRebuild: month after month, the facts rebuild only the keys whose
// silver rows or dimension members changed, leaving most files alone, and end equal, row for
// row, to a full rebuild; KPIs computed from them agree too. A build with no new input is a
// no-op for every model.
func TestIncrementalFactsEqualRebuild(t *testing.T) {
	w := newWorld(t)
	first := w.run(t, "r1")
	for _, f := range []string{"gold.fact_transaction", "gold.fact_claim"} {
		if r := first[f]; r.Incremental || r.Skipped || r.Rows == 0 {
			t.Fatalf("first build of %s: %+v", f, r)
		}
	}
	for _, r := range w.build(t) {
		if !r.Skipped {
			t.Errorf("%s was rebuilt with no new input: %+v", r.Table, r)
		}
	}
	facts := []string{"fact_transaction", "fact_claim"}
	for _, id := range []string{"r2", "r3"} {
		if _, err := synth.AppendMonth(context.Background(), w.dir); err != nil {
			t.Fatal(err)
		}
		res := w.run(t, id)
		for _, f := range facts {
			r := res["gold."+f]
			_, rows, _ := w.digest(t, f)
			// Only the keys that can have changed are recomputed: the month's new rows, the
			// charges its payments and claims touched, those of changed dimension members.
			if !r.Incremental || r.ChangedKeys == 0 || r.ChangedKeys >= rows {
				t.Errorf("%s: %s was not built incrementally (%d rows): %+v", id, f, rows, r)
			}
		}
		for _, f := range []string{"fact_ar_snapshot", "kpi_monthly"} {
			r := res["gold."+f]
			t.Logf("%s: gold.%s %+v", id, f, r)
			if !r.Incremental || r.Since == "" {
				t.Errorf("%s: %s was not recomputed from a day on: %+v", id, f, r)
			}
		}
		// What the month built incrementally equals a full rebuild of the same inputs. The
		// next month then follows its inputs from the rebuilt tables.
		built := map[string]string{}
		for _, f := range append(facts, "fact_ar_snapshot", "kpi_monthly") {
			built[f], _, _ = w.digest(t, f)
		}
		w.gb.FullRefresh = true
		w.build(t)
		w.gb.FullRefresh = false
		for f, d := range built {
			if got, _, _ := w.digest(t, f); got != d {
				t.Errorf("%s: gold.%s built incrementally differs from a full rebuild", id, f)
			}
		}
	}
	// With the default share, a month that touches every file of this small world rebuilds.
	// Silver rewrites most of its transactions files for such a month, so the build rebuilds
	// before it spends a diff of the driver's files on finding the changed keys.
	w.gb.MaxRewriteShare = 0
	var logs strings.Builder
	w.gb.Log = slog.New(slog.NewTextHandler(&logs, nil))
	if _, err := synth.AppendMonth(context.Background(), w.dir); err != nil {
		t.Fatal(err)
	}
	r4 := w.run(t, "r4")
	if r := r4["gold.fact_transaction"]; r.Incremental || r.Skipped {
		t.Errorf("r4: a change in every file should rebuild fact_transaction: %+v", r)
	}
	// Its rewritten files would cost more to diff than the models by day cost to rebuild.
	for _, f := range []string{"gold.fact_ar_snapshot", "gold.kpi_monthly"} {
		if r := r4[f]; r.Incremental || r.Skipped {
			t.Errorf("r4: %s should rebuild after fact_transaction was rewritten: %+v", f, r)
		}
	}
	if !strings.Contains(logs.String(), `msg="gold inputs changed in most of their files; rebuilding" table=gold.kpi_monthly`) {
		t.Errorf("r4: kpi_monthly did not rebuild on its rewritten input:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), `msg="gold driver changed in most of its files; rebuilding" table=gold.fact_transaction`) {
		t.Errorf("r4: fact_transaction did not rebuild on its driver's rewritten files:\n%s", logs.String())
	}
	w.gb.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	want := map[string]string{}
	for _, f := range append(facts, "kpi_monthly", "fact_ar_snapshot") {
		d, n, _ := w.digest(t, f)
		if n == 0 {
			t.Fatalf("gold.%s is empty", f)
		}
		want[f] = d
	}
	w.gb.FullRefresh = true
	for _, r := range w.build(t) {
		if r.Skipped || r.Incremental {
			t.Errorf("full refresh of %s: %+v", r.Table, r)
		}
	}
	for f, d := range want {
		if got, _, _ := w.digest(t, f); got != d {
			t.Errorf("gold.%s: the incremental builds and a full rebuild disagree", f)
		}
	}
}

func TestParseIncremental(t *testing.T) {
	inc, err := parseIncremental("-- incremental: key transaction_key from silver.transactions\n" +
		"--incremental: gold.dim_icd_code.code_nodot = upper(replace(icd_code, '.', ''))  \nSELECT 1")
	if err != nil || inc.key != "transaction_key" || inc.driver != "silver.transactions" || len(inc.maps) != 1 ||
		inc.maps[0] != (inputMap{"gold.dim_icd_code", "code_nodot", "upper(replace(icd_code, '.', ''))", ""}) {
		t.Fatalf("%+v %v", inc, err)
	}
	asOf, err := parseIncremental("-- incremental: key k from silver.t\n" +
		"-- incremental: gold.dim_patient.patient_key = patient_key as of coalesce(service_date, DATE '1900-01-01')")
	if err != nil || asOf.maps[0] != (inputMap{"gold.dim_patient", "patient_key", "patient_key", "coalesce(service_date, DATE '1900-01-01')"}) {
		t.Errorf("as of: %+v %v", asOf, err)
	}
	if !inc.declares("gold.dim_icd_code") || inc.declares("gold.dim_patient") {
		t.Error("declares")
	}
	if inc, err := parseIncremental("SELECT 1"); inc != nil || err != nil {
		t.Errorf("no declaration: %+v %v", inc, err)
	}
	for _, bad := range []string{"-- incremental: transaction_key", "-- incremental: key k from silver.t\n-- incremental: patient_key"} {
		if _, err := parseIncremental(bad); err == nil || !strings.Contains(err.Error(), "incremental") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestParseSince(t *testing.T) {
	if d, err := parseSince("-- since: month_start by month\n-- since: gold.fact_claim claim_date"); err != nil || !d.monthly || d.column != "month_start" {
		t.Errorf("by month: %+v %v", d, err)
	}
	d, err := parseSince("-- since: snapshot_date\n" +
		"-- since: gold.fact_transaction least(service_date, paid_date) over service_date, paid_date ,charge_amount\n" +
		"--since: gold.dim_date date_day  \nSELECT 1")
	if err != nil || d.column != "snapshot_date" || d.monthly || len(d.inputs) != 2 {
		t.Fatalf("%+v %v", d, err)
	}
	if in := d.inputs["gold.fact_transaction"]; in.expr != "least(service_date, paid_date)" ||
		strings.Join(in.cols, "|") != "service_date|paid_date|charge_amount" {
		t.Errorf("fact_transaction: %+v", in)
	}
	if in := d.inputs["gold.dim_date"]; in.expr != "date_day" || in.cols != nil {
		t.Errorf("dim_date: %+v", in)
	}
	if d, err := parseSince("SELECT 1"); d != nil || err != nil {
		t.Errorf("no declaration: %+v %v", d, err)
	}
	for _, bad := range []string{"-- since: snapshot_date month_start", "-- since: d\n-- since: gold.x", "-- since: d\n-- since: gold.x a\n-- since: gold.x b"} {
		if _, err := parseSince(bad); err == nil || !strings.Contains(err.Error(), "since") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// TestGoldByDayRecomputesFromTheFirstChangedDay: on a world whose history is longer than the
// months a charge keeps changing in, an appended month recomputes fact_ar_snapshot and
// kpi_monthly from a day well inside the history, keeps the files before it, and ends equal,
// row for row, to a full rebuild.
func TestGoldByDayRecomputesFromTheFirstChangedDay(t *testing.T) {
	w := newWorldOf(t, synth.Options{Seed: 11, Scale: 0.1, Months: 16})
	w.gb.FileBytes = 8 << 10 // files of a few hundred rows: enough of them to leave most alone
	w.run(t, "r1")
	byDay := []string{"fact_ar_snapshot", "kpi_monthly"}
	first := map[string]string{}
	files := map[string]int{}
	for _, f := range byDay {
		s, err := delta.Open(w.lh.Store, catalog.Key(catalog.Gold, f)).Latest(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		files[f] = len(s.Files())
		rel, _ := w.lh.ScanSQL(context.Background(), s)
		col := map[string]string{"fact_ar_snapshot": "snapshot_date", "kpi_monthly": "month_start"}[f]
		r, err := w.lh.Engine.Query(context.Background(), "SELECT CAST(min("+col+") AS VARCHAR) FROM "+rel+" x")
		if err != nil {
			t.Fatal(err)
		}
		first[f] = r.Rows[0][0].(string)
	}
	if _, err := synth.AppendMonth(context.Background(), w.dir); err != nil {
		t.Fatal(err)
	}
	res := w.run(t, "r2")
	// A patient's or provider's new version touches only the charges from its start on (404
	// changed keys here without "as of", 301 with it); the facts must still equal a rebuild.
	ft := res["gold.fact_transaction"]
	s, err := delta.Open(w.lh.Store, catalog.Key(catalog.Gold, "fact_transaction")).Latest(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("gold.fact_transaction: %d changed keys, %d of %d files replaced", ft.ChangedKeys, ft.FilesRemoved, len(s.Files()))
	if !ft.Incremental || ft.ChangedKeys == 0 {
		t.Errorf("gold.fact_transaction was not built incrementally: %+v", ft)
	}
	byDay = append(byDay, "fact_transaction", "fact_claim")
	want := map[string]string{}
	for _, f := range byDay[:2] {
		r := res["gold."+f]
		t.Logf("gold.%s: since %s, %d of %d files replaced (history from %s)", f, r.Since, r.FilesRemoved, files[f], first[f])
		// Charges change for about ten months after their month: the first changed day lies
		// months after the start of a 16-month history.
		if !r.Incremental || r.Since <= first[f] || r.Since[:7] <= first[f][:4]+"-03" {
			t.Errorf("gold.%s was not recomputed from a day inside the history: %+v", f, r)
		}
		if f == "fact_ar_snapshot" && r.FilesRemoved >= files[f] {
			t.Errorf("gold.%s replaced all %d files", f, files[f])
		}
	}
	for _, f := range byDay {
		want[f], _, _ = w.digest(t, f)
	}
	w.gb.FullRefresh = true
	w.build(t)
	for _, f := range byDay {
		if got, _, _ := w.digest(t, f); got != want[f] {
			t.Errorf("gold.%s: the incremental build and a full rebuild disagree", f)
		}
	}
}

// TestIncrementalFactsFollowASilverRowChangedInPlace: a silver row rewritten in place, with its
// key keeping the same versions (as a silver full refresh after a model fix does), reaches the
// fact: the diff compares the row hash, not only which keys have rows.
func TestIncrementalFactsFollowASilverRowChangedInPlace(t *testing.T) {
	w := newWorld(t)
	w.run(t, "r1")
	ctx := context.Background()
	s, scan := w.latest(t, catalog.Silver, "transactions")
	r, err := w.lh.Engine.Query(ctx, "SELECT transaction_key FROM "+scan+" WHERE is_current AND NOT is_quarantined AND NOT is_deleted AND amount IS NOT NULL ORDER BY 1 LIMIT 1")
	if err != nil || len(r.Rows) != 1 {
		t.Fatalf("a current transaction: %v %v", r, err)
	}
	key := r.Rows[0][0].(string)
	cols := make([]string, len(s.Schema.Fields))
	for i, f := range s.Schema.Fields {
		switch f.Name {
		case "amount":
			cols[i] = fmt.Sprintf("CASE WHEN transaction_key = '%s' THEN amount + 1000 ELSE amount END AS amount", key)
		case silver.ColHash:
			cols[i] = fmt.Sprintf("CASE WHEN transaction_key = '%s' THEN md5(%s) ELSE %s END AS %s", key, f.Name, f.Name, f.Name)
		default:
			cols[i] = f.Name
		}
	}
	tbl := delta.Open(w.lh.Store, catalog.Key(catalog.Silver, "transactions"))
	if _, err := w.lh.Engine.WriteDelta(ctx, tbl, "SELECT "+strings.Join(cols, ", ")+" FROM "+scan+" t",
		engine.WriteOptions{Mode: engine.Overwrite}); err != nil {
		t.Fatal(err)
	}
	res := w.build(t)
	if f := res["gold.fact_transaction"]; !f.Incremental || f.ChangedKeys == 0 {
		t.Errorf("fact_transaction did not follow the changed row: %+v", f)
	}
	// scan still reads the silver rows from before the rewrite.
	_, factScan := w.latest(t, catalog.Gold, "fact_transaction")
	r, err = w.lh.Engine.Query(ctx, fmt.Sprintf("SELECT s.amount + 1000 = f.charge_amount FROM %s s JOIN %s f USING (transaction_key) WHERE s.transaction_key = '%s' AND s.is_current", scan, factScan, key))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Rows) != 1 || r.Rows[0][0] != true {
		t.Errorf("the fact's charge_amount is not the silver row's changed amount: %v", r.Rows)
	}
}
