package bronze

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"testing"
	"time"
)

// TestRowFileMatchesEncodingJSON checks the hand-written JSON lines against encoding/json,
// byte for byte, on values that need escaping, on NULLs and on duplicate column names.
func TestRowFileMatchesEncodingJSON(t *testing.T) {
	rows := []struct {
		cols []string
		vals []any
	}{
		{[]string{"a", "b", "c"}, []any{"plain", nil, 3.25}},
		{[]string{"a", "b", "c"}, []any{`q"uo\te`, "tab\tnl\nret\rbell\x07", "<a href='x'>&amp;</a>"}},
		{[]string{"a", "b", "c"}, []any{"Müller 東京 🚑", "bad\xffutf8\xc3", "line\u2028para\u2029end"}},
		{[]string{"a", "b", "c"}, []any{[]byte("bytes"), time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC), int64(-7)}},
		{[]string{"we\"ird", "x", "x"}, []any{"1", "first", "second"}}, // duplicate name: the last wins, as a map
		{[]string{}, []any{}},
	}
	rf, err := newRowFile()
	if err != nil {
		t.Fatal(err)
	}
	defer rf.discard()
	var want bytes.Buffer
	enc := json.NewEncoder(&want)
	for _, r := range rows {
		cols := append([]string(nil), r.cols...) // a new slice each row: the key cache must notice
		for i := 0; i < 2; i++ {
			if err := rf.write(cols, r.vals); err != nil {
				t.Fatal(err)
			}
			m := map[string]any{}
			for j, c := range r.cols {
				m[c] = textOf(r.vals[j])
			}
			enc.Encode(m)
		}
	}
	if err := rf.finish(); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(rf.name())
	gotLines, wantLines := bytes.Split(got, []byte("\n")), bytes.Split(want.Bytes(), []byte("\n"))
	if len(gotLines) != len(wantLines) {
		t.Fatalf("%d lines, want %d", len(gotLines), len(wantLines))
	}
	for i := range wantLines {
		// Key order may differ from encoding/json's sorted keys; compare decoded, then bytes
		// of the values by re-encoding.
		var g, w map[string]any
		if len(wantLines[i]) == 0 {
			continue
		}
		if err := json.Unmarshal(gotLines[i], &g); err != nil {
			t.Fatalf("line %d %s: %v", i+1, gotLines[i], err)
		}
		json.Unmarshal(wantLines[i], &w)
		gb, _ := json.Marshal(g)
		wb, _ := json.Marshal(w)
		if !bytes.Equal(gb, wb) {
			t.Errorf("line %d:\n got %s\nwant %s", i+1, gotLines[i], wantLines[i])
		}
	}
	if rf.rows != int64(2*len(rows)) {
		t.Errorf("%d rows counted", rf.rows)
	}
}

// TestAppendJSONStringEscapes compares the escaper with encoding/json byte for byte.
func TestAppendJSONStringEscapes(t *testing.T) {
	for _, s := range []string{"", "abc", `"\`, "\x00\x1f\x7f", "<>&", "é\u2028\u2029", "\xff\xfe", "a\xe2\x80"} {
		want, _ := json.Marshal(s)
		if got := appendJSONString(nil, s); !bytes.Equal(got, want) {
			t.Errorf("%q: got %s, want %s", s, got, want)
		}
	}
}

// BenchmarkRowFileWrite writes a transactions-like row (21 text columns) per op, by hand and,
// for comparison, as encoding/json of a map (how rowFile wrote before).
func BenchmarkRowFileWrite(b *testing.B) {
	cols := []string{"TransactionID", "EncounterID", "PatientID", "ProviderID", "DeptID", "VisitDate", "ServiceDate",
		"PaidDate", "VisitType", "Amount", "AmountType", "PaidAmount", "ClaimID", "PayorID", "ProcedureCode", "ICDCode",
		"LineOfBusiness", "MedicaidID", "MedicareID", "InsertDate", "ModifiedDate"}
	vals := []any{"TRANS00000001", "ENC00000001", "HOSP1-001768", "PROV0002", "DEPT016", "2024-01-25", "2024-01-25",
		"2024-02-10", "New Patient", 138.77, "Medicare", 0.0, "CLAIM00000001", "Medicare", "99213", "M17.11", "Medicare",
		nil, "MCR001768", "2024-01-26", "2024-02-10"}
	b.Run("hand", func(b *testing.B) {
		rf, _ := newRowFile()
		defer rf.discard()
		for b.Loop() {
			rf.write(cols, vals)
		}
	})
	b.Run("encoding-json-map", func(b *testing.B) {
		f, _ := os.CreateTemp("", "rowfile-*")
		defer os.Remove(f.Name())
		defer f.Close()
		w := bufio.NewWriterSize(f, 1<<20)
		defer w.Flush()
		enc := json.NewEncoder(w)
		m := map[string]any{}
		for b.Loop() {
			for i, c := range cols {
				m[c] = textOf(vals[i])
			}
			enc.Encode(m)
		}
	})
}
