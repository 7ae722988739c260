package bronze

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rcmlake/rcmlake/lake"
)

func TestNormalizeHeader(t *testing.T) {
	for in, want := range map[string]string{"Procedure Code Category": "procedure_code_category", "\ufeffClaimID": "claimid",
		" CPT Codes ": "cpt_codes", "Paid Amount ($)": "paid_amount", "Été-Date": "été_date"} {
		if got := NormalizeHeader(in); got != want {
			t.Errorf("NormalizeHeader(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestLandingFiles: every claims row is loaded or rejected with its file and line (the
// rejects are exactly the manifest's wrong_field_count rows); files are archived; a re-dropped
// unchanged file is skipped and a changed one is ingested again.
func TestLandingFiles(t *testing.T) {
	w := newWorldSeed(t, 4, 24) // a world with CSV rows of the wrong field count
	ctx := context.Background()
	when := time.Date(2024, 5, 2, 10, 0, 0, 0, time.UTC)
	logs, err := w.in.RunLanding(ctx, Options{RunID: "f1", Now: func() time.Time { return when }})
	if err != nil {
		t.Fatal(err)
	}
	m := readManifest(t, w.dir)
	wantRejects := map[string][]int{}
	for _, d := range m.Defects {
		if d.Kind == "wrong_field_count" {
			wantRejects[d.File] = append(wantRejects[d.File], d.Line)
		}
	}
	if len(wantRejects) == 0 {
		t.Fatal("the world has no wrong_field_count rows to test with; change the seed")
	}
	if len(logs) != len(m.ClaimsFiles)+1 {
		t.Fatalf("%d landing loads, want %d claims files and the CPT file", len(logs), len(m.ClaimsFiles))
	}
	for _, l := range logs {
		if l.Status != "success" || l.NumberOfRowsCopied+l.RowsRejected != l.RowsRead {
			t.Errorf("%s: %+v", l.OldWatermark, l)
		}
		name := "landing/" + l.OldWatermark
		var rej []Reject
		if l.RejectsFile != "" {
			data, err := lake.ReadAll(ctx, w.lh.Store, l.RejectsFile)
			if err != nil {
				t.Fatal(err)
			}
			json.Unmarshal(data, &rej)
		}
		var lines []int
		for _, r := range rej {
			lines = append(lines, r.Line)
			if r.File != l.OldWatermark || !strings.Contains(r.Reason, "fields") {
				t.Errorf("reject %+v", r)
			}
		}
		if len(lines) != len(wantRejects[name]) {
			t.Errorf("%s: rejected lines %v, manifest says %v", name, lines, wantRejects[name])
		}
		for i := range lines {
			if lines[i] != wantRejects[name][i] {
				t.Errorf("%s: rejected line %d, manifest says %d", name, lines[i], wantRejects[name][i])
			}
		}
		if len(w.bronzeRows(t, l.Files)) != int(l.NumberOfRowsCopied) {
			t.Errorf("%s: bronze rows differ from the audit count", name)
		}
	}
	cpt := logFor(logs, "f1", "ref", "cpt_codes")
	if rows := w.bronzeRows(t, cpt.Files); len(rows) == 0 || !strings.Contains(rows[0], "procedure_code_category=") {
		t.Errorf("CPT headers not normalised: %v", rows[:1])
	}
	archived := filepath.Join(w.dir, "landing", "archive", "2024", "05", "02", m.ClaimsFiles[0][len("landing/"):])
	if _, err := os.Stat(archived); err != nil {
		t.Fatalf("not archived: %v", err)
	}
	if _, err := os.Stat(filepath.Join(w.dir, m.ClaimsFiles[0])); !os.IsNotExist(err) {
		t.Fatalf("still in the landing folder: %v", err)
	}

	// Re-drop the same file: skipped. Re-drop it changed: a new version is ingested.
	data, _ := os.ReadFile(archived)
	os.WriteFile(filepath.Join(w.dir, m.ClaimsFiles[0]), data, 0o644)
	logs, err = w.in.RunLanding(ctx, Options{RunID: "f2", Now: func() time.Time { return when }})
	if err != nil || len(logs) != 0 {
		t.Fatalf("an unchanged re-drop was ingested again: %d loads, %v", len(logs), err)
	}
	if _, err := os.Stat(filepath.Join(w.dir, m.ClaimsFiles[0])); !os.IsNotExist(err) {
		t.Error("the skipped re-drop was not archived")
	}
	changed := strings.Replace(string(data), "Pending", "Denied", 1)
	os.WriteFile(filepath.Join(w.dir, m.ClaimsFiles[0]), []byte(changed), 0o644)
	logs, err = w.in.RunLanding(ctx, Options{RunID: "f3", Now: func() time.Time { return when }})
	if err != nil || len(logs) != 1 || logs[0].Status != "success" {
		t.Fatalf("a changed file under the same name: %+v %v", logs, err)
	}
}

func TestLandingMissingRequiredColumn(t *testing.T) {
	w := newWorld(t, 1)
	m := readManifest(t, w.dir)
	p := filepath.Join(w.dir, m.ClaimsFiles[0])
	data, _ := os.ReadFile(p)
	os.WriteFile(p, []byte(strings.Replace(string(data), "ClaimStatus", "Status", 1)), 0o644)
	logs, err := w.in.RunLanding(context.Background(), Options{RunID: "f1"})
	if err == nil || !strings.Contains(err.Error(), "ClaimStatus") {
		t.Fatalf("want a clear error naming the column, got %v", err)
	}
	ok := 0
	for _, l := range logs {
		if l.Status == "success" {
			ok++
		}
	}
	if ok != len(logs)-1 {
		t.Errorf("%d of %d files loaded; only the broken one may fail", ok, len(logs))
	}
	if _, err := os.Stat(p); err != nil {
		t.Error("the failed file was archived; it must stay to be fixed")
	}
}

// TestLandingSchemaDrift: a claims file whose columns are reordered, one optional column
// missing and one unknown column added, with a BOM, CRLF line ends and a quoted field holding
// a comma and a newline, lands by name: every declared column carries the original values,
// the missing one is NULL, and the unknown one is kept in _rescued_data.
func TestLandingSchemaDrift(t *testing.T) {
	w := newWorld(t, 1)
	m := readManifest(t, w.dir)
	p := filepath.Join(w.dir, m.ClaimsFiles[0])
	orig, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(strings.NewReader(string(orig))).ReadAll()
	if err != nil {
		t.Skip("the generated file has rows of the wrong field count; this test needs a clean one")
	}
	hdr := rows[0]
	drop := indexOfCol(hdr, "PayorType")
	var out strings.Builder
	out.WriteString("\ufeff")
	cw := csv.NewWriter(&out)
	cw.UseCRLF = true
	want := map[string][]string{} // ClaimID -> the row, by header
	for i, r := range rows {
		var rec []string
		for j := len(r) - 1; j >= 0; j-- { // reversed column order, PayorType gone
			if j != drop {
				rec = append(rec, r[j])
			}
		}
		if i == 0 {
			rec = append(rec, "Auth Number")
		} else {
			rec = append(rec, fmt.Sprintf("A-%d, \"x\"\nline two", i))
			want[r[indexOfCol(hdr, "ClaimID")]] = r
		}
		cw.Write(rec)
	}
	cw.Flush()
	if err := os.WriteFile(p, []byte(out.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	logs, err := w.in.RunLanding(context.Background(), Options{RunID: "d1"})
	if err != nil {
		t.Fatal(err)
	}
	l := logFor(logs, "d1", m.Hospitals[0].Code, "claims")
	if l.RowsRejected != 0 || l.NumberOfRowsCopied != int64(len(want)) {
		t.Fatalf("drifted file: %+v", l)
	}
	res, err := w.lh.Engine.Query(context.Background(), fmt.Sprintf(
		"SELECT claimid, claimstatus, claimamount, payortype, %s FROM read_parquet('%s')", ColRescued, filepath.Join(w.dir, "lake", l.Files[0])))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != len(want) {
		t.Fatalf("%d bronze rows, want %d", len(res.Rows), len(want))
	}
	for _, row := range res.Rows {
		src := want[fmt.Sprint(row[0])]
		if src == nil || row[1] != src[indexOfCol(hdr, "ClaimStatus")] || row[2] != src[indexOfCol(hdr, "ClaimAmount")] || row[3] != nil {
			t.Fatalf("bronze row %v, the file's row %v", row, src)
		}
		var rescued map[string]string
		if err := json.Unmarshal([]byte(fmt.Sprint(row[4])), &rescued); err != nil || !strings.HasSuffix(rescued["Auth Number"], "\"x\"\nline two") {
			t.Fatalf("rescued data %v (%v)", row[4], err)
		}
	}
}

func indexOfCol(hdr []string, name string) int {
	for i, h := range hdr {
		if h == name {
			return i
		}
	}
	return -1
}
