package icd

import (
	"context"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rcmlake/rcmlake/config"
)

func TestFromConfigEveryKind(t *testing.T) {
	count := func(s Source) (int, error) {
		n := 0
		err := s.Stream(context.Background(), func(Code) error { n++; return nil })
		return n, err
	}
	// cms-file: the sample order file
	path := filepath.Join(icdSamples(t), "cms_icd10cm_order_sample_FY2026.txt")
	s, err := FromConfig(&config.API{Kind: "cms-file", Root: "relative/ignored.txt", Release: "2026"}, Resolved{Root: path})
	if err != nil {
		t.Fatal(err)
	}
	n, err := count(s)
	lines := strings.Count(strings.TrimSpace(string(orderSample(t))), "\n") + 1
	if err != nil || n != lines {
		t.Fatalf("cms-file: %d codes (%v), want %d", n, err, lines)
	}
	// who: the fake WHO server, credentials resolved by the caller
	f := newWHOFake(t)
	srv := httptest.NewServer(f)
	defer srv.Close()
	s, err = FromConfig(&config.API{Kind: "who", BaseURL: srv.URL, TokenURL: srv.URL + "/connect/token",
		ClientID: "${secret:who_id}", ClientSecret: "${secret:who_secret}", Root: "http://id.who.int/icd/release/10/2019/A00", Timeout: "5s"},
		Resolved{ClientID: "test-id", ClientSecret: "test-secret"})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := count(s); err != nil || n != 1+len(f.recorded("/icd/release/10/2019/A00").Child) {
		t.Fatalf("who: %d codes, %v", n, err)
	}
	// nlm
	var seen []url.Values
	nsrv := nlmServer(t, 500, &seen)
	defer nsrv.Close()
	s, err = FromConfig(&config.API{Kind: "nlm", BaseURL: nsrv.URL, Root: "A15"}, Resolved{})
	if err != nil {
		t.Fatal(err)
	}
	page, _ := ParseNLM(nlmExamples(t)["A15"])
	if n, err := count(s); err != nil || n != len(page.Codes) {
		t.Fatalf("nlm: %d codes, %v", n, err)
	}
	// refusals
	for _, a := range []*config.API{
		{Kind: "who"},                          // no credentials
		{Kind: "nlm"},                          // no terms
		{Kind: "cms-file"},                     // no path
		{Kind: "ftp"},                          // unknown kind
		{Kind: "who", Timeout: "soon"},         // bad timeout
		{Enabled: new(bool), Kind: "cms-file"}, // disabled
	} {
		if _, err := FromConfig(a, Resolved{}); err == nil {
			t.Errorf("FromConfig(%+v) accepted", a)
		}
	}
	// cms-file errors name the file and line
	s, _ = FromConfig(&config.API{Kind: "cms-file", Root: filepath.Join(t.TempDir(), "missing.txt")}, Resolved{})
	if _, err := count(s); err == nil || !strings.Contains(err.Error(), "missing.txt") {
		t.Errorf("missing file: %v", err)
	}
}
