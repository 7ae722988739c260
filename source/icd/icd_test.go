package icd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rcmlake/rcmlake/internal/httpx"
	"github.com/rcmlake/rcmlake/internal/testenv"
)

func icdSamples(t testing.TB) string {
	return filepath.Join(testenv.SharedDir(t), "api-samples", "icd")
}

func orderSample(t testing.TB) []byte {
	data, err := os.ReadFile(filepath.Join(icdSamples(t), "cms_icd10cm_order_sample_FY2026.txt"))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func noSleep(ctx context.Context, d time.Duration) error { return ctx.Err() }

// ---- CMS order file ----

func TestReadOrderFileSample(t *testing.T) {
	data := orderSample(t)
	lines := strings.Split(strings.TrimRight(string(data), "\r\n"), "\n")
	var got []Code
	st, err := ReadOrderFile(context.Background(), "sample.txt", bytes.NewReader(data), OrderOptions{Release: "2026"}, func(c Code) error {
		got = append(got, c)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if st.Codes != len(lines) || len(got) != len(lines) {
		t.Fatalf("%d codes for %d lines", len(got), len(lines))
	}
	billable := 0
	for i, line := range lines {
		f := strings.Fields(line)
		c := got[i]
		order, _ := strconv.ParseInt(f[0], 10, 64)
		if c.Order != order || NoDot(c.Code) != f[1] || (*c.Billable) != (f[2] == "1") {
			t.Errorf("line %d %q: got order %d code %s billable %v", i+1, line, c.Order, c.Code, *c.Billable)
		}
		if f[2] == "1" {
			billable++
		}
		if !strings.HasSuffix(line, c.Title) || !strings.HasPrefix(line[16:], c.ShortTitle) || c.Title == "" {
			t.Errorf("line %d: title %q short %q", i+1, c.Title, c.ShortTitle)
		}
		if c.System != ICD10CM || c.Source != FromCMS || c.Release != "2026" {
			t.Errorf("line %d: %+v", i+1, c)
		}
		if len(f[1]) > 3 && c.Code != f[1][:3]+"."+f[1][3:] {
			t.Errorf("line %d: dotted code %q", i+1, c.Code)
		}
	}
	if st.Billable != billable {
		t.Errorf("billable %d, want %d", st.Billable, billable)
	}
	// parents: a code under a header that prefixes it
	for i, c := range got {
		for j := i - 1; j >= 0; j-- {
			if p := NoDot(got[j].Code); strings.HasPrefix(NoDot(c.Code), p) && p != NoDot(c.Code) {
				if c.Parent != got[j].Code {
					t.Errorf("%s: parent %q, want %q", c.Code, c.Parent, got[j].Code)
				}
				break
			}
			if j == 0 && c.Parent != "" {
				t.Errorf("%s: parent %q, want none", c.Code, c.Parent)
			}
		}
	}
}

func TestWriteOrderFileReproducesSample(t *testing.T) {
	data := orderSample(t)
	var codes []Code
	if _, err := ReadOrderFile(context.Background(), "s", bytes.NewReader(data), OrderOptions{}, func(c Code) error {
		codes = append(codes, c)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteOrderFile(&buf, codes); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.ReplaceAll(buf.String(), "\r\n", "\n"), string(data); strings.TrimRight(got, "\n") != strings.TrimRight(want, "\r\n") {
		t.Fatalf("written file differs from the CMS lines:\n%s\nwant\n%s", got, want)
	}
}

func TestOrderFileRejects(t *testing.T) {
	sample := strings.Split(strings.TrimSpace(string(orderSample(t))), "\n")
	bad := []string{
		sample[0],
		"garbage",
		strings.Replace(sample[1], " 1 ", " 7 ", 1), // flag
		"ABCDE" + sample[2][5:],                     // order number
		"\r",
		sample[3] + "\r",
	}
	var rejected []int
	var n int
	st, err := ReadOrderFile(context.Background(), "f", strings.NewReader(strings.Join(bad, "\n")),
		OrderOptions{Reject: func(line int, reason string) error { rejected = append(rejected, line); return nil }},
		func(Code) error { n++; return nil })
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 || st.Rejected != 3 || fmt.Sprint(rejected) != "[2 3 4]" {
		t.Fatalf("%d codes, rejected lines %v", n, rejected)
	}
	_, err = ReadOrderFile(context.Background(), "icd10cm-order-2026.txt", strings.NewReader(strings.Join(bad, "\n")), OrderOptions{}, func(Code) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "icd10cm-order-2026.txt line 2") {
		t.Fatalf("err = %v", err)
	}
}

func TestCodeFlatView(t *testing.T) {
	c, err := ParseOrderLine(strings.Split(string(orderSample(t)), "\n")[1])
	if err != nil {
		t.Fatal(err)
	}
	vals := c.Values()
	cols := c.Columns()
	if len(vals) != len(cols) {
		t.Fatal("misaligned")
	}
	m := map[string]any{}
	for i, col := range cols {
		m[col.Name] = vals[i]
	}
	if m["code_nodot"] != NoDot(c.Code) || m["billable"] != *c.Billable || m["order_no"] != c.Order || m["uri"] != nil {
		t.Errorf("flat view %v", m)
	}
	if (Code{Code: "A15.0"}).Values()[5] != nil {
		t.Error("unknown billable must be NULL")
	}
}

// ---- NLM Clinical Tables ----

// nlmExamples reads the documented query/answer pairs: a GET line, then the JSON answer.
func nlmExamples(t testing.TB) map[string][]byte {
	data, err := os.ReadFile(filepath.Join(icdSamples(t), "clinicaltables_icd10cm_doc_examples.txt"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	var terms string
	var body strings.Builder
	flush := func() {
		if terms != "" {
			out[terms] = []byte(body.String())
		}
		body.Reset()
	}
	for _, line := range strings.Split(string(data), "\n") {
		switch {
		case strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "GET "):
			flush()
			u, err := url.Parse(strings.TrimPrefix(line, "GET "))
			if err != nil {
				t.Fatal(err)
			}
			terms = u.Query().Get("terms")
		default:
			body.WriteString(line + "\n")
		}
	}
	flush()
	if len(out) < 2 {
		t.Fatalf("only %d NLM examples", len(out))
	}
	return out
}

func TestParseNLMExamples(t *testing.T) {
	for terms, body := range nlmExamples(t) {
		var raw []any
		if err := json.Unmarshal(body, &raw); err != nil {
			t.Fatalf("%s: %v", terms, err)
		}
		page, err := ParseNLM(body)
		if err != nil {
			t.Fatalf("%s: %v", terms, err)
		}
		if page.Total != int(raw[0].(float64)) || len(page.Codes) != len(raw[1].([]any)) {
			t.Errorf("%s: total %d codes %d", terms, page.Total, len(page.Codes))
		}
		for i, row := range raw[3].([]any) {
			r := row.([]any)
			if c := page.Codes[i]; c.Code != r[0] || c.Title != r[1] || c.Billable != nil || c.System != ICD10CM {
				t.Errorf("%s row %d: %+v, want %v", terms, i, c, r)
			}
		}
	}
	for _, bad := range []string{`{}`, `[1,["A"],null]`, `[1,["A","B"],null,[["A","x"]]]`, `[0,["A"],null,[["A","x"]]]`} {
		if _, err := ParseNLM([]byte(bad)); err == nil {
			t.Errorf("ParseNLM(%s) accepted", bad)
		}
	}
}

// nlmServer pages the documented answers as the API does: count and offset over the codes of
// the example whose terms match, at most pageCap codes a page.
func nlmServer(t *testing.T, pageCap int, seen *[]url.Values) *httptest.Server {
	ex := nlmExamples(t)
	var mu sync.Mutex
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		mu.Lock()
		*seen = append(*seen, q)
		mu.Unlock()
		var codes []string
		var display [][]string
		if body, ok := ex[q.Get("terms")]; ok {
			var raw []json.RawMessage
			json.Unmarshal(body, &raw)
			json.Unmarshal(raw[1], &codes)
			json.Unmarshal(raw[3], &display)
		} else if q.Get("sf") == "code" { // a code search: prefix match over every documented row
			seenCode := map[string]bool{}
			for _, body := range ex {
				var raw []json.RawMessage
				var rows [][]string
				json.Unmarshal(body, &raw)
				json.Unmarshal(raw[3], &rows)
				for _, r := range rows {
					if strings.HasPrefix(strings.ToUpper(r[0]), strings.ToUpper(q.Get("terms"))) && !seenCode[r[0]] {
						seenCode[r[0]] = true
						codes = append(codes, r[0])
						display = append(display, r)
					}
				}
			}
		}
		if codes == nil {
			codes, display = []string{}, [][]string{}
		}
		count, _ := strconv.Atoi(q.Get("count"))
		offset, _ := strconv.Atoi(q.Get("offset"))
		if count > NLMMaxCount || offset+count > NLMMaxWindow {
			http.Error(w, "count/offset out of range", http.StatusBadRequest)
			return
		}
		count = min(count, pageCap)
		end := min(len(codes), offset+count)
		if offset > end {
			offset = end
		}
		// total: the codes we hold (the documented total counts matches beyond the sample)
		out, _ := json.Marshal([]any{len(codes), codes[offset:end], nil, display[offset:end]})
		w.Write(out)
	}))
}

func TestNLMSearchPages(t *testing.T) {
	var seen []url.Values
	srv := nlmServer(t, 3, &seen)
	defer srv.Close()
	n, _ := NewNLM(NLMOptions{BaseURL: srv.URL + "/api/icd10cm/v3/search", RatePerSec: -1})
	ex := nlmExamples(t)
	var want []Code
	page, _ := ParseNLM(ex["tuberc"])
	want = page.Codes
	var got []Code
	st, err := n.Search(context.Background(), "tuberc", 0, func(c Code) error { got = append(got, c); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) || st.Pages != (len(want)+2)/3 {
		t.Fatalf("got %d codes in %d pages, want %v", len(got), st.Pages, want)
	}
	if q := seen[0]; q.Get("sf") != "code,name" || q.Get("df") != "code,name" || q.Get("offset") != "0" {
		t.Errorf("first query %v", q)
	}
	if seen[1].Get("offset") != "3" {
		t.Errorf("second page offset %q, want 3", seen[1].Get("offset"))
	}
	// max stops early
	got = nil
	st, err = n.Search(context.Background(), "A15", 2, func(c Code) error { got = append(got, c); return nil })
	if err != nil || len(got) != 2 || st.Pages != 1 {
		t.Fatalf("max 2: %d codes in %d pages, %v", len(got), st.Pages, err)
	}
}

// ---- WHO ICD-API ----

type whoFake struct {
	t          *testing.T
	entities   map[string][]byte // path -> recorded entity JSON
	parentOf   map[string]string // child path -> parent id, for synthesized leaves
	tokenCalls atomic.Int32
	entityHits atomic.Int32
	ttl        int
	mu         sync.Mutex
	valid      map[string]bool
	inFlight   atomic.Int32
	peak       atomic.Int32
	failFirst  atomic.Int32 // answer this many entity requests with 503 first
}

func newWHOFake(t *testing.T) *whoFake {
	data, err := os.ReadFile(filepath.Join(icdSamples(t), "who_icd10_release_2019_responses_from_codigo_docs.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	f := &whoFake{t: t, entities: map[string][]byte{}, parentOf: map[string]string{}, ttl: 3600, valid: map[string]bool{}}
	for k, v := range doc {
		if !strings.HasPrefix(k, "GET ") {
			continue
		}
		u, _ := url.Parse(strings.TrimPrefix(k, "GET "))
		f.entities[u.Path] = v
		var e struct {
			ID    string `json:"@id"`
			Child []string
		}
		json.Unmarshal(v, &e)
		for _, c := range e.Child {
			cu, _ := url.Parse(c)
			f.parentOf[cu.Path] = e.ID
		}
	}
	return f
}

func (f *whoFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/connect/token" {
		f.tokenCalls.Add(1)
		r.ParseForm()
		if r.Method != http.MethodPost || r.PostForm.Get("grant_type") != "client_credentials" || r.PostForm.Get("scope") != "icdapi_access" {
			http.Error(w, `{"error":"unsupported_grant_type"}`, http.StatusBadRequest)
			return
		}
		if r.PostForm.Get("client_id") != "test-id" || r.PostForm.Get("client_secret") != "test-secret" {
			http.Error(w, `{"error":"invalid_client"}`, http.StatusBadRequest)
			return
		}
		tok := fmt.Sprintf("tok-%d", f.tokenCalls.Load())
		f.mu.Lock()
		f.valid[tok] = true
		f.mu.Unlock()
		fmt.Fprintf(w, `{"access_token":%q,"expires_in":%d,"token_type":"Bearer","scope":"icdapi_access"}`, tok, f.ttl)
		return
	}
	n := f.inFlight.Add(1)
	defer f.inFlight.Add(-1)
	for p := f.peak.Load(); n > p && !f.peak.CompareAndSwap(p, n); p = f.peak.Load() {
	}
	tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	f.mu.Lock()
	ok := f.valid[tok]
	f.mu.Unlock()
	if !ok {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if r.Header.Get("API-Version") != "v2" || r.Header.Get("Accept-Language") != "en" {
		f.t.Errorf("request without API-Version v2 / Accept-Language en: %v", r.Header)
	}
	if f.failFirst.Add(-1) >= 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	f.entityHits.Add(1)
	time.Sleep(time.Millisecond)
	if body, ok := f.entities[r.URL.Path]; ok {
		w.Write(body)
		return
	}
	if parent, ok := f.parentOf[r.URL.Path]; ok { // a leaf the samples do not hold
		code := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
		fmt.Fprintf(w, `{"@id":"http://id.who.int%s","parent":[%q],"code":%q,"title":{"@language":"en","@value":"leaf %s"},"classKind":"category"}`,
			r.URL.Path, parent, code, code)
		return
	}
	http.NotFound(w, r)
}

func (f *whoFake) revokeAll() {
	f.mu.Lock()
	f.valid = map[string]bool{}
	f.mu.Unlock()
}

func newWHOClient(t *testing.T, srv *httptest.Server, now func() time.Time) *WHO {
	w, err := NewWHO(WHOOptions{BaseURL: srv.URL, TokenURL: srv.URL + "/connect/token", ClientID: "test-id", ClientSecret: "test-secret",
		Workers: 3, Now: now, HTTP: httpx.New(httpx.Options{Sleep: noSleep})})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

type recordedEntity struct {
	ID        string `json:"@id"`
	Code      string
	ClassKind string
	Parent    []string
	Child     []string
	Title     struct {
		Value string `json:"@value"`
	}
}

func (f *whoFake) recorded(path string) recordedEntity {
	var e recordedEntity
	if err := json.Unmarshal(f.entities[path], &e); err != nil {
		f.t.Fatal(err)
	}
	return e
}

func TestWHOEntityMatchesRecorded(t *testing.T) {
	f := newWHOFake(t)
	srv := httptest.NewServer(f)
	defer srv.Close()
	w := newWHOClient(t, srv, nil)
	for path := range f.entities {
		e, err := w.Entity(context.Background(), "http://id.who.int"+path)
		if err != nil {
			t.Fatal(err)
		}
		want := f.recorded(path)
		if e.ID != want.ID || e.Code != want.Code || e.Title != want.Title.Value || len(e.Child) != len(want.Child) || e.ClassKind != want.ClassKind {
			t.Errorf("%s: %+v, want %+v", path, e, want)
		}
	}
	if f.tokenCalls.Load() != 1 {
		t.Errorf("%d token requests, want 1 (cached)", f.tokenCalls.Load())
	}
}

func TestWHOWalkBlock(t *testing.T) {
	f := newWHOFake(t)
	srv := httptest.NewServer(f)
	defer srv.Close()
	w := newWHOClient(t, srv, nil)
	const blockPath = "/icd/release/10/2019/A00-A09"
	block := f.recorded(blockPath)
	a00 := f.recorded("/icd/release/10/2019/A00")
	got := map[string]Code{}
	st, err := w.Walk(context.Background(), "http://id.who.int"+blockPath, func(c Code) error {
		if _, dup := got[c.Code]; dup {
			t.Errorf("%s emitted twice", c.Code)
		}
		got[c.Code] = c
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	wantN := 1 + len(block.Child) + len(a00.Child)
	if st.Entities != wantN || len(got) != wantN || st.Leaves != len(block.Child)-1+len(a00.Child) {
		t.Fatalf("walk: %+v, %d codes; want %d entities", st, len(got), wantN)
	}
	b := got[block.Code]
	if b.Title != block.Title.Value || b.Kind != block.ClassKind || *b.Billable || b.Parent != "I" || b.System != ICD10 || b.Release != "2019" || b.URI != block.ID {
		t.Errorf("block %+v", b)
	}
	c := got[a00.Code]
	if c.Title != a00.Title.Value || c.Parent != block.Code || *c.Billable || c.Kind != a00.ClassKind {
		t.Errorf("A00 %+v", c)
	}
	for _, ch := range a00.Child {
		code := ch[strings.LastIndex(ch, "/")+1:]
		if l, ok := got[code]; !ok || !*l.Billable || l.Parent != a00.Code {
			t.Errorf("leaf %s: %+v", code, l)
		}
	}
	if f.peak.Load() > 3 {
		t.Errorf("%d entity requests in flight, want at most 3 workers", f.peak.Load())
	}
	if f.tokenCalls.Load() != 1 {
		t.Errorf("%d token requests during one walk, want 1", f.tokenCalls.Load())
	}
}

func TestWHOWalkRetriesAndFailsOnMissing(t *testing.T) {
	f := newWHOFake(t)
	f.failFirst.Store(2)
	srv := httptest.NewServer(f)
	defer srv.Close()
	w := newWHOClient(t, srv, nil)
	n := 0
	if _, err := w.Walk(context.Background(), "icd/release/10/2019/A00", func(Code) error { n++; return nil }); err != nil {
		t.Fatalf("walk after two 503s: %v", err)
	}
	if want := 1 + len(f.recorded("/icd/release/10/2019/A00").Child); n != want {
		t.Errorf("%d codes, want %d", n, want)
	}
	_, err := w.Walk(context.Background(), "icd/release/10/2019/Z99", func(Code) error { return nil })
	var se *httpx.StatusError
	if !errors.As(err, &se) || se.Status != http.StatusNotFound || !strings.Contains(err.Error(), "Z99") {
		t.Fatalf("missing root: %v", err)
	}
}

func TestWHOTokenRefreshBeforeExpiry(t *testing.T) {
	f := newWHOFake(t)
	f.ttl = 600
	srv := httptest.NewServer(f)
	defer srv.Close()
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	w := newWHOClient(t, srv, clock)
	get := func() {
		t.Helper()
		if _, err := w.Entity(context.Background(), "icd/release/10/2019/A00"); err != nil {
			t.Fatal(err)
		}
	}
	get()
	advance(500 * time.Second) // within the lifetime less the one-minute margin
	get()
	if f.tokenCalls.Load() != 1 {
		t.Fatalf("%d token requests before expiry, want 1", f.tokenCalls.Load())
	}
	advance(50 * time.Second) // 550s: inside the refresh margin of a 600s token
	get()
	if f.tokenCalls.Load() != 2 {
		t.Fatalf("%d token requests after the refresh point, want 2", f.tokenCalls.Load())
	}
	// a token revoked before its time: one 401, one new token, success
	f.revokeAll()
	get()
	if f.tokenCalls.Load() != 3 {
		t.Fatalf("%d token requests after a 401, want 3", f.tokenCalls.Load())
	}
}

func TestWHOTokenSingleFlight(t *testing.T) {
	f := newWHOFake(t)
	srv := httptest.NewServer(f)
	defer srv.Close()
	w := newWHOClient(t, srv, nil)
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := w.Entity(context.Background(), "icd/release/10/2019/A00-A09"); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if f.tokenCalls.Load() != 1 {
		t.Fatalf("%d token requests from 20 concurrent calls, want 1", f.tokenCalls.Load())
	}
}

func TestWHOBadCredentialsNeverEchoSecret(t *testing.T) {
	f := newWHOFake(t)
	srv := httptest.NewServer(f)
	defer srv.Close()
	w, _ := NewWHO(WHOOptions{BaseURL: srv.URL, TokenURL: srv.URL + "/connect/token", ClientID: "test-id", ClientSecret: "wrong-s3cret"})
	_, err := w.Entity(context.Background(), "icd/release/10/2019/A00")
	if err == nil || !strings.Contains(err.Error(), "invalid_client") || strings.Contains(err.Error(), "wrong-s3cret") {
		t.Fatalf("err = %v", err)
	}
	if _, err := NewWHO(WHOOptions{ClientID: "x"}); err == nil {
		t.Error("NewWHO without a secret accepted")
	}
}

func TestSystemOf(t *testing.T) {
	re := regexp.MustCompile(`release/(\d+)/([^/]+)`)
	for _, id := range []string{"http://id.who.int/icd/release/10/2019/A00", "http://id.who.int/icd/release/11/2024-01/mms/1435254666"} {
		m := re.FindStringSubmatch(id)
		sys, rel := systemOf(id)
		if rel != m[2] || (m[1] == "10") != (sys == ICD10) || (m[1] == "11") != (sys == ICD11) {
			t.Errorf("%s: %s %s", id, sys, rel)
		}
	}
}

func TestNLMLookupAll(t *testing.T) {
	var seen []url.Values
	srv := nlmServer(t, 500, &seen)
	defer srv.Close()
	n, _ := NewNLM(NLMOptions{BaseURL: srv.URL, RatePerSec: -1})
	page, _ := ParseNLM(nlmExamples(t)["A15"])
	var in []string
	want := map[string]Code{}
	for _, c := range page.Codes {
		in = append(in, c.Code, NoDot(c.Code)) // dotted and undotted are the same code
		want[c.Code] = c
	}
	in = append(in, "Z99.89", "not-a-code")
	got := map[string]LookupResult{}
	if err := n.LookupAll(context.Background(), in, 3, func(r LookupResult) error {
		got[r.Input] = r
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(page.Codes)+2 {
		t.Fatalf("%d results, want %d (duplicates looked up once)", len(got), len(page.Codes)+2)
	}
	for _, c := range page.Codes {
		if r := got[c.Code]; r.Err != nil || r.Code != want[c.Code] {
			t.Errorf("%s: %+v", c.Code, r)
		}
	}
	if !errors.Is(got["Z99.89"].Err, ErrNotFound) || !errors.Is(got["not-a-code"].Err, ErrInvalidCode) {
		t.Errorf("unknown/invalid: %v / %v", got["Z99.89"].Err, got["not-a-code"].Err)
	}
}

// BenchmarkReadOrderFile reports lines/s of the order-file reader (the real file has ~98,000
// lines).
func BenchmarkReadOrderFile(b *testing.B) {
	sample := strings.Split(strings.TrimRight(string(orderSample(b)), "\r\n"), "\n")
	var buf bytes.Buffer
	for i := 0; i < 20000; i++ {
		buf.WriteString(sample[i%len(sample)] + "\r\n")
	}
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	lines := 0
	for i := 0; i < b.N; i++ {
		st, err := ReadOrderFile(context.Background(), "bench", bytes.NewReader(data), OrderOptions{}, func(Code) error { return nil })
		if err != nil {
			b.Fatal(err)
		}
		lines += st.Codes
	}
	b.ReportMetric(float64(lines)/b.Elapsed().Seconds(), "lines/s")
}
