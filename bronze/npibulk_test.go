package bronze

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/rcmlake/rcmlake/config"
	"github.com/rcmlake/rcmlake/source/npi"
	"github.com/rcmlake/rcmlake/synth"
)

// TestLoadNPIFromBulk: with sources.apis.npi kind bulk, the NPPES dissemination file (CSV or
// the monthly ZIP) replaces the API. Scope providers keeps exactly the providers' NPIs that the
// API path lands; an NPI the file lacks and a malformed row are rejects with reasons; a file row
// outside the providers is left out, and scope all keeps it.
func TestLoadNPIFromBulk(t *testing.T) {
	w := newWorld(t, 1)
	ctx := context.Background()
	if _, err := w.in.Run(ctx, Options{RunID: "r1"}); err != nil {
		t.Fatal(err)
	}
	api := w.in.LoadNPI(ctx, Options{RunID: "r1"})
	if api.Status != "success" || api.RowsRejected != 0 {
		t.Fatalf("API load: %+v", api)
	}
	apiNPIs := w.npis(t, api.Files)

	// The generated file, less its first provider, plus a stranger and a broken row.
	data, err := os.ReadFile(filepath.Join(w.dir, synth.NPPESFile))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(strings.TrimRight(string(data), "\r\n")+"\r\n", "\r\n")
	header, first, rest := lines[0], lines[1], lines[2:]
	gone := strings.Trim(strings.SplitN(first, ",", 2)[0], `"`)
	var stranger bytes.Buffer
	if err := npi.WriteBulk(&stranger, []npi.Provider{{NPI: validNPI(t, "123450000"), EnumerationType: npi.Individual, FirstName: "Zoë", LastName: "Outsider"}}); err != nil {
		t.Fatal(err)
	}
	strangerRow := strings.SplitAfterN(stranger.String(), "\r\n", 2)[1]
	body := header + strings.Join(rest, "") + strangerRow + "\"1\",\"too few fields\"\r\n"
	csvPath := filepath.Join(w.dir, "ref", "npidata_pfile_20250101-20250107.csv")
	if err := os.WriteFile(csvPath, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	zipPath := filepath.Join(w.dir, "ref", "NPPES_Data_Dissemination_January_2025.zip")
	writeZip(t, zipPath, map[string]string{
		"npidata_pfile_20250101-20250107_fileheader.csv": header,
		"npidata_pfile_20250101-20250107.csv":            body,
		"othername_pfile_20250101-20250107.csv":          header,
	})

	want := without(apiNPIs, gone)
	for i, tc := range []struct {
		root, scope string
		npis        []string
		rejects     int64
	}{
		{csvPath, "", want, 2},
		{zipPath, "providers", want, 2},
		{zipPath, "all", append(append([]string{}, want...), validNPI(t, "123450000")), 1},
	} {
		a := *w.cfg.Sources.APIs.NPI
		a.Kind, a.Root, a.Scope = "bulk", tc.root, tc.scope
		w.in.Config.Sources.APIs.NPI = &a
		// A run's reference load is committed once: each case is its own run.
		l := w.in.LoadNPI(ctx, Options{RunID: fmt.Sprintf("bulk-%d", i)})
		if l.Status != "success" || l.RowsRejected != tc.rejects || l.NumberOfRowsCopied != int64(len(tc.npis)) ||
			l.RowsRead != l.NumberOfRowsCopied+l.RowsRejected {
			t.Fatalf("%s scope %q: %+v", filepath.Base(tc.root), tc.scope, l)
		}
		sort.Strings(tc.npis)
		if got := w.npis(t, l.Files); strings.Join(got, ",") != strings.Join(tc.npis, ",") {
			t.Errorf("%s scope %q: NPIs %v, want %v", filepath.Base(tc.root), tc.scope, got, tc.npis)
		}
	}
	bad := *w.cfg
	bad.Sources.APIs.NPI = &config.API{Kind: "bulk", Scope: "some"}
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "kind bulk needs root") || !strings.Contains(err.Error(), `scope "some"`) {
		t.Errorf("bulk without root, with a bad scope: %v", err)
	}
}

func (w *world) npis(t *testing.T, files []string) []string {
	t.Helper()
	var out []string
	for _, r := range w.bronzeRows(t, files) {
		for _, kv := range strings.Split(r, "|") {
			if v, ok := strings.CutPrefix(kv, "npi="); ok {
				out = append(out, v)
			}
		}
	}
	sort.Strings(out)
	return out
}

func without(xs []string, drop string) []string {
	var out []string
	for _, x := range xs {
		if x != drop {
			out = append(out, x)
		}
	}
	return out
}

// validNPI completes nine digits with their check digit.
func validNPI(t *testing.T, nine string) string {
	t.Helper()
	for d := '0'; d <= '9'; d++ {
		if npi.Validate(nine+string(d)) == nil {
			return nine + string(d)
		}
	}
	t.Fatalf("no check digit for %s", nine)
	return ""
}

func writeZip(t *testing.T, path string, files map[string]string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	z := zip.NewWriter(f)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names) // the _fileheader twin first: the importer must skip it by name
	for _, n := range names {
		e, err := z.Create(n)
		if err == nil {
			_, err = e.Write([]byte(files[n]))
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
