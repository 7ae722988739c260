package npi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Offline mode. The demo and the tests must work without the network, so the registry can be
// replaced by a folder of answers in the registry's own v2.1 JSON shape:
//
//   - WriteFixtures writes one <npi>.json answer per provider (what the synthetic world knows).
//   - NewReplayHandler serves such a folder (and recorded multi-result answers) as the registry
//     would: lookups by number, searches with the same filters, paging and Errors bodies.
//   - A Client whose BaseURL is file:///that/folder uses the handler in-process, with no socket,
//     so the pipeline needs only a config change to run offline.
//
// Serving the registry's shape (rather than reading Provider records directly) keeps the
// offline path on the same parser, paging and error handling as the real one.

// WriteFixtures writes dir/<npi>.json for every provider, each a v2.1 answer with one result.
// It refuses invalid NPIs, so the fixtures are lookups the real registry could answer.
func WriteFixtures(dir string, providers []Provider) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("npi fixtures: %w", err)
	}
	for _, p := range providers {
		if err := Validate(p.NPI); err != nil {
			return fmt.Errorf("npi fixtures: provider %q: %w", p.Name(), err)
		}
		body, err := json.MarshalIndent(fixtureAnswer{ResultCount: 1, Results: []fixtureResult{toFixture(p)}}, "", "  ")
		if err != nil {
			return fmt.Errorf("npi fixtures: NPI %s: %w", p.NPI, err)
		}
		path := filepath.Join(dir, p.NPI+".json")
		if err := os.WriteFile(path, append(body, '\n'), 0o644); err != nil {
			return fmt.Errorf("npi fixtures: %w", err)
		}
	}
	return nil
}

type fixtureAnswer struct {
	ResultCount int             `json:"result_count"`
	Results     []fixtureResult `json:"results"`
}

type fixtureResult struct {
	EnumerationType  string            `json:"enumeration_type"`
	Number           string            `json:"number"`
	LastUpdatedEpoch string            `json:"last_updated_epoch,omitempty"`
	CreatedEpoch     string            `json:"created_epoch,omitempty"`
	Basic            map[string]string `json:"basic"`
	Addresses        []apiAddressOut   `json:"addresses"`
	Taxonomies       []apiTaxonomyOut  `json:"taxonomies"`
	OtherNames       []any             `json:"other_names"`
	Identifiers      []any             `json:"identifiers"`
	Endpoints        []any             `json:"endpoints"`
}

type apiAddressOut struct {
	CountryCode string `json:"country_code"`
	Purpose     string `json:"address_purpose"`
	Type        string `json:"address_type"`
	Address1    string `json:"address_1"`
	Address2    string `json:"address_2"`
	City        string `json:"city"`
	State       string `json:"state"`
	PostalCode  string `json:"postal_code"`
	Telephone   string `json:"telephone_number,omitempty"`
}

type apiTaxonomyOut struct {
	Code    string `json:"code"`
	Desc    string `json:"desc"`
	Primary bool   `json:"primary"`
	State   string `json:"state"`
	License string `json:"license"`
}

func toFixture(p Provider) fixtureResult {
	basic := map[string]string{}
	put := func(k, v string) {
		if v != "" {
			basic[k] = v
		}
	}
	date := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.Format("2006-01-02")
	}
	status := p.Status
	if status == "" {
		status = "A"
	}
	put("status", status)
	put("first_name", p.FirstName)
	put("last_name", p.LastName)
	put("middle_name", p.MiddleName)
	put("name_prefix", p.NamePrefix)
	put("name_suffix", p.NameSuffix)
	put("credential", p.Credential)
	put("organization_name", p.OrganizationName)
	put("organizational_subpart", p.OrganizationalSubpart)
	put("authorized_official_first_name", p.OfficialFirstName)
	put("authorized_official_last_name", p.OfficialLastName)
	put("authorized_official_middle_name", p.OfficialMiddleName)
	put("authorized_official_title_or_position", p.OfficialTitle)
	put("authorized_official_credential", p.OfficialCredential)
	put("authorized_official_telephone_number", p.OfficialTelephone)
	put("enumeration_date", date(p.EnumerationDate))
	put("last_updated", date(p.LastUpdated))
	put("deactivation_date", date(p.DeactivationDate))
	put("reactivation_date", date(p.ReactivationDate))
	if p.OrganizationName != "" {
		put("name", p.OrganizationName)
	} else {
		put("name", strings.TrimSpace(p.LastName+" "+p.FirstName))
	}
	et := p.EnumerationType
	if et == "" {
		et = Individual
		if p.OrganizationName != "" {
			et = Organization
		}
	}
	r := fixtureResult{EnumerationType: et, Number: p.NPI, Basic: basic,
		OtherNames: []any{}, Identifiers: []any{}, Endpoints: []any{}, Addresses: []apiAddressOut{}, Taxonomies: []apiTaxonomyOut{}}
	if !p.LastUpdated.IsZero() {
		r.LastUpdatedEpoch = strconv.FormatInt(p.LastUpdated.Unix(), 10)
	}
	if !p.EnumerationDate.IsZero() {
		r.CreatedEpoch = strconv.FormatInt(p.EnumerationDate.Unix(), 10)
	}
	if p.Address1 != "" || p.City != "" {
		cc := p.CountryCode
		if cc == "" {
			cc = "US"
		}
		typ := "DOM"
		if cc != "US" {
			typ = "FGN"
		}
		a := apiAddressOut{CountryCode: cc, Purpose: "LOCATION", Type: typ, Address1: p.Address1, Address2: p.Address2,
			City: p.City, State: p.State, PostalCode: p.PostalCode, Telephone: p.Telephone}
		r.Addresses = append(r.Addresses, a)
		a.Purpose = "MAILING"
		r.Addresses = append(r.Addresses, a)
	}
	if p.TaxonomyCode != "" {
		r.Taxonomies = append(r.Taxonomies, apiTaxonomyOut{Code: p.TaxonomyCode, Desc: p.TaxonomyDesc, Primary: true,
			State: p.TaxonomyState, License: p.TaxonomyLicense})
	}
	return r
}

// NewReplayHandler serves the answers in dir as the NPI Registry API v2.1 would. Every *.json
// file holding a v2.1 answer contributes its results (files with an Errors array are ignored);
// the folder is read on each request, so fixtures can be added while it runs.
func NewReplayHandler(dir string) http.Handler { return replayHandler{dir: dir} }

type replayHandler struct{ dir string }

// registry error bodies, in the registry's own words.
var (
	errNoCriteria = FieldError{Field: "generic", Number: "04", Description: "No valid search criteria provided"}
	errEnumOnly   = FieldError{Field: "enumeration_type", Number: "09", Description: "enumeration_type requires additional search criteria"}
)

func (h replayHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	writeErr := func(fe FieldError) { writeJSON(w, map[string][]FieldError{"Errors": {fe}}) }
	limit, skip := 10, 0
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxLimit {
			writeErr(FieldError{Field: "limit", Number: "11", Description: "Field limit must be a number between 1 and 200"})
			return
		}
		limit = n
	}
	if s := q.Get("skip"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > MaxSkip {
			writeErr(FieldError{Field: "skip", Number: "12", Description: "Field skip must be a number between 0 and 1000"})
			return
		}
		skip = n
	}
	filters := map[string]string{}
	for _, k := range []string{"number", "enumeration_type", "taxonomy_description", "first_name", "last_name",
		"organization_name", "city", "state", "postal_code", "country_code"} {
		if v := strings.TrimSpace(q.Get(k)); v != "" {
			filters[k] = v
		}
	}
	if len(filters) == 0 {
		writeErr(errNoCriteria)
		return
	}
	if _, ok := filters["enumeration_type"]; ok && len(filters) == 1 {
		writeErr(errEnumOnly)
		return
	}
	all, err := h.load(filters["number"])
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	var hits []json.RawMessage
	for _, res := range all {
		if matches(res.p, filters) {
			hits = append(hits, res.raw)
		}
	}
	if skip >= len(hits) {
		hits = nil
	} else {
		hits = hits[skip:min(len(hits), skip+limit)]
	}
	if hits == nil {
		hits = []json.RawMessage{}
	}
	writeJSON(w, struct {
		ResultCount int               `json:"result_count"`
		Results     []json.RawMessage `json:"results"`
	}{len(hits), hits})
}

type replayed struct {
	p   Provider
	raw json.RawMessage
}

// load reads the folder's results, in file-name order, first occurrence of an NPI winning. A
// lookup by number reads <number>.json directly when it exists, so that huge folders stay fast.
func (h replayHandler) load(number string) ([]replayed, error) {
	var files []string
	if number != "" && Validate(number) == nil {
		if _, err := os.Stat(filepath.Join(h.dir, number+".json")); err == nil {
			files = []string{filepath.Join(h.dir, number+".json")}
		}
	}
	if files == nil {
		var err error
		if files, err = filepath.Glob(filepath.Join(h.dir, "*.json")); err != nil {
			return nil, err
		}
		sort.Strings(files)
	}
	seen := map[string]bool{}
	var out []replayed
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var resp apiResponse
		if json.Unmarshal(data, &resp) != nil || len(resp.Errors) > 0 {
			continue
		}
		for _, raw := range resp.Results {
			p, err := parseResult(raw)
			if err != nil || seen[p.NPI] {
				continue
			}
			seen[p.NPI] = true
			out = append(out, replayed{p, raw})
		}
	}
	return out, nil
}

// matches applies the registry's filters: case-insensitive, with a trailing * as a prefix match.
func matches(p Provider, f map[string]string) bool {
	field := map[string]string{
		"number": p.NPI, "enumeration_type": p.EnumerationType, "taxonomy_description": p.TaxonomyDesc,
		"first_name": p.FirstName, "last_name": p.LastName, "organization_name": p.OrganizationName,
		"city": p.City, "state": p.State, "postal_code": p.PostalCode, "country_code": p.CountryCode,
	}
	for k, want := range f {
		got := strings.ToUpper(field[k])
		want = strings.ToUpper(want)
		if k == "organization_name" && got == "" {
			got = strings.ToUpper(p.OrganizationName)
		}
		if prefix, ok := strings.CutSuffix(want, "*"); ok {
			if !strings.HasPrefix(got, prefix) {
				return false
			}
		} else if k == "postal_code" {
			if !strings.HasPrefix(got, want) { // the registry matches a 5-digit ZIP against ZIP+4
				return false
			}
		} else if k == "taxonomy_description" {
			if !strings.Contains(got, want) {
				return false
			}
		} else if got != want {
			return false
		}
	}
	return true
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	body, _ := json.MarshalIndent(v, "", "    ")
	w.Write(body)
}

// replayTransport runs a handler in-process as an http.RoundTripper: the file:// mode.
type replayTransport struct{ h http.Handler }

func (t replayTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		req.Body.Close()
	}
	rec := &memResponse{header: http.Header{}, status: http.StatusOK}
	t.h.ServeHTTP(rec, req)
	return &http.Response{
		Status: fmt.Sprintf("%d %s", rec.status, http.StatusText(rec.status)), StatusCode: rec.status,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: rec.header, Body: io.NopCloser(bytes.NewReader(rec.body.Bytes())),
		ContentLength: int64(rec.body.Len()), Request: req,
	}, nil
}

type memResponse struct {
	header http.Header
	status int
	wrote  bool
	body   bytes.Buffer
}

func (m *memResponse) Header() http.Header { return m.header }
func (m *memResponse) WriteHeader(s int) {
	if !m.wrote {
		m.status, m.wrote = s, true
	}
}
func (m *memResponse) Write(b []byte) (int, error) {
	m.wrote = true
	return m.body.Write(b)
}
