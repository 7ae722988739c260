package npi

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse: any bytes must parse or fail cleanly, never panic; parsed providers keep the flat
// view aligned and never lose their number.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(samplesDir(f), "*.json"))
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		if len(data) <= 4096 {
			f.Add(data)
			continue
		}
		// big pages make the fuzzer crawl: seed their first result alone
		var page struct{ Results []json.RawMessage }
		if json.Unmarshal(data, &page) == nil && len(page.Results) > 0 {
			f.Add([]byte(`{"result_count":1,"results":[` + string(page.Results[0]) + `]}`))
		}
	}
	f.Add([]byte(`{"result_count":1,"results":[{"number":"1234567893","basic":{"last_updated":"x"}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		page, err := Parse(data)
		if err != nil {
			return
		}
		for _, p := range page.Providers {
			if p.NPI == "" {
				t.Fatal("provider without an NPI")
			}
			if len(p.Values()) != len(p.Columns()) {
				t.Fatal("flat view misaligned")
			}
		}
	})
}

// FuzzReadBulk: arbitrary CSV never panics; each emitted row has a valid NPI, and every data
// row is either emitted or rejected.
func FuzzReadBulk(f *testing.F) {
	header := realHeader(f)
	rec := loadRecorded(f)
	f.Add(writeCSV(f, header, [][]string{bulkRow(header, rec[0]), bulkRow(header, rec[1])}))
	f.Add([]byte("NPI,Entity Type Code\n1234567893,1\n\"12345\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := ReadBulk(context.Background(), "fuzz.csv", bytes.NewReader(data), BulkOptions{Reject: func(int, string) error { return nil }},
			func(p Provider) error {
				if Validate(p.NPI) != nil {
					t.Fatalf("emitted invalid NPI %q", p.NPI)
				}
				return nil
			})
		if err == nil && st.Rows < 0 {
			t.Fatal("negative count")
		}
	})
}
