package bronze

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rcmlake/rcmlake/config"
	"github.com/rcmlake/rcmlake/internal/testenv"
)

// scanAll runs a scanner over data, counting rows and rejects, and checks each row's
// rescued data: one key per undeclared column.
func scanAll(t *testing.T, rule config.LandingFile, data []byte) (rows, rejects int64, err error) {
	sc, err := newCSVScanner(rule, "f.csv", bytes.NewReader(data))
	if err != nil {
		return 0, 0, err
	}
	vals := make([]any, len(sc.cols))
	for {
		rej, err := sc.next(vals)
		if errors.Is(err, io.EOF) {
			return rows, rejects, nil
		}
		if err != nil {
			return rows, rejects, err
		}
		if rej != nil {
			if rej.Line <= 0 || rej.Reason == "" {
				t.Fatalf("reject without its line or reason: %+v", rej)
			}
			rejects++
			continue
		}
		rows++
		if len(sc.rescued) > 0 {
			var extra map[string]string
			if err := json.Unmarshal([]byte(vals[len(vals)-1].(string)), &extra); err != nil || len(extra) != len(sc.rescued) {
				t.Fatalf("rescued data %v holds %d values, want the %d undeclared columns (%v)", vals[len(vals)-1], len(extra), len(sc.rescued), err)
			}
		}
	}
}

// records counts the CSV records of an input without quotes, the way encoding/csv does: lines
// split on \n, \r\n as \n, a trailing \r at the end dropped, empty lines skipped.
func records(data []byte) int64 {
	lines := strings.Split(strings.ReplaceAll(string(data), "\r\n", "\n"), "\n")
	lines[len(lines)-1] = strings.TrimSuffix(lines[len(lines)-1], "\r")
	var n int64
	for _, l := range lines {
		if l != "" {
			n++
		}
	}
	return n
}

// seedCSV adds the first lines of the seed project's claims files and CPT file to a corpus.
func seedCSV(f *testing.F, lines int) {
	dir := filepath.Join(testenv.SharedDir(f), "seed-data")
	for _, p := range []string{"claims/hospital1_claim_data.csv", "claims/hospital2_claim_data.csv", "cptcodes/cptcodes.csv"} {
		fh, err := os.Open(filepath.Join(dir, p))
		if err != nil {
			f.Fatal(err)
		}
		var b bytes.Buffer
		sc := bufio.NewScanner(fh)
		for i := 0; i < lines && sc.Scan(); i++ {
			b.Write(sc.Bytes())
			b.WriteByte('\n')
		}
		fh.Close()
		f.Add(b.Bytes())
	}
}

// FuzzLandingCSV: a landing CSV, whatever its bytes, never panics the reader, and every record
// is accounted for: loaded or rejected, as many as the file holds; rescued data keeps every
// undeclared column. The rules are the seed's claims columns (rescue the rest) and none.
func FuzzLandingCSV(f *testing.F) {
	seedCSV(f, 300)
	for _, s := range []string{
		"\ufeffClaimID,TransactionID,ClaimStatus\r\nC1,T1,Paid\r\nC2,T2,Denied\r\n",
		"ClaimID,TransactionID,ClaimStatus,Note\nC1,T1,Paid,\"two\nlines\"\nC2,T2,Denied,\"a \"\"quoted\"\" word\"\n",
		"ClaimID,TransactionID,ClaimStatus\nC1,T1\nC2,T2,Paid,extra\n\nC3,T3,Paid",
		"ClaimID,TransactionID,ClaimStatus\nC1,\"T1,Paid\nC2,T2,Paid\n",
		"ClaimID,TransactionID,ClaimStatus,x,x,X\nC1,T1,Paid,a,b,c\n",
		"ClaimID,TransactionID,ClaimStatus\nC1,T\xff1,Paid\r\r\nC2,T2,Paid\r",
		"a,b\n\"x\"y,1\n2,3\n",
		"",
	} {
		f.Add([]byte(s))
	}
	claims := config.LandingFile{Columns: config.SeedClaimsColumns()}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, rule := range []config.LandingFile{claims, {}} {
			rows, rejects, err := scanAll(t, rule, data)
			if err != nil {
				continue // no header, a required column missing: the file fails, nothing loads
			}
			if !bytes.ContainsRune(data, '"') {
				if want := records(data) - 1; rows+rejects != want {
					t.Fatalf("%d rows and %d rejects for %d records", rows, rejects, want)
				}
			}
		}
	})
}

// endless is a CSV that opens a quote and never closes it.
type endless struct{ n int64 }

func (e *endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	e.n += int64(len(p))
	return len(p), nil
}

// A record that never ends (an unclosed quote) fails the file once it passes MaxCSVRecord,
// having read little more than that: memory stays bounded whatever the file's size.
func TestCSVRecordBounded(t *testing.T) {
	defer func(m int64) { MaxCSVRecord = m }(MaxCSVRecord)
	MaxCSVRecord = 4 << 20
	src := &endless{}
	sc, err := newCSVScanner(config.LandingFile{}, "f.csv", io.MultiReader(strings.NewReader("a,b\n1,\"open"), src))
	if err != nil {
		t.Fatal(err)
	}
	vals := make([]any, len(sc.cols))
	_, err = sc.next(vals)
	if err == nil || !strings.Contains(err.Error(), "near line 2") || !strings.Contains(err.Error(), "longer than") {
		t.Fatalf("unclosed quote: %v", err)
	}
	if src.n > MaxCSVRecord+2<<20 {
		t.Errorf("read %d MiB before failing, want about %d", src.n>>20, MaxCSVRecord>>20)
	}
}

// A bare quote in a record's first field used to panic the reader (FieldPos on a record the
// CSV reader gave up on); it is a reject with its line, and the next record still loads.
func TestCSVBareQuoteIsReject(t *testing.T) {
	sc, err := newCSVScanner(config.LandingFile{}, "f.csv", strings.NewReader("a,b\n\"x\"y,1\n2,3\n"))
	if err != nil {
		t.Fatal(err)
	}
	vals := make([]any, len(sc.cols))
	rej, err := sc.next(vals)
	if err != nil || rej == nil || rej.Line != 2 || !strings.Contains(rej.Reason, "quote") {
		t.Fatalf("bare quote: reject %+v, err %v", rej, err)
	}
	if rej, err := sc.next(vals); err != nil || rej != nil || vals[0] != "2" || vals[1] != "3" {
		t.Fatalf("the next record: %v %+v %v", vals, rej, err)
	}
}
