package npi

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// realHeader is the 330-column NPPES layout from the shared samples.
func realHeader(t testing.TB) []string {
	data, err := os.ReadFile(filepath.Join(sharedDir(t), "api-samples", "nppes_bulk", "npidata_pfile_columns_reconstructed.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var h []string
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		h = append(h, strings.TrimSpace(l))
	}
	if len(h) != 330 {
		t.Fatalf("header has %d columns, the readme says 330", len(h))
	}
	return h
}

func sharedDir(t testing.TB) string { return filepath.Dir(filepath.Dir(samplesDir(t))) }

// bulkRow renders a recorded API result as the dissemination file would hold it, per the
// readme's JSON-to-CSV field map, so that the bulk path can be checked against the API path.
func bulkRow(header []string, r recorded) []string {
	b := func(k string) string { return r.str("basic", k) }
	usDate := func(s string) string {
		if t, err := time.Parse("2006-01-02", s); err == nil {
			return t.Format("01/02/2006")
		}
		return ""
	}
	v := map[string]string{
		"NPI": r.str("number"), "Entity Type Code": strings.TrimPrefix(r.str("enumeration_type"), "NPI-"),
		"Provider Organization Name (Legal Business Name)": b("organization_name"),
		"Provider Last Name (Legal Name)":                  b("last_name"), "Provider First Name": b("first_name"),
		"Provider Middle Name": b("middle_name"), "Provider Name Prefix Text": b("name_prefix"),
		"Provider Credential Text":      b("credential"),
		"Provider Enumeration Date":     usDate(b("enumeration_date")),
		"Last Update Date":              usDate(b("last_updated")),
		"NPI Deactivation Date":         usDate(b("deactivation_date")),
		"NPI Reactivation Date":         usDate(b("reactivation_date")),
		"Authorized Official Last Name": b("authorized_official_last_name"), "Authorized Official First Name": b("authorized_official_first_name"),
		"Authorized Official Middle Name":       b("authorized_official_middle_name"),
		"Authorized Official Title or Position": b("authorized_official_title_or_position"),
		"Authorized Official Telephone Number":  b("authorized_official_telephone_number"),
		"Authorized Official Credential Text":   b("authorized_official_credential"),
	}
	if s := b("organizational_subpart"); s != "" {
		v["Is Organization Subpart"] = s[:1]
	}
	for _, a := range r.m["addresses"].([]any) {
		am := a.(map[string]any)
		if am["address_purpose"] == "LOCATION" {
			v["Provider First Line Business Practice Location Address"] = am["address_1"].(string)
			v["Provider Second Line Business Practice Location Address"] = am["address_2"].(string)
			v["Provider Business Practice Location Address City Name"] = am["city"].(string)
			v["Provider Business Practice Location Address State Name"] = am["state"].(string)
			v["Provider Business Practice Location Address Postal Code"] = am["postal_code"].(string)
			v["Provider Business Practice Location Address Country Code (If outside U.S.)"] = am["country_code"].(string)
			if tel, ok := am["telephone_number"].(string); ok {
				v["Provider Business Practice Location Address Telephone Number"] = tel
			}
		}
	}
	for i, tx := range r.m["taxonomies"].([]any) {
		tm := tx.(map[string]any)
		n := fmt.Sprint(i + 1)
		v["Healthcare Provider Taxonomy Code_"+n] = tm["code"].(string)
		v["Provider License Number_"+n] = tm["license"].(string)
		v["Provider License Number State Code_"+n] = tm["state"].(string)
		v["Healthcare Provider Primary Taxonomy Switch_"+n] = map[bool]string{true: "Y", false: "N"}[tm["primary"] == true]
	}
	row := make([]string, len(header))
	for i, h := range header {
		row[i] = v[h]
	}
	return row
}

func writeCSV(t testing.TB, header []string, rows [][]string) []byte {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.UseCRLF = true
	w.Write(header)
	w.WriteAll(rows)
	if err := w.Error(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// comparable drops what only one path has: the API's taxonomy description and raw JSON.
func comparable(p Provider) Provider {
	p.TaxonomyDesc, p.Raw, p.Source = "", "", ""
	return p
}

func apiProviders(t *testing.T) map[string]Provider {
	out := map[string]Provider{}
	files, _ := filepath.Glob(filepath.Join(samplesDir(t), "*.json"))
	for _, f := range files {
		data, _ := os.ReadFile(f)
		page, err := Parse(data)
		if err != nil {
			continue
		}
		for _, p := range page.Providers {
			if _, ok := out[p.NPI]; !ok {
				out[p.NPI] = p
			}
		}
	}
	return out
}

func TestReadBulkMatchesAPI(t *testing.T) {
	header := realHeader(t)
	rec := loadRecorded(t)
	var rows [][]string
	for _, r := range rec {
		rows = append(rows, bulkRow(header, r))
	}
	data := append([]byte("\ufeff"), writeCSV(t, header, rows)...)
	api := apiProviders(t)
	n := 0
	st, err := ReadBulk(context.Background(), "npidata_pfile_test.csv", bytes.NewReader(data), BulkOptions{}, func(p Provider) error {
		n++
		want, ok := api[p.NPI]
		if !ok {
			t.Fatalf("NPI %s not in the recorded answers", p.NPI)
		}
		if p.Source != FromBulk {
			t.Errorf("source %q", p.Source)
		}
		if got, want := comparable(p), comparable(want); got != want {
			t.Errorf("NPI %s:\n bulk %+v\n api  %+v", p.NPI, got, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if st.Rows != len(rec) || n != len(rec) || st.Rejected != 0 {
		t.Fatalf("stats %+v, want %d rows", st, len(rec))
	}
}

func TestReadBulkByNameRejectsAndDeactivated(t *testing.T) {
	header := realHeader(t)
	rec := loadRecorded(t)
	// reversed column order: columns are matched by name
	rev := make([]string, len(header))
	for i := range header {
		rev[i] = header[len(header)-1-i]
	}
	reverse := func(row []string) []string {
		out := make([]string, len(row))
		for i := range row {
			out[i] = row[len(row)-1-i]
		}
		return out
	}
	good := reverse(bulkRow(header, rec[0]))
	short := good[:10]
	badDate := reverse(bulkRow(header, rec[1]))
	for i, h := range rev {
		if h == "Last Update Date" {
			badDate[i] = "2019-13-45"
		}
	}
	deact := make([]string, len(rev))
	for i, h := range rev {
		switch h {
		case "NPI":
			deact[i] = rec[2].str("number")
		case "NPI Deactivation Date":
			deact[i] = "06/30/2020"
		}
	}
	data := writeCSV(t, rev, [][]string{good, short, badDate, deact})
	type rej struct {
		line   int
		reason string
	}
	var rejects []rej
	var got []Provider
	st, err := ReadBulk(context.Background(), "f.csv", bytes.NewReader(data), BulkOptions{Reject: func(line int, reason string) error {
		rejects = append(rejects, rej{line, reason})
		return nil
	}}, func(p Provider) error { got = append(got, p); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if st.Rows != 2 || st.Rejected != 2 || len(rejects) != 2 {
		t.Fatalf("stats %+v rejects %v", st, rejects)
	}
	if rejects[0].line != 3 || !strings.Contains(rejects[0].reason, "10 fields") ||
		rejects[1].line != 4 || !strings.Contains(rejects[1].reason, "Last Update Date") {
		t.Errorf("rejects %+v, want line 3 (field count) and line 4 (date)", rejects)
	}
	if got[0].NPI != rec[0].str("number") || got[0].LastName != rec[0].str("basic", "last_name") {
		t.Errorf("reordered row read wrong: %+v", got[0])
	}
	if d := got[1]; d.Status != "D" || d.EnumerationType != "" || d.DeactivationDate.Format("2006-01-02") != "2020-06-30" {
		t.Errorf("deactivated row: %+v", d)
	}
	// without Reject, the first bad row is an error naming file and line
	_, err = ReadBulk(context.Background(), "f.csv", bytes.NewReader(data), BulkOptions{}, func(Provider) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "f.csv line 3") {
		t.Errorf("err = %v, want f.csv line 3", err)
	}
}

func TestReadBulkNeedsNPIColumn(t *testing.T) {
	_, err := ReadBulk(context.Background(), "claims.csv", strings.NewReader("a,b\n1,2\n"), BulkOptions{}, func(Provider) error { return nil })
	if err == nil || !strings.Contains(err.Error(), `no "NPI" column`) {
		t.Fatalf("err = %v", err)
	}
}

func TestWriteBulkRoundTrip(t *testing.T) {
	api := apiProviders(t)
	var in []Provider
	for _, p := range api {
		in = append(in, p)
	}
	var buf bytes.Buffer
	if err := WriteBulk(&buf, in); err != nil {
		t.Fatal(err)
	}
	i := 0
	_, err := ReadBulk(context.Background(), "fixture.csv", &buf, BulkOptions{}, func(p Provider) error {
		want := comparable(in[i])
		want.NamePrefix = in[i].NamePrefix
		if got := comparable(p); got != want {
			t.Errorf("row %d:\n got  %+v\n want %+v", i, got, want)
		}
		i++
		return nil
	})
	if err != nil || i != len(in) {
		t.Fatalf("read %d of %d: %v", i, len(in), err)
	}
}

// BenchmarkReadBulk reports rows/s of the bulk importer on the full 330-column layout; its
// allocations per row show that memory does not grow with the file.
func BenchmarkReadBulk(b *testing.B) {
	header := realHeader(b)
	rec := loadRecorded(b)
	var rows [][]string
	for i := 0; i < 1000; i++ {
		rows = append(rows, bulkRow(header, rec[i%len(rec)]))
	}
	data := writeCSV(b, header, rows)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	total := 0
	for i := 0; i < b.N; i++ {
		st, err := ReadBulk(context.Background(), "bench.csv", bytes.NewReader(data), BulkOptions{}, func(Provider) error { return nil })
		if err != nil {
			b.Fatal(err)
		}
		total += st.Rows
	}
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "rows/s")
}
