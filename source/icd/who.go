package icd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/rcmlake/rcmlake/internal/httpx"
	"golang.org/x/sync/errgroup"
)

// Defaults of the WHO ICD-API client.
const (
	DefaultWHOBaseURL  = "https://id.who.int"
	DefaultWHOTokenURL = "https://icdaccessmanagement.who.int/connect/token"
	DefaultWHOScope    = "icdapi_access"
	DefaultWHOLanguage = "en"
	DefaultWHOWorkers  = 4
	// DefaultWHORatePerSec: the WHO publishes no limit; a full ICD-10 walk is ~12,000 requests.
	DefaultWHORatePerSec = 10
	// DefaultWHORoot is the ICD-10 2019 release: the whole classification.
	DefaultWHORoot = "http://id.who.int/icd/release/10/2019"
	// whoIDBase is the host of entity identifiers (@id, child, parent). They are names, not
	// addresses: requests go to BaseURL with the identifier's path, so a mirror or a test
	// server works with the same identifiers.
	whoIDBase = "http://id.who.int"
)

// WHOOptions configure a WHO client. ClientID and ClientSecret are the caller's resolved
// credentials (the config holds ${secret:...} references); they are sent only to TokenURL.
type WHOOptions struct {
	BaseURL      string
	TokenURL     string
	ClientID     string
	ClientSecret string
	Scope        string
	Language     string           // Accept-Language; default en
	Workers      int              // concurrent entity fetches of Walk; default 4
	RatePerSec   float64          // requests per second; 0 means 10, negative means unlimited
	Timeout      time.Duration    // per request attempt
	MaxAttempts  int              // per request, first included; default 5
	HTTP         *httpx.Client    // optional; built from RatePerSec/Timeout/MaxAttempts when nil
	Now          func() time.Time // the token cache's clock; tests replace it
}

// WHO reads the WHO ICD-API.
type WHO struct {
	base    *url.URL
	lang    string
	workers int
	http    *httpx.Client
	tokens  *tokenCache
}

// NewWHO returns a WHO client for o.
func NewWHO(o WHOOptions) (*WHO, error) {
	if o.BaseURL == "" {
		o.BaseURL = DefaultWHOBaseURL
	}
	if o.TokenURL == "" {
		o.TokenURL = DefaultWHOTokenURL
	}
	if o.Scope == "" {
		o.Scope = DefaultWHOScope
	}
	if o.Language == "" {
		o.Language = DefaultWHOLanguage
	}
	if o.Workers <= 0 {
		o.Workers = DefaultWHOWorkers
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.RatePerSec == 0 {
		o.RatePerSec = DefaultWHORatePerSec
	}
	base, err := url.Parse(strings.TrimRight(o.BaseURL, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") {
		return nil, fmt.Errorf("icd who: base URL %q: want an http(s):// URL", o.BaseURL)
	}
	if u, err := url.Parse(o.TokenURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("icd who: token URL %q: want an http(s):// URL", o.TokenURL)
	}
	if o.ClientID == "" || o.ClientSecret == "" {
		return nil, errors.New("icd who: client id and secret are required (register at https://icd.who.int/icdapi; put them in the secret store and reference them as ${secret:...})")
	}
	hc := o.HTTP
	if hc == nil {
		hc = httpx.New(httpx.Options{RatePerSec: o.RatePerSec, Burst: o.Workers, Timeout: o.Timeout, MaxAttempts: o.MaxAttempts})
	}
	w := &WHO{base: base, lang: o.Language, workers: o.Workers, http: hc}
	w.tokens = &tokenCache{now: o.Now, sem: make(chan struct{}, 1), fetch: func(ctx context.Context) (string, time.Duration, error) {
		return fetchToken(ctx, hc, o.TokenURL, o.ClientID, o.ClientSecret, o.Scope)
	}}
	return w, nil
}

// tokenCache holds one OAuth2 access token and refreshes it shortly before it expires. Only one
// refresh runs at a time; callers that arrive meanwhile wait for it (or for their context).
type tokenCache struct {
	now   func() time.Time
	fetch func(ctx context.Context) (token string, ttl time.Duration, err error)
	sem   chan struct{} // a lock that a waiting caller can give up on
	token string
	until time.Time // refresh at or after this time
}

func (c *tokenCache) get(ctx context.Context) (string, error) {
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	defer func() { <-c.sem }()
	if c.token != "" && c.now().Before(c.until) {
		return c.token, nil
	}
	tok, ttl, err := c.fetch(ctx)
	if err != nil {
		return "", err
	}
	// refresh a minute early, or at half the lifetime for short-lived tokens
	margin := min(time.Minute, ttl/2)
	c.token, c.until = tok, c.now().Add(ttl-margin)
	return tok, nil
}

// invalidate drops tok if it is still the cached one (the API refused it).
func (c *tokenCache) invalidate(tok string) {
	c.sem <- struct{}{}
	defer func() { <-c.sem }()
	if c.token == tok {
		c.token = ""
	}
}

func fetchToken(ctx context.Context, hc *httpx.Client, tokenURL, id, secret, scope string) (string, time.Duration, error) {
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}, "scope": {scope}}
	resp, err := hc.Do(ctx, httpx.Request{Method: http.MethodPost, URL: tokenURL, Body: []byte(form.Encode()),
		Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Accept": {"application/json"}}})
	if err != nil {
		var se *httpx.StatusError
		if errors.As(err, &se) && (se.Status == http.StatusBadRequest || se.Status == http.StatusUnauthorized) {
			return "", 0, fmt.Errorf("icd who: the token endpoint refused the client credentials (check the client id and secret in the secret store): HTTP %d %s", se.Status, oauthError(se.Body))
		}
		return "", 0, fmt.Errorf("icd who: getting an access token: %w", err)
	}
	var t struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
		TokenType   string `json:"token_type"`
	}
	if err := json.Unmarshal(resp.Body, &t); err != nil || t.AccessToken == "" {
		return "", 0, fmt.Errorf("icd who: the token endpoint's answer has no access_token")
	}
	if t.TokenType != "" && !strings.EqualFold(t.TokenType, "bearer") {
		return "", 0, fmt.Errorf("icd who: token type %q, want Bearer", t.TokenType)
	}
	ttl := time.Duration(t.ExpiresIn) * time.Second
	if ttl <= 0 {
		ttl = time.Minute // no lifetime given: use it briefly
	}
	return t.AccessToken, ttl, nil
}

// oauthError keeps only the standard error fields of an OAuth2 error body, never echoing more.
func oauthError(body string) string {
	var e struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if json.Unmarshal([]byte(body), &e) != nil || e.Error == "" {
		return ""
	}
	if e.Description != "" {
		return e.Error + ": " + e.Description
	}
	return e.Error
}

// Entity is one WHO ICD-API entity, the parts the walk needs.
type Entity struct {
	ID          string // @id
	Code        string
	Title       string
	ClassKind   string
	Parent      []string
	Child       []string
	ReleaseDate string
}

type langValue struct {
	Value string `json:"@value"`
}

// ParseEntity reads one entity answer of the ICD-API (ICD-10 or ICD-11 linearization).
func ParseEntity(data []byte) (Entity, error) {
	var e struct {
		ID          string          `json:"@id"`
		Code        string          `json:"code"`
		Title       json.RawMessage `json:"title"`
		ClassKind   string          `json:"classKind"`
		Parent      []string        `json:"parent"`
		Child       []string        `json:"child"`
		ReleaseDate string          `json:"releaseDate"`
	}
	if err := json.Unmarshal(data, &e); err != nil {
		return Entity{}, fmt.Errorf("WHO ICD-API entity: %w", err)
	}
	if e.ID == "" {
		return Entity{}, errors.New("WHO ICD-API entity without @id")
	}
	out := Entity{ID: e.ID, Code: e.Code, ClassKind: e.ClassKind, Parent: e.Parent, Child: e.Child, ReleaseDate: e.ReleaseDate}
	if len(e.Title) > 0 && string(e.Title) != "null" {
		var lv langValue
		if err := json.Unmarshal(e.Title, &lv); err != nil {
			var s string // some answers give a plain string
			if json.Unmarshal(e.Title, &s) != nil {
				return Entity{}, fmt.Errorf("WHO ICD-API entity %s: title is neither {@value} nor a string", e.ID)
			}
			lv.Value = s
		}
		out.Title = lv.Value
	}
	return out, nil
}

// Entity fetches one entity by identifier (http://id.who.int/icd/...) or by path
// (icd/release/10/2019/A00).
func (w *WHO) Entity(ctx context.Context, id string) (Entity, error) {
	target, err := w.resolve(id)
	if err != nil {
		return Entity{}, err
	}
	for attempt := 0; ; attempt++ {
		tok, err := w.tokens.get(ctx)
		if err != nil {
			return Entity{}, err
		}
		resp, err := w.http.Get(ctx, target, http.Header{
			"Authorization":   {"Bearer " + tok},
			"Accept":          {"application/json"},
			"Accept-Language": {w.lang},
			"API-Version":     {"v2"},
		})
		var se *httpx.StatusError
		if errors.As(err, &se) && se.Status == http.StatusUnauthorized && attempt == 0 {
			w.tokens.invalidate(tok) // expired or revoked early: one fresh token, then give up
			continue
		}
		if err != nil {
			return Entity{}, fmt.Errorf("icd who entity %s: %w", id, err)
		}
		e, err := ParseEntity(resp.Body)
		if err != nil {
			return Entity{}, fmt.Errorf("icd who entity %s: %w", id, err)
		}
		return e, nil
	}
}

// resolve maps an identifier or path to a request URL under BaseURL.
func (w *WHO) resolve(id string) (string, error) {
	id = strings.TrimSpace(id)
	p := id
	if strings.Contains(id, "://") {
		u, err := url.Parse(id)
		if err != nil {
			return "", fmt.Errorf("icd who: entity id %q: %w", id, err)
		}
		if u.Host != "id.who.int" && u.Host != w.base.Host {
			return "", fmt.Errorf("icd who: entity id %q is not an id.who.int identifier", id)
		}
		p = u.Path
	}
	u := *w.base
	u.Path = strings.TrimRight(w.base.Path, "/") + "/" + strings.TrimLeft(p, "/")
	return u.String(), nil
}

// canonical turns an identifier or path into the http://id.who.int form used for dedupe.
func canonical(id string) string {
	if strings.Contains(id, "://") {
		if u, err := url.Parse(id); err == nil {
			return whoIDBase + u.Path
		}
		return id
	}
	return whoIDBase + "/" + strings.TrimLeft(id, "/")
}

// WalkStats counts what Walk did.
type WalkStats struct {
	Entities int // fetched and emitted
	Leaves   int // of which without children
}

// Walk fetches root and, recursively and concurrently (Workers at a time), every entity reached
// through child links, each once, and calls emit for each entity that has a code (chapters,
// blocks, categories and leaves; the release root itself has none), from one goroutine at a
// time, in no particular order. Leaves have Billable true. The first error stops the walk.
func (w *WHO) Walk(ctx context.Context, root string, emit func(Code) error) (WalkStats, error) {
	if root == "" {
		root = DefaultWHORoot
	}
	var (
		st   WalkStats
		mu   sync.Mutex // guards seen, st and emit
		seen = map[string]bool{}
		sem  = make(chan struct{}, w.workers)
	)
	g, ctx := errgroup.WithContext(ctx)
	// parentCode is the code of the entity that linked here ("" when it has none, like a
	// release root); only the walk's root takes its parent from its own parent link.
	var visit func(id, parentCode string, isRoot bool)
	visit = func(id, parentCode string, isRoot bool) {
		key := canonical(id)
		mu.Lock()
		if seen[key] {
			mu.Unlock()
			return
		}
		seen[key] = true
		mu.Unlock()
		g.Go(func() error {
			select { // the fetch, not the goroutine, is what the worker bound limits
			case sem <- struct{}{}:
			case <-ctx.Done():
				return ctx.Err()
			}
			e, err := w.Entity(ctx, id)
			<-sem
			if err != nil {
				return err
			}
			if e.Code != "" {
				if isRoot && len(e.Parent) > 0 { // ICD-10 ids end in the code; ICD-11 ids are numbers
					if sys, rel := systemOf(e.Parent[0]); sys == ICD10 && lastSegment(e.Parent[0]) != rel {
						parentCode = lastSegment(e.Parent[0])
					}
				}
				c := entityCode(e, parentCode)
				mu.Lock()
				err = emit(c)
				st.Entities++
				if len(e.Child) == 0 {
					st.Leaves++
				}
				mu.Unlock()
				if err != nil {
					return err
				}
			}
			for _, ch := range e.Child {
				visit(ch, e.Code, false)
			}
			return nil
		})
	}
	visit(root, "", true)
	err := g.Wait()
	return st, err
}

func entityCode(e Entity, parentCode string) Code {
	system, release := systemOf(e.ID)
	return Code{System: system, Code: e.Code, Title: e.Title, Billable: boolPtr(len(e.Child) == 0), Kind: e.ClassKind,
		Parent: parentCode, URI: e.ID, Release: release, Source: FromWHO}
}

// systemOf reads the classification and release from an identifier:
// .../icd/release/10/2019/A00 is ICD-10 2019; .../icd/release/11/2024-01/mms/123 is ICD-11 MMS 2024-01.
func systemOf(id string) (system, release string) {
	u, err := url.Parse(id)
	if err != nil {
		return "", ""
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	for i := 0; i+2 < len(parts); i++ {
		if parts[i] == "release" {
			switch parts[i+1] {
			case "10":
				return ICD10, parts[i+2]
			case "11":
				return ICD11, parts[i+2]
			}
		}
	}
	return "", ""
}

func lastSegment(id string) string {
	id = strings.TrimRight(id, "/")
	return id[strings.LastIndex(id, "/")+1:]
}
