package npi

import (
	"context"
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

// Defaults of the registry client.
const (
	DefaultBaseURL    = "https://npiregistry.cms.hhs.gov/api/"
	DefaultWorkers    = 4
	DefaultRatePerSec = 5 // the registry publishes no limit; stay polite
	// MaxLimit and MaxSkip are the registry's paging bounds: 200 a page, skip at most 1000,
	// so one query can return at most 1,200 providers. Narrow the query to see more.
	MaxLimit = 200
	MaxSkip  = 1000
)

// Options configure a Client.
type Options struct {
	// BaseURL is the registry endpoint. A file:// URL serves lookups and searches from a folder
	// of recorded-format answers (see WriteFixtures and NewReplayHandler): the offline mode.
	BaseURL     string
	Workers     int           // concurrent lookups; default 4
	RatePerSec  float64       // requests per second; 0 means 5, negative means unlimited; ignored when HTTP is set
	Timeout     time.Duration // per request attempt
	MaxAttempts int           // per request, first included; default 5
	HTTP        *httpx.Client // optional; built from RatePerSec/Timeout/MaxAttempts when nil
}

// Client talks to the NPPES NPI Registry API v2.1.
type Client struct {
	base    *url.URL
	workers int
	http    *httpx.Client
}

// New returns a Client for o.
func New(o Options) (*Client, error) {
	if o.BaseURL == "" {
		o.BaseURL = DefaultBaseURL
	}
	u, err := url.Parse(o.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "file") {
		return nil, fmt.Errorf("npi: base URL %q: want an http(s):// or file:// URL", o.BaseURL)
	}
	if o.Workers <= 0 {
		o.Workers = DefaultWorkers
	}
	if o.RatePerSec == 0 {
		o.RatePerSec = DefaultRatePerSec
	}
	hc := o.HTTP
	if hc == nil {
		ho := httpx.Options{RatePerSec: o.RatePerSec, Burst: o.Workers, Timeout: o.Timeout, MaxAttempts: o.MaxAttempts}
		if u.Scheme == "file" {
			dir := u.Path
			if dir == "" {
				dir = u.Opaque // file:relative/dir
			}
			ho.Transport = replayTransport{NewReplayHandler(dir)}
			ho.RatePerSec = 0
		}
		hc = httpx.New(ho)
	} else if u.Scheme == "file" {
		return nil, fmt.Errorf("npi: a file:// base URL serves from disk; do not pass an HTTP client with it")
	}
	if u.Scheme == "file" {
		u = &url.URL{Scheme: "http", Host: "npi.replay.invalid", Path: "/api/"}
	}
	return &Client{base: u, workers: o.Workers, http: hc}, nil
}

// ErrNotFound is returned by Lookup when the registry has no provider with that NPI.
var ErrNotFound = errors.New("NPI not found in the registry")

// Lookup fetches one provider by NPI. The NPI is validated first (ErrInvalidNPI); an unknown NPI
// is ErrNotFound; a refusal of the registry is *APIError.
func (c *Client) Lookup(ctx context.Context, number string) (Provider, error) {
	number = strings.TrimSpace(number)
	if err := Validate(number); err != nil {
		return Provider{}, err
	}
	page, err := c.get(ctx, url.Values{"number": {number}})
	if err != nil {
		return Provider{}, fmt.Errorf("npi lookup %s: %w", number, err)
	}
	for _, p := range page.Providers {
		if p.NPI == number {
			return p, nil
		}
	}
	return Provider{}, fmt.Errorf("npi lookup %s: %w", number, ErrNotFound)
}

// LookupResult is the outcome for one NPI of LookupAll. Err is set, and Provider empty, when the
// NPI is invalid (ErrInvalidNPI), unknown (ErrNotFound) or refused (*APIError): problems of that
// one NPI that bronze should record, not reasons to stop the load.
type LookupResult struct {
	NPI      string
	Provider Provider
	Err      error
}

// LookupAll looks up every NPI of numbers concurrently (Options.Workers at a time, under the rate
// limit), de-duplicated, and calls emit once per distinct NPI, from one goroutine at a time, in
// no particular order. It stops at the first error that is not about one NPI (network, retries
// exhausted, the context, or emit's own error) and returns it.
func (c *Client) LookupAll(ctx context.Context, numbers []string, emit func(LookupResult) error) error {
	seen := make(map[string]bool, len(numbers))
	parent := ctx
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(c.workers)
	var mu sync.Mutex
	for _, n := range numbers {
		n = strings.TrimSpace(n)
		if seen[n] {
			continue
		}
		seen[n] = true
		if ctx.Err() != nil {
			break
		}
		g.Go(func() error {
			p, err := c.Lookup(ctx, n)
			var apiErr *APIError
			if err != nil && !errors.Is(err, ErrInvalidNPI) && !errors.Is(err, ErrNotFound) && !errors.As(err, &apiErr) {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			return emit(LookupResult{NPI: n, Provider: p, Err: err})
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return parent.Err() // cancelled between look-ups: not every NPI was looked up
}

// Query is a registry search. At least one criterion besides EnumerationType is needed (the
// registry says so with an APIError). Wildcards follow the registry's rules (a trailing * after
// at least two characters).
type Query struct {
	EnumerationType     string // NPI-1 or NPI-2
	TaxonomyDescription string
	FirstName           string
	UseFirstNameAlias   *bool
	LastName            string
	OrganizationName    string
	AddressPurpose      string // LOCATION, MAILING, PRIMARY or SECONDARY
	City                string
	State               string
	PostalCode          string
	CountryCode         string
	// PageSize is the registry's limit per request; default and maximum 200.
	PageSize int
	// MaxResults stops the search early; 0 means as many as the registry gives (at most 1,200).
	MaxResults int
}

func (q Query) values() url.Values {
	v := url.Values{}
	set := func(k, s string) {
		if s = strings.TrimSpace(s); s != "" {
			v.Set(k, s)
		}
	}
	set("enumeration_type", q.EnumerationType)
	set("taxonomy_description", q.TaxonomyDescription)
	set("first_name", q.FirstName)
	set("last_name", q.LastName)
	set("organization_name", q.OrganizationName)
	set("address_purpose", q.AddressPurpose)
	set("city", q.City)
	set("state", q.State)
	set("postal_code", q.PostalCode)
	set("country_code", q.CountryCode)
	if q.UseFirstNameAlias != nil {
		v.Set("use_first_name_alias", strconv.FormatBool(*q.UseFirstNameAlias))
	}
	return v
}

// SearchStats says how a search went.
type SearchStats struct {
	Pages   int
	Results int
	// Capped is true when the registry's paging bound (skip 1000) was reached with a full page:
	// there may be more matches than the registry will list. Narrow the query (by city, postal
	// code or taxonomy) to get them.
	Capped bool
}

// Search pages through the registry's matches for q and calls emit for each provider, in the
// registry's order. It stops at a short page, at MaxResults, or at the registry's skip bound.
func (c *Client) Search(ctx context.Context, q Query, emit func(Provider) error) (SearchStats, error) {
	var st SearchStats
	limit := q.PageSize
	if limit <= 0 || limit > MaxLimit {
		limit = MaxLimit
	}
	for skip := 0; skip <= MaxSkip; skip += limit {
		v := q.values()
		v.Set("limit", strconv.Itoa(limit))
		if skip > 0 {
			v.Set("skip", strconv.Itoa(skip))
		}
		page, err := c.get(ctx, v)
		if err != nil {
			return st, fmt.Errorf("npi search (page %d, skip %d): %w", st.Pages+1, skip, err)
		}
		st.Pages++
		for _, p := range page.Providers {
			if err := emit(p); err != nil {
				return st, err
			}
			st.Results++
			if q.MaxResults > 0 && st.Results >= q.MaxResults {
				return st, nil
			}
		}
		if len(page.Providers) < limit {
			return st, nil
		}
		if skip+limit > MaxSkip {
			st.Capped = true
		}
	}
	return st, nil
}

func (c *Client) get(ctx context.Context, v url.Values) (Page, error) {
	v.Set("version", "2.1")
	u := *c.base
	u.RawQuery = v.Encode()
	resp, err := c.http.Get(ctx, u.String(), http.Header{"Accept": {"application/json"}})
	if err != nil {
		return Page{}, err
	}
	return Parse(resp.Body)
}
