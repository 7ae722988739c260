package npi

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/rcmlake/rcmlake/config"
)

// The offline path end to end: fixtures written from providers are served through a file://
// base URL and come back as the same providers.
func TestOfflineFixturesThroughConfig(t *testing.T) {
	api := apiProviders(t)
	var in []Provider
	for _, p := range api {
		in = append(in, p)
	}
	sort.Slice(in, func(i, j int) bool { return in[i].NPI < in[j].NPI })
	dir := t.TempDir()
	if err := WriteFixtures(dir, in); err != nil {
		t.Fatal(err)
	}
	c, err := NewFromConfig(&config.API{BaseURL: "file://" + dir, Workers: 2, Timeout: "5s"})
	if err != nil {
		t.Fatal(err)
	}
	var numbers []string
	for _, p := range in {
		numbers = append(numbers, p.NPI)
	}
	got := map[string]Provider{}
	if err := c.LookupAll(context.Background(), append(numbers, "1234567893"), func(r LookupResult) error {
		if r.Err == nil {
			got[r.NPI] = r.Provider
		} else if !errors.Is(r.Err, ErrNotFound) {
			t.Errorf("%s: %v", r.NPI, r.Err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(in) {
		t.Fatalf("%d of %d providers came back", len(got), len(in))
	}
	for _, want := range in {
		p := got[want.NPI]
		if p.Raw == "" {
			t.Errorf("%s: no raw JSON", p.NPI)
		}
		if comparable(p) != comparable(want) || p.TaxonomyDesc != want.TaxonomyDesc {
			t.Errorf("NPI %s:\n got  %+v\n want %+v", want.NPI, comparable(p), comparable(want))
		}
	}
	// a search over the fixtures, by state, with paging
	wantGA := 0
	for _, p := range in {
		if p.State == "GA" {
			wantGA++
		}
	}
	n := 0
	st, err := c.Search(context.Background(), Query{State: "ga", PageSize: 5}, func(p Provider) error {
		if p.State != "GA" {
			t.Errorf("search state=ga returned %s in %s", p.NPI, p.State)
		}
		n++
		return nil
	})
	if err != nil || n != wantGA || wantGA == 0 {
		t.Fatalf("search: %d results (%+v, %v), want %d", n, st, err, wantGA)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(files) != len(in) {
		t.Errorf("%d fixture files for %d providers", len(files), len(in))
	}
	if err := WriteFixtures(dir, []Provider{{NPI: "1234567890", LastName: "X"}}); !errors.Is(err, ErrInvalidNPI) {
		t.Errorf("fixture with an invalid NPI: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "1234567890.json")); err == nil {
		t.Error("invalid fixture written")
	}
	if _, err := NewFromConfig(&config.API{BaseURL: "ftp://x"}); err == nil {
		t.Error("ftp base URL accepted")
	}
}
