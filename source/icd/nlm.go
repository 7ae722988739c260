package icd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rcmlake/rcmlake/internal/httpx"
	"golang.org/x/sync/errgroup"
)

// NLM Clinical Tables ICD-10-CM search (https://clinicaltables.nlm.nih.gov/apidoc/icd10cm/v3/doc.html).
// It needs no credentials and answers a JSON array:
//
//	[total, ["A15.0", ...], extra-or-null, [["A15.0", "Tuberculosis of lung"], ...]]
//
// where the display rows follow the df fields (code,name here). Pages are count (at most 500)
// from offset, and offset+count may not pass 7,500.

// Defaults of the NLM client.
const (
	DefaultNLMBaseURL    = "https://clinicaltables.nlm.nih.gov/api/icd10cm/v3/search"
	DefaultNLMRatePerSec = 5 // a free public service: stay polite
	NLMMaxCount          = 500
	NLMMaxWindow         = 7500
)

// NLMOptions configure an NLM client.
type NLMOptions struct {
	BaseURL     string        // the search endpoint; default DefaultNLMBaseURL
	RatePerSec  float64       // requests per second; 0 means 5, negative means unlimited
	Timeout     time.Duration // per request attempt
	MaxAttempts int           // per request, first included; default 5
	HTTP        *httpx.Client // optional; built from RatePerSec/Timeout/MaxAttempts when nil
}

// NLM searches the NLM Clinical Tables ICD-10-CM table.
type NLM struct {
	base string
	http *httpx.Client
}

// NewNLM returns an NLM client for o.
func NewNLM(o NLMOptions) (*NLM, error) {
	if o.BaseURL == "" {
		o.BaseURL = DefaultNLMBaseURL
	}
	if u, err := url.Parse(o.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("icd nlm: base URL %q: want an http(s):// URL", o.BaseURL)
	}
	if o.RatePerSec == 0 {
		o.RatePerSec = DefaultNLMRatePerSec
	}
	hc := o.HTTP
	if hc == nil {
		hc = httpx.New(httpx.Options{RatePerSec: o.RatePerSec, Timeout: o.Timeout, MaxAttempts: o.MaxAttempts})
	}
	return &NLM{base: o.BaseURL, http: hc}, nil
}

// NLMPage is one parsed search answer.
type NLMPage struct {
	Total int // matches of the whole search, not of this page
	Codes []Code
}

// ParseNLM reads one search answer.
func ParseNLM(data []byte) (NLMPage, error) {
	var arr []json.RawMessage
	if err := json.Unmarshal(data, &arr); err != nil {
		return NLMPage{}, fmt.Errorf("NLM ICD-10-CM answer is not the search array shape: %w", err)
	}
	if len(arr) < 4 {
		return NLMPage{}, fmt.Errorf("NLM ICD-10-CM answer has %d elements, want at least 4 (total, codes, extra, display)", len(arr))
	}
	var p NLMPage
	var codes []string
	var display [][]string
	if err := json.Unmarshal(arr[0], &p.Total); err != nil {
		return NLMPage{}, fmt.Errorf("NLM ICD-10-CM answer: total: %w", err)
	}
	if err := json.Unmarshal(arr[1], &codes); err != nil {
		return NLMPage{}, fmt.Errorf("NLM ICD-10-CM answer: codes: %w", err)
	}
	if err := json.Unmarshal(arr[3], &display); err != nil {
		return NLMPage{}, fmt.Errorf("NLM ICD-10-CM answer: display rows: %w", err)
	}
	if p.Total < len(codes) || len(display) != len(codes) {
		return NLMPage{}, fmt.Errorf("NLM ICD-10-CM answer: %d codes, %d display rows, total %d do not agree", len(codes), len(display), p.Total)
	}
	for i, code := range codes {
		row := display[i]
		if len(row) < 2 || strings.TrimSpace(code) == "" {
			return NLMPage{}, fmt.Errorf("NLM ICD-10-CM answer: row %d %q: want code and name", i, row)
		}
		p.Codes = append(p.Codes, Code{System: ICD10CM, Code: strings.TrimSpace(code), Title: row[1], Source: FromNLM})
	}
	return p, nil
}

// NLMStats says how a search went.
type NLMStats struct {
	Total   int // matches the API reported
	Results int // codes emitted
	Pages   int
	Capped  bool // the API's 7,500 window was reached before Total
}

// Search finds ICD-10-CM codes whose code or name matches terms (the API's rules: each word is
// a prefix) and calls emit for each, paging until all matches, max (0: no limit) or the API's
// window are reached.
func (n *NLM) Search(ctx context.Context, terms string, max int, emit func(Code) error) (NLMStats, error) {
	var st NLMStats
	terms = strings.TrimSpace(terms)
	if terms == "" {
		return st, fmt.Errorf("icd nlm search: empty terms")
	}
	for offset := 0; offset < NLMMaxWindow; {
		count := min(NLMMaxCount, NLMMaxWindow-offset)
		if max > 0 {
			count = min(count, max-st.Results)
		}
		v := url.Values{"terms": {terms}, "sf": {"code,name"}, "df": {"code,name"},
			"count": {strconv.Itoa(count)}, "offset": {strconv.Itoa(offset)}}
		resp, err := n.http.Get(ctx, n.base+"?"+v.Encode(), http.Header{"Accept": {"application/json"}})
		if err != nil {
			return st, fmt.Errorf("icd nlm search (offset %d): %w", offset, err)
		}
		page, err := ParseNLM(resp.Body)
		if err != nil {
			return st, fmt.Errorf("icd nlm search (offset %d): %w", offset, err)
		}
		st.Pages++
		st.Total = page.Total
		for _, c := range page.Codes {
			if err := emit(c); err != nil {
				return st, err
			}
			st.Results++
		}
		offset += len(page.Codes)
		if len(page.Codes) == 0 || offset >= page.Total || (max > 0 && st.Results >= max) {
			return st, nil
		}
	}
	st.Capped = st.Results < st.Total
	return st, nil
}

// Errors of NLM.Lookup about one code.
var (
	ErrNotFound    = errors.New("ICD-10-CM code not found")
	ErrInvalidCode = errors.New("not an ICD-10-CM code")
)

// Lookup finds one ICD-10-CM code, dotted (E11.65) or not (E1165), by searching the code field
// and keeping the exact match.
func (n *NLM) Lookup(ctx context.Context, code string) (Code, error) {
	want := Dotted(strings.ToUpper(strings.TrimSpace(code)))
	if !isCode(NoDot(want)) {
		return Code{}, fmt.Errorf("icd nlm lookup: %w %q", ErrInvalidCode, code)
	}
	v := url.Values{"terms": {want}, "sf": {"code"}, "df": {"code,name"}, "count": {strconv.Itoa(NLMMaxCount)}}
	resp, err := n.http.Get(ctx, n.base+"?"+v.Encode(), http.Header{"Accept": {"application/json"}})
	if err != nil {
		return Code{}, fmt.Errorf("icd nlm lookup %s: %w", want, err)
	}
	page, err := ParseNLM(resp.Body)
	if err != nil {
		return Code{}, fmt.Errorf("icd nlm lookup %s: %w", want, err)
	}
	for _, c := range page.Codes {
		if strings.EqualFold(c.Code, want) {
			return c, nil
		}
	}
	return Code{}, fmt.Errorf("icd nlm lookup %s: %w", want, ErrNotFound)
}

// LookupResult is the outcome for one code of LookupAll; Err is set for an unknown or malformed
// code (a problem of that code, for bronze to record), with Code empty.
type LookupResult struct {
	Input string
	Code  Code
	Err   error
}

// LookupAll looks up every distinct code of codes, workers at a time (default 4), and calls emit
// once per code from one goroutine at a time. It stops at the first error that is not about one
// code (network, retries exhausted, the context, emit's own error).
func (n *NLM) LookupAll(ctx context.Context, codes []string, workers int, emit func(LookupResult) error) error {
	if workers <= 0 {
		workers = 4
	}
	parent := ctx
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	var mu sync.Mutex
	seen := map[string]bool{}
	for _, in := range codes {
		key := NoDot(strings.ToUpper(strings.TrimSpace(in)))
		if seen[key] || ctx.Err() != nil {
			continue
		}
		seen[key] = true
		g.Go(func() error {
			c, err := n.Lookup(ctx, in)
			if err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrInvalidCode) {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			return emit(LookupResult{Input: in, Code: c, Err: err})
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return parent.Err() // cancelled between look-ups: not every code was looked up
}
