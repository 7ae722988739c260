package silver

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/rcmlake/rcmlake/engine/duckdb"
)

// event is one source row: key k has value v (nil = NULL) as of sequence seq.
type event struct {
	k   string
	v   *string
	seq int
	ing int // arrival order
}

func sval(v *string) string {
	if v == nil {
		return "NULL"
	}
	return "'" + *v + "'"
}

// TestSCD2Property applies random monthly batches (changes, NULL transitions, duplicates,
// late rows, re-sent rows) and checks the history against a model of the documented
// semantics: each batch's rows are placed among the stored versions by sequence (arrival
// order breaks ties), a row identical to a stored one is ignored, and a version equal to the
// one before it is dropped. It also checks exactly one current version per key, no overlaps, and that running
// the same batch twice changes nothing.
func TestSCD2Property(t *testing.T) {
	e, err := duckdb.Open(duckdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx := context.Background()
	s := SCD2{Key: []string{"k"}, Columns: []string{"k", "v"}}
	seed := int64(20261124)
	if s := os.Getenv("SCD2_SEED"); s != "" {
		seed, _ = strconv.ParseInt(s, 10, 64)
	}
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewSource(seed))
	values := []string{"a", "b", "c"}
	mustExec := func(q string) {
		t.Helper()
		if err := e.Exec(ctx, q); err != nil {
			t.Fatalf("%v\n%s", err, q)
		}
	}
	mustExec(`CREATE TABLE silver (k VARCHAR, v VARCHAR, _row_hash VARCHAR, _source_seq INTEGER, is_deleted BOOLEAN,
		_ingest_seq BIGINT, _inserted_at TIMESTAMP, valid_from INTEGER, valid_to INTEGER, is_current BOOLEAN, _modified_at TIMESTAMP)`)
	model := map[string][]event{}
	ingest := 0
	var all []event
	for batch := 0; batch < 12; batch++ {
		var evs []event
		for i := 0; i < 15; i++ {
			k := fmt.Sprintf("k%d", rng.Intn(6))
			var v *string
			if rng.Intn(4) > 0 {
				x := values[rng.Intn(len(values))]
				v = &x
			}
			seq := batch*10 + rng.Intn(10)
			if rng.Intn(6) == 0 && batch > 0 {
				seq = rng.Intn(batch * 10) // a late row
			}
			evs = append(evs, event{k: k, v: v, seq: seq})
		}
		if batch%4 == 3 { // re-send an earlier batch's rows: must change nothing
			evs = append(evs, all[:min(len(all), 10)]...)
		}
		all = append(all, evs...)
		var rows []string
		for i := range evs {
			ingest++
			evs[i].ing = ingest
			ev := evs[i]
			rows = append(rows, fmt.Sprintf("('%s', %s, %d, %d)", ev.k, sval(ev.v), ev.seq, ev.ing))
		}
		mustExec(`CREATE OR REPLACE TABLE inc AS SELECT k, v, ` + HashExpr([]string{"v"}) + ` AS _row_hash, seq AS _source_seq,
			FALSE AS is_deleted, ing AS _ingest_seq FROM (VALUES ` + strings.Join(rows, ",") + `) t(k, v, seq, ing)`)
		mustExec(`CREATE OR REPLACE TABLE merged AS ` + s.MergeSQL("silver", "inc", "TIMESTAMP '2026-01-01'"))
		mustExec(`CREATE OR REPLACE TABLE silver AS SELECT k, v, _row_hash, _source_seq, is_deleted, _ingest_seq, _inserted_at,
			valid_from, valid_to, is_current, _modified_at FROM merged`)
		applyModel(model, evs)
		checkHistory(t, e, model, batch)

		// The same batch again: nothing changes.
		before, _ := e.Query(ctx, "SELECT count(*), sum(hash(k, v, valid_from, valid_to, is_current)) FROM silver")
		mustExec(`CREATE OR REPLACE TABLE merged AS ` + s.MergeSQL("silver", "inc", "TIMESTAMP '2026-02-01'"))
		after, _ := e.Query(ctx, "SELECT count(*), sum(hash(k, v, valid_from, valid_to, is_current)) FROM merged")
		if fmt.Sprint(before.Rows) != fmt.Sprint(after.Rows) {
			t.Fatalf("batch %d: re-running the same batch changed the history: %v -> %v", batch, before.Rows, after.Rows)
		}
	}
}

// applyModel merges a batch into the model's stored versions.
func applyModel(model map[string][]event, batch []event) {
	seen := map[string]bool{}
	for _, evs := range model {
		for _, ev := range evs {
			seen[fmt.Sprint(ev.k, sval(ev.v), ev.seq)] = true
		}
	}
	for _, ev := range batch {
		id := fmt.Sprint(ev.k, sval(ev.v), ev.seq)
		if seen[id] { // identical to a stored version, or to an earlier row of the batch
			continue
		}
		seen[id] = true
		model[ev.k] = append(model[ev.k], ev) // stored versions precede the batch: stable sort keeps that
	}
	for k, evs := range model {
		sort.SliceStable(evs, func(i, j int) bool {
			if evs[i].seq != evs[j].seq {
				return evs[i].seq < evs[j].seq
			}
			return evs[i].ing < evs[j].ing
		})
		var out []event
		for _, ev := range evs {
			if len(out) > 0 && sval(out[len(out)-1].v) == sval(ev.v) {
				continue
			}
			out = append(out, ev)
		}
		model[k] = out
	}
}

func checkHistory(t *testing.T, e *duckdb.Engine, model map[string][]event, batch int) {
	t.Helper()
	want := map[string][]string{}
	for k, evs := range model {
		for _, ev := range evs {
			want[k] = append(want[k], fmt.Sprintf("%s@%d", sval(ev.v), ev.seq))
		}
	}
	res, err := e.Query(context.Background(), `SELECT k, coalesce('''' || v || '''', 'NULL') || '@' || valid_from, valid_to, is_current
		FROM silver ORDER BY k, valid_from, _ingest_seq`)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	current := map[string]int{}
	lastTo := map[string]any{}
	for _, r := range res.Rows {
		k := r[0].(string)
		if prev, ok := lastTo[k]; ok && prev == nil {
			t.Errorf("batch %d key %s: a version follows an open-ended one", batch, k)
		}
		lastTo[k] = r[2]
		got[k] = append(got[k], r[1].(string))
		if r[3].(bool) {
			current[k]++
			if r[2] != nil {
				t.Errorf("batch %d key %s: current version has valid_to %v", batch, k, r[2])
			}
		}
	}
	for k, w := range want {
		if strings.Join(got[k], " ") != strings.Join(w, " ") {
			t.Errorf("batch %d key %s:\n got  %v\n want %v", batch, k, got[k], w)
		}
		if current[k] != 1 {
			t.Errorf("batch %d key %s: %d current versions", batch, k, current[k])
		}
	}
}
