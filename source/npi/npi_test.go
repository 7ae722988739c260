package npi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rcmlake/rcmlake/internal/httpx"
	"github.com/rcmlake/rcmlake/internal/testenv"
)

func samplesDir(t testing.TB) string {
	return filepath.Join(testenv.SharedDir(t), "api-samples", "nppes_ropensci_npi")
}

// recorded is one result of the recorded answers, read generically so that expectations come
// from the samples, not from the parser under test.
type recorded struct {
	file string
	m    map[string]any
}

func (r recorded) str(path ...string) string {
	var v any = r.m
	for _, k := range path {
		mm, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = mm[k]
	}
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	}
	return fmt.Sprint(v)
}

func loadRecorded(t testing.TB) []recorded {
	files, _ := filepath.Glob(filepath.Join(samplesDir(t), "*.json"))
	sort.Strings(files)
	var out []recorded
	seen := map[string]bool{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(strings.NewReader(string(data)))
		dec.UseNumber()
		var doc struct{ Results []map[string]any }
		if err := dec.Decode(&doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, m := range doc.Results {
			r := recorded{filepath.Base(f), m}
			if n := r.str("number"); !seen[n] {
				seen[n] = true
				out = append(out, r)
			}
		}
	}
	if len(out) < 20 {
		t.Fatalf("only %d recorded results in %s", len(out), samplesDir(t))
	}
	return out
}

func checkAgainstRecorded(t *testing.T, p Provider, r recorded) {
	t.Helper()
	want := map[string]string{
		"npi": r.str("number"), "enumeration_type": r.str("enumeration_type"), "status": r.str("basic", "status"),
		"first_name": r.str("basic", "first_name"), "last_name": r.str("basic", "last_name"),
		"middle_name": r.str("basic", "middle_name"), "credential": r.str("basic", "credential"),
		"organization_name":   r.str("basic", "organization_name"),
		"official_first_name": r.str("basic", "authorized_official_first_name"),
		"official_last_name":  r.str("basic", "authorized_official_last_name"),
		"official_title":      r.str("basic", "authorized_official_title_or_position"),
		"enumeration_date":    r.str("basic", "enumeration_date"),
		"last_updated":        r.str("basic", "last_updated"),
	}
	// primary taxonomy and LOCATION address, found generically
	taxes, _ := r.m["taxonomies"].([]any)
	for i := len(taxes) - 1; i >= 0; i-- { // last so that the primary (or the first) wins
		tx := taxes[i].(map[string]any)
		if tx["primary"] == true || (i == 0 && want["taxonomy_code"] == "") {
			want["taxonomy_code"], want["taxonomy_desc"] = tx["code"].(string), tx["desc"].(string)
			want["taxonomy_license"] = tx["license"].(string)
		}
	}
	addrs, _ := r.m["addresses"].([]any)
	for _, a := range addrs {
		am := a.(map[string]any)
		if am["address_purpose"] == "LOCATION" {
			want["address_1"], want["city"], want["state"] = am["address_1"].(string), am["city"].(string), am["state"].(string)
			want["postal_code"] = am["postal_code"].(string)
			break
		}
	}
	got := map[string]string{}
	cols := p.Columns()
	vals := p.Values()
	if len(cols) != len(vals) {
		t.Fatalf("%d columns, %d values", len(cols), len(vals))
	}
	for i, c := range cols {
		switch v := vals[i].(type) {
		case nil:
		case string:
			got[c.Name] = v
		case time.Time:
			got[c.Name] = v.Format("2006-01-02")
		default:
			t.Fatalf("column %s: unexpected value type %T", c.Name, v)
		}
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("NPI %s (%s) %s = %q, want %q", r.str("number"), r.file, k, got[k], w)
		}
	}
	if p.Source != FromAPI || !json.Valid([]byte(p.Raw)) || !strings.Contains(p.Raw, r.str("number")) {
		t.Errorf("NPI %s: source %q, raw JSON not kept", p.NPI, p.Source)
	}
}

func TestRecordedNPIsAreValid(t *testing.T) {
	for _, r := range loadRecorded(t) {
		if err := Validate(r.str("number")); err != nil {
			t.Errorf("%s: %v", r.file, err)
		}
	}
}

func TestValidateRejects(t *testing.T) {
	good := loadRecorded(t)[0].str("number")
	bad := []string{"", "123", good[:9] + string('0'+(good[9]-'0'+1)%10), "12345678a3", " " + good[1:], good + "0"}
	for _, s := range bad {
		if err := Validate(s); !errors.Is(err, ErrInvalidNPI) {
			t.Errorf("Validate(%q) = %v, want ErrInvalidNPI", s, err)
		}
	}
}

func TestLookupEveryRecordedProvider(t *testing.T) {
	var calls atomic.Int32
	replay := NewReplayHandler(samplesDir(t))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.URL.Query().Get("version") != "2.1" {
			t.Errorf("request without version=2.1: %s", r.URL.RawQuery)
		}
		replay.ServeHTTP(w, r)
	}))
	defer srv.Close()
	c, err := New(Options{BaseURL: srv.URL + "/api/", RatePerSec: -1})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range loadRecorded(t) {
		p, err := c.Lookup(context.Background(), r.str("number"))
		if err != nil {
			t.Fatalf("%s: %v", r.file, err)
		}
		checkAgainstRecorded(t, p, r)
	}
	before := calls.Load()
	if _, err := c.Lookup(context.Background(), "1234567890"); !errors.Is(err, ErrInvalidNPI) {
		t.Errorf("invalid NPI: %v", err)
	}
	if calls.Load() != before {
		t.Error("an invalid NPI reached the server")
	}
	if _, err := c.Lookup(context.Background(), "1234567893"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown NPI: err = %v, want ErrNotFound", err)
	}
}

// serveFile answers every request with one recorded file, verbatim.
func serveFile(t *testing.T, name string) *httptest.Server {
	data, err := os.ReadFile(filepath.Join(samplesDir(t), name))
	if err != nil {
		t.Fatal(err)
	}
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(data) }))
}

func TestRecordedErrorBodies(t *testing.T) {
	for _, name := range []string{"api-8d2d52.json", "api-c85286.json"} {
		data, _ := os.ReadFile(filepath.Join(samplesDir(t), name))
		var want struct{ Errors []FieldError }
		if err := json.Unmarshal(data, &want); err != nil || len(want.Errors) == 0 {
			t.Fatalf("%s is not an error sample: %v", name, err)
		}
		srv := serveFile(t, name)
		c, _ := New(Options{BaseURL: srv.URL, RatePerSec: -1})
		_, err := c.Search(context.Background(), Query{EnumerationType: Individual}, func(Provider) error {
			t.Fatal("emit called on an error answer")
			return nil
		})
		srv.Close()
		var apiErr *APIError
		if !errors.As(err, &apiErr) || !reflect.DeepEqual(apiErr.Errors, want.Errors) {
			t.Fatalf("%s: err = %v, want the recorded Errors %+v", name, err, want.Errors)
		}
		if !strings.Contains(err.Error(), want.Errors[0].Description) {
			t.Errorf("error %q lacks the registry's message", err)
		}
	}
}

// The replay handler must refuse as the registry does, byte-for-byte in meaning.
func TestReplayHandlerErrorsMatchRecorded(t *testing.T) {
	h := NewReplayHandler(samplesDir(t))
	for query, file := range map[string]string{"version=2.1": "api-8d2d52.json", "version=2.1&enumeration_type=NPI-1": "api-c85286.json"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/?"+query, nil))
		want, _ := os.ReadFile(filepath.Join(samplesDir(t), file))
		var a, b any
		json.Unmarshal(rec.Body.Bytes(), &a)
		json.Unmarshal(want, &b)
		if !reflect.DeepEqual(a, b) {
			t.Errorf("?%s: got %s, want %s", query, rec.Body, want)
		}
	}
}

func TestZeroResults(t *testing.T) {
	srv := serveFile(t, "api-a2f836.json")
	defer srv.Close()
	c, _ := New(Options{BaseURL: srv.URL, RatePerSec: -1})
	st, err := c.Search(context.Background(), Query{City: "Nowhere"}, func(Provider) error { return nil })
	if err != nil || st.Results != 0 || st.Pages != 1 || st.Capped {
		t.Fatalf("stats %+v err %v, want one empty page", st, err)
	}
	if _, err := c.Lookup(context.Background(), loadRecorded(t)[0].str("number")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("lookup on a zero answer: %v", err)
	}
}

// The recorded 200-limit page says result_count 200 but holds 2 results: paging must trust the
// results, not the count, and stop.
func TestShortPageDespiteResultCount(t *testing.T) {
	var calls atomic.Int32
	data, _ := os.ReadFile(filepath.Join(samplesDir(t), "api-a769af.json"))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Write(data)
	}))
	defer srv.Close()
	var doc struct {
		ResultCount int `json:"result_count"`
		Results     []json.RawMessage
	}
	json.Unmarshal(data, &doc)
	c, _ := New(Options{BaseURL: srv.URL, RatePerSec: -1})
	n := 0
	st, err := c.Search(context.Background(), Query{State: "GA"}, func(Provider) error { n++; return nil })
	if err != nil || n != len(doc.Results) || calls.Load() != 1 || st.Capped {
		t.Fatalf("got %d providers in %d calls (%+v, %v); want the %d results in one call (result_count says %d)",
			n, calls.Load(), st, err, len(doc.Results), doc.ResultCount)
	}
}

func TestSearchPagesThroughEverything(t *testing.T) {
	rec := loadRecorded(t)
	var mu sync.Mutex
	var skips []string
	replay := NewReplayHandler(samplesDir(t))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		skips = append(skips, r.URL.Query().Get("skip"))
		mu.Unlock()
		replay.ServeHTTP(w, r)
	}))
	defer srv.Close()
	c, _ := New(Options{BaseURL: srv.URL, RatePerSec: -1})
	// every recorded provider has a number starting with 1: a wildcard-free criterion that the
	// replay applies per field; search by country instead, which all recorded addresses share.
	var got []string
	st, err := c.Search(context.Background(), Query{CountryCode: "US", PageSize: 7}, func(p Provider) error {
		got = append(got, p.NPI)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, r := range rec {
		if strings.EqualFold(locationCountry(r), "US") {
			want = append(want, r.str("number"))
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("paged search returned %d NPIs, want the %d recorded US ones in order", len(got), len(want))
	}
	if wantPages := len(want)/7 + 1; st.Pages != wantPages || len(skips) != wantPages {
		t.Errorf("%d pages (skips %v), want %d", st.Pages, skips, wantPages)
	}
	if skips[0] != "" || skips[1] != "7" {
		t.Errorf("skips %v, want none then 7", skips)
	}
	// MaxResults stops early
	n := 0
	st, err = c.Search(context.Background(), Query{CountryCode: "US", PageSize: 7, MaxResults: 10}, func(Provider) error { n++; return nil })
	if err != nil || n != 10 || st.Pages != 2 {
		t.Errorf("MaxResults 10: %d results in %d pages, %v", n, st.Pages, err)
	}
}

func locationCountry(r recorded) string {
	addrs, _ := r.m["addresses"].([]any)
	for _, a := range addrs {
		if am := a.(map[string]any); am["address_purpose"] == "LOCATION" {
			return am["country_code"].(string)
		}
	}
	return ""
}

// A server that always has a full page: the client must stop at the registry's skip bound.
func TestSearchStopsAtSkipBound(t *testing.T) {
	rec := loadRecorded(t)
	var maxSkip atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		var skip, limit int
		fmt.Sscan(q.Get("skip"), &skip)
		fmt.Sscan(q.Get("limit"), &limit)
		if skip > MaxSkip || limit > MaxLimit {
			writeJSON(w, map[string][]FieldError{"Errors": {{Field: "skip", Number: "12", Description: "out of range"}}})
			return
		}
		if int32(skip) > maxSkip.Load() {
			maxSkip.Store(int32(skip))
		}
		results := make([]map[string]any, limit)
		for i := range results {
			results[i] = rec[(skip+i)%len(rec)].m
		}
		writeJSON(w, map[string]any{"result_count": limit, "results": results})
	}))
	defer srv.Close()
	c, _ := New(Options{BaseURL: srv.URL, RatePerSec: -1})
	n := 0
	st, err := c.Search(context.Background(), Query{State: "GA"}, func(Provider) error { n++; return nil })
	if err != nil {
		t.Fatal(err)
	}
	if !st.Capped || n != MaxSkip+MaxLimit || st.Pages != MaxSkip/MaxLimit+1 || maxSkip.Load() != MaxSkip {
		t.Fatalf("stats %+v, %d results, max skip %d; want capped at %d results", st, n, maxSkip.Load(), MaxSkip+MaxLimit)
	}
}

func TestRetryOn429And5xx(t *testing.T) {
	var calls atomic.Int32
	replay := NewReplayHandler(samplesDir(t))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch calls.Add(1) {
		case 1:
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusTooManyRequests)
		case 2:
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			replay.ServeHTTP(w, r)
		}
	}))
	defer srv.Close()
	hc := httpx.New(httpx.Options{Sleep: func(ctx context.Context, d time.Duration) error { return ctx.Err() }})
	c, _ := New(Options{BaseURL: srv.URL, HTTP: hc})
	r := loadRecorded(t)[3]
	p, err := c.Lookup(context.Background(), r.str("number"))
	if err != nil {
		t.Fatal(err)
	}
	checkAgainstRecorded(t, p, r)
	if calls.Load() != 3 {
		t.Errorf("%d calls, want 3", calls.Load())
	}
}

func TestLookupAllConcurrentBounded(t *testing.T) {
	rec := loadRecorded(t)
	var inFlight, peak atomic.Int32
	replay := NewReplayHandler(samplesDir(t))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(2 * time.Millisecond)
		replay.ServeHTTP(w, r)
	}))
	defer srv.Close()
	c, _ := New(Options{BaseURL: srv.URL, Workers: 3, RatePerSec: -1})
	var numbers []string
	for _, r := range rec {
		numbers = append(numbers, r.str("number"), r.str("number")) // duplicates are looked up once
	}
	numbers = append(numbers, "1234567890", "1234567893")
	got := map[string]LookupResult{}
	err := c.LookupAll(context.Background(), numbers, func(r LookupResult) error {
		if _, dup := got[r.NPI]; dup {
			t.Errorf("NPI %s emitted twice", r.NPI)
		}
		got[r.NPI] = r
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(rec)+2 {
		t.Fatalf("%d results, want %d", len(got), len(rec)+2)
	}
	for _, r := range rec {
		if res := got[r.str("number")]; res.Err != nil || res.Provider.NPI != r.str("number") {
			t.Errorf("NPI %s: %+v", r.str("number"), res)
		}
	}
	if !errors.Is(got["1234567890"].Err, ErrInvalidNPI) || !errors.Is(got["1234567893"].Err, ErrNotFound) {
		t.Errorf("invalid/unknown: %v / %v", got["1234567890"].Err, got["1234567893"].Err)
	}
	if peak.Load() > 3 {
		t.Errorf("%d requests in flight, want at most 3 workers", peak.Load())
	}
}

func TestLookupAllStopsOnEmitError(t *testing.T) {
	c, _ := New(Options{BaseURL: "file://" + samplesDir(t)})
	stop := errors.New("disk full")
	var numbers []string
	for _, r := range loadRecorded(t) {
		numbers = append(numbers, r.str("number"))
	}
	if err := c.LookupAll(context.Background(), numbers, func(LookupResult) error { return stop }); !errors.Is(err, stop) {
		t.Fatalf("err = %v, want emit's error", err)
	}
}

func TestLookupAllCancelledIsAnError(t *testing.T) {
	c, _ := New(Options{BaseURL: "file://" + samplesDir(t), Workers: 1})
	var numbers []string
	for _, r := range loadRecorded(t) {
		numbers = append(numbers, r.str("number"))
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n := 0
	err := c.LookupAll(ctx, numbers, func(LookupResult) error { n++; cancel(); return nil })
	if !errors.Is(err, context.Canceled) || n >= len(numbers) {
		t.Fatalf("err = %v after %d of %d, want context.Canceled", err, n, len(numbers))
	}
}
