package synth

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/rcmlake/rcmlake/config"
)

func gen(t *testing.T, o Options) (string, *Manifest) {
	t.Helper()
	dir := t.TempDir()
	m, err := Generate(context.Background(), dir, o)
	if err != nil {
		t.Fatal(err)
	}
	return dir, m
}

// dumpTables renders every EMR table's rows, sorted, as text.
func dumpTables(t *testing.T, dir string, m *Manifest) string {
	t.Helper()
	var b strings.Builder
	for _, h := range m.Hospitals {
		db, err := sql.Open("sqlite", filepath.Join(dir, h.DSN))
		if err != nil {
			t.Fatal(err)
		}
		for _, tbl := range h.Tables {
			rows, err := db.Query("SELECT * FROM " + tbl.Name)
			if err != nil {
				t.Fatal(err)
			}
			cols, _ := rows.Columns()
			var lines []string
			for rows.Next() {
				vals := make([]any, len(cols))
				ptrs := make([]any, len(cols))
				for i := range vals {
					ptrs[i] = &vals[i]
				}
				rows.Scan(ptrs...)
				lines = append(lines, fmt.Sprint(vals...))
			}
			rows.Close()
			sort.Strings(lines)
			fmt.Fprintf(&b, "%s.%s %v\n%s\n", h.Name, tbl.Name, cols, strings.Join(lines, "\n"))
		}
		db.Close()
	}
	return b.String()
}

func readFile(t *testing.T, p string) []byte {
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestDeterministic(t *testing.T) {
	o := Options{Seed: 7, Scale: 0.1, Months: 3}
	d1, m1 := gen(t, o)
	d2, _ := gen(t, o)
	files := append([]string{ManifestFile, m1.CPTFile}, m1.ClaimsFiles...)
	for _, h := range m1.Hospitals {
		files = append(files, h.DSN)
	}
	for _, f := range files {
		if !bytes.Equal(readFile(t, filepath.Join(d1, f)), readFile(t, filepath.Join(d2, f))) {
			t.Errorf("%s differs between two runs with the same seed", f)
		}
	}
	d3, _ := gen(t, Options{Seed: 8, Scale: 0.1, Months: 3})
	if bytes.Equal(readFile(t, filepath.Join(d1, m1.ClaimsFiles[0])), readFile(t, filepath.Join(d3, m1.ClaimsFiles[0]))) {
		t.Error("another seed gave the same claims")
	}
}

func TestAppendMonthEqualsGeneratingAtOnce(t *testing.T) {
	all, mAll := gen(t, Options{Seed: 11, Scale: 0.1, Months: 4})
	inc, _ := gen(t, Options{Seed: 11, Scale: 0.1, Months: 3})
	mInc, err := AppendMonth(context.Background(), inc)
	if err != nil {
		t.Fatal(err)
	}
	if mInc.Months != 4 || len(mInc.ClaimsFiles) != len(mAll.ClaimsFiles) {
		t.Fatalf("appended world has %d months and %d claims files", mInc.Months, len(mInc.ClaimsFiles))
	}
	for _, f := range mAll.ClaimsFiles {
		if !bytes.Equal(readFile(t, filepath.Join(all, f)), readFile(t, filepath.Join(inc, f))) {
			t.Errorf("%s differs", f)
		}
	}
	if a, b := dumpTables(t, all, mAll), dumpTables(t, inc, mInc); a != b {
		t.Error("EMR tables differ between appending a month and generating it at once")
	}
	if !bytes.Equal(readFile(t, filepath.Join(all, ManifestFile)), readFile(t, filepath.Join(inc, ManifestFile))) {
		t.Error("manifests differ")
	}
}

// TestDefectsMatchManifest counts the planted defects in the data itself, without the
// generator's help, and compares with the manifest.
func TestDefectsMatchManifest(t *testing.T) {
	dir, m := gen(t, Options{Seed: 3, Scale: 0.5, Months: 6})
	got := map[string]int{}
	for _, h := range m.Hospitals {
		db, err := sql.Open("sqlite", filepath.Join(dir, h.DSN))
		if err != nil {
			t.Fatal(err)
		}
		id, first := "PatientID", "FirstName"
		if h.Style == "b" {
			id, first = "ID", "F_Name"
		}
		count := func(q string) int {
			var n int
			if err := db.QueryRow(q).Scan(&n); err != nil {
				t.Fatal(q, err)
			}
			return n
		}
		got["null_key"] += count("SELECT count(*) FROM patients WHERE " + id + " IS NULL")
		got["literal_null"] += count("SELECT count(*) FROM patients WHERE " + first + " = 'NULL'")
		got["negative_amount"] += count("SELECT count(*) FROM transactions WHERE Amount < 0")
		got["orphan_fk"] += count("SELECT count(*) FROM transactions t WHERE NOT EXISTS (SELECT 1 FROM patients p WHERE p." + id + " = t.PatientID)")
		got["duplicate_key"] += count("SELECT count(*) FROM (SELECT TransactionID FROM transactions GROUP BY 1 HAVING count(*) > 1)")
		for _, q := range []string{"SELECT DOB FROM patients", "SELECT ServiceDate FROM transactions"} {
			rows, _ := db.Query(q)
			for rows.Next() {
				var s sql.NullString
				rows.Scan(&s)
				if _, err := time.Parse("2006-01-02", s.String); s.Valid && err != nil {
					got["unparseable_date"]++
				}
			}
			rows.Close()
		}
		db.Close()
	}
	for _, f := range m.ClaimsFiles {
		fh, _ := os.Open(filepath.Join(dir, f))
		r := csv.NewReader(fh)
		r.FieldsPerRecord = -1
		hdr, _ := r.Read()
		for {
			rec, err := r.Read()
			if err == io.EOF {
				break
			}
			if len(rec) != len(hdr) {
				got["wrong_field_count"]++
			}
		}
		fh.Close()
	}
	for kind, n := range got {
		if n != m.DefectCounts[kind] {
			t.Errorf("%s: %d in the data, manifest says %d", kind, n, m.DefectCounts[kind])
		}
	}
	for kind := range m.DefectCounts {
		if _, ok := got[kind]; !ok {
			t.Errorf("manifest kind %s not counted", kind)
		}
	}
	if len(m.DefectCounts) < 7 {
		t.Errorf("only %d defect kinds planted: %v", len(m.DefectCounts), m.DefectCounts)
	}
}

func TestRealisticMoney(t *testing.T) {
	o := Options{Seed: 5, Scale: 0.3, Months: 6}
	o.defaults()
	h := hospital(0)
	s := sizeOf(o, 0)
	denied, total, paid := 0, 0, 0
	for m := 0; m < 6; m++ {
		for k := 0; k < s.chargesPerMonth; k++ {
			c := chargeAt(o, h, s, m, k)
			if c.defect != "" {
				continue
			}
			total++
			if c.allowed > c.amount || c.paid > c.allowed+0.005 {
				t.Fatalf("%s: charge %.2f allowed %.2f paid %.2f", c.txnID, c.amount, c.allowed, c.paid)
			}
			if !c.paidDate.IsZero() {
				paid++
				if c.paidDate.Before(c.service) {
					t.Fatalf("%s paid before service", c.txnID)
				}
			}
			for _, e := range c.events {
				if e.status == "Denied" {
					denied++
				}
			}
		}
	}
	rate := float64(denied) / float64(total)
	if rate < 0.05 || rate > 0.12 {
		t.Errorf("initial denial rate %.3f, want 5-12%%", rate)
	}
	if paid == total || paid < total/2 {
		t.Errorf("%d of %d charges paid: some accounts must stay open, most must be paid", paid, total)
	}
}

func TestNPIs(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 1000; i++ {
		if n := NPI(r); !ValidNPI(n) {
			t.Fatalf("invalid NPI %s", n)
		}
	}
	// CMS's published example: 123456789 has check digit 3.
	if !ValidNPI("1234567893") || ValidNPI("1234567890") {
		t.Error("Luhn check with the 80840 prefix is wrong")
	}
}

func TestWorldConfigValidates(t *testing.T) {
	dir, m := gen(t, Options{Seed: 1, Scale: 0.05, Months: 1, Hospitals: 3})
	path := filepath.Join(dir, "rcmlake.yaml")
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("the generated config does not validate: %v", err)
	}
	if len(cfg.Sources.EMR) != len(m.Hospitals) || len(cfg.Silver.Entities) != len(config.SeedEntities(nil))+len(config.ReferenceEntities()) {
		t.Errorf("%d databases, %d entities", len(cfg.Sources.EMR), len(cfg.Silver.Entities))
	}
	// Hospital B's patients map by name onto the same CDM columns as A's.
	p := cfg.Silver.Entities[0]
	if p.Sources[0].Columns["first_name"] != "FirstName" || p.Sources[1].Columns["first_name"] != "F_Name" {
		t.Errorf("patient mappings: %v / %v", p.Sources[0].Columns, p.Sources[1].Columns)
	}
	if _, err := os.Stat(cfg.ResolvePath(cfg.Sources.EMR[1].DSN)); err != nil {
		t.Errorf("the config's DSN does not point at the EMR: %v", err)
	}
}
