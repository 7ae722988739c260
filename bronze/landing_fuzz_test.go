package bronze

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/rcmlake/rcmlake/config"
	"github.com/rcmlake/rcmlake/internal/testenv"
)

// seedLines is the head of a real file from ../shared/seed-data, for fuzz corpora.
func seedLines(f *testing.F, rel string, n int) []byte {
	f.Helper()
	file, err := os.Open(filepath.Join(testenv.SharedDir(f), "seed-data", rel))
	if err != nil {
		f.Fatal(err)
	}
	defer file.Close()
	var b bytes.Buffer
	sc := bufio.NewScanner(file)
	for i := 0; i < n && sc.Scan(); i++ {
		b.Write(sc.Bytes())
		b.WriteString("\r\n")
	}
	return b.Bytes()
}

// FuzzLandingCSV: any bytes, read as a landing file against the claims rule (declared
// columns, rescued extras) or with every column kept, never panic; each record is a row or a
// reject with a reason (read = rows + rejects); every row has the output columns, valid UTF-8
// values, and a rescued-data value that is a JSON object.
func FuzzLandingCSV(f *testing.F) {
	f.Add(seedLines(f, "claims/hospital1_claim_data.csv", 12), true)
	f.Add(seedLines(f, "claims/hospital2_claim_data.csv", 12), false)
	f.Add(seedLines(f, "cptcodes/cptcodes.csv", 12), false)
	f.Add([]byte("\ufeffClaimID, Transaction ID ,ClaimStatus,Extra\r\nC1,T1,\"Paid, in full\",x\r\nC2,T2,\"multi\nline\",y\r\nC3,T3\r\n"), true)
	f.Add([]byte("ClaimID,TransactionID,ClaimStatus\nC1,T1,\"unterminated\n"), true)
	f.Add([]byte("ClaimID,TransactionID,ClaimStatus\nC1,T\xff1,Paid\nC2,T2,Pa\"id\n"), true)
	f.Add([]byte(""), true)
	// Regressions: a record whose first field is malformed has no field positions, and
	// asking for its line panicked.
	f.Add([]byte("ClaimID,TransactionID,ClaimStatus\n\"C1\"x,T1,Paid\n"), true)
	f.Add([]byte("ClaimID\nC1\n\"unterminated"), false)
	declared := config.LandingFile{Datasource: "hos-a", Table: "claims"}
	declared.Columns = config.SeedClaimsColumns()
	f.Fuzz(func(t *testing.T, data []byte, useRule bool) {
		rule := config.LandingFile{Datasource: "hos-a", Table: "claims"}
		if useRule {
			rule = declared
		}
		var rows, rejects int64
		var width int
		sc, err := scanCSV(context.Background(), rule, "fuzz.csv", bytes.NewReader(data), func(cols []string, vals []any) error {
			rows++
			if width == 0 {
				width = len(cols)
			}
			if len(vals) != len(cols) || len(cols) != width {
				t.Fatalf("row of %d values for %d columns (first row: %d)", len(vals), len(cols), width)
			}
			for i, v := range vals {
				s, ok := v.(string)
				if v == nil {
					continue
				}
				if !ok || !utf8.ValidString(s) {
					t.Fatalf("column %s: value %#v is not valid UTF-8 text", cols[i], v)
				}
				if cols[i] == ColRescued {
					var m map[string]string
					if err := json.Unmarshal([]byte(s), &m); err != nil {
						t.Fatalf("rescued data %q is not a JSON object: %v", s, err)
					}
				}
			}
			return nil
		}, func(r Reject) error {
			rejects++
			if r.Reason == "" || r.File != "fuzz.csv" {
				t.Fatalf("reject without a reason or file: %+v", r)
			}
			return nil
		})
		if err != nil {
			if rows != 0 || rejects != 0 || sc.read != 0 {
				t.Fatalf("the file failed (%v) after %d rows and %d rejects", err, rows, rejects)
			}
			if !strings.Contains(err.Error(), "fuzz.csv") {
				t.Fatalf("an error that does not name the file: %v", err)
			}
			return
		}
		if sc.rows != rows || sc.read != rows+rejects {
			t.Fatalf("read %d, rows %d (emitted %d), rejects %d: do not add up", sc.read, sc.rows, rows, rejects)
		}
	})
}
