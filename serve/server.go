// Package serve is `rcmlake serve`: the reporting team's dashboard, the data-quality, runs and
// catalog pages, and the JSON API behind them, including a read-only SQL endpoint. Every read
// of data goes through access.Reader, so grants, PHI masks and the access audit apply to the
// UI, the API, the SQL endpoint and exports alike.
package serve

import (
	"context"
	"crypto/tls"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/rcmlake/rcmlake/access"
	"github.com/rcmlake/rcmlake/catalog"
	"github.com/rcmlake/rcmlake/delta"
)

//go:embed web
var webFS embed.FS

// Server serves one lake.
type Server struct {
	Reader *access.Reader
	OIDC   *OIDC // nil: API tokens only
	// AnonymousRole, when set, is the role of requests that present no credentials. Only for
	// a single-user laptop: the CLI allows it on loopback addresses only.
	AnonymousRole string
	TokenRefresh  time.Duration // how often revoked tokens are noticed; default 10s
	QueryTimeout  time.Duration // per SQL endpoint query; default 30s
	MaxBody       int64         // request body limit; default 1 MiB
	// Metrics serves Prometheus metrics on /metrics to any signed-in principal (a scraper
	// presents an API token); nil: no /metrics.
	Metrics http.Handler
	Log     *slog.Logger

	tls      bool
	sessions sessions
	tokens   tokenCache
	failures failures
	kpi      kpiCache
	pages    map[string]*template.Template
	once     sync.Once
}

func (s *Server) init() {
	s.once.Do(func() {
		if s.TokenRefresh == 0 {
			s.TokenRefresh = 10 * time.Second
		}
		if s.QueryTimeout == 0 {
			s.QueryTimeout = 30 * time.Second
		}
		if s.MaxBody == 0 {
			s.MaxBody = 1 << 20
		}
		if s.Log == nil {
			s.Log = slog.Default()
		}
		s.sessions.m = map[string]session{}
		s.failures.m = map[string]*rateLimiter{}
		s.tokens.s = s
		s.kpi.m = map[string]kpiEntry{}
		s.pages = parsePages()
	})
}

// Handler is the server's whole HTTP surface.
func (s *Server) Handler() http.Handler {
	s.init()
	mux := http.NewServeMux()
	static, _ := fs.Sub(webFS, "web/static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", cacheStatic(http.FileServerFS(static))))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, map[string]string{"status": "ok"}) })
	mux.HandleFunc("GET /login", s.loginPage)
	mux.HandleFunc("POST /login", s.login)
	mux.HandleFunc("POST /logout", s.logout)

	page := func(pattern string, h func(http.ResponseWriter, *http.Request, access.Principal)) {
		mux.HandleFunc(pattern, s.withAuth(h, true))
	}
	api := func(pattern string, h func(http.ResponseWriter, *http.Request, access.Principal)) {
		mux.HandleFunc(pattern, s.withAuth(h, false))
	}
	page("GET /{$}", s.dashboardPage)
	page("GET /quality", s.qualityPage)
	page("GET /quality/{table}", s.qualityRowsPage)
	page("GET /runs", s.runsPage)
	page("GET /runs/{id}", s.runPage)
	page("GET /catalog", s.catalogPage)
	page("GET /catalog/{table}", s.tablePage)
	page("GET /sql", s.sqlPage)
	page("POST /sql", s.sqlPage)

	api("GET /api/me", s.apiMe)
	api("GET /api/kpi", s.apiKPI)
	api("GET /api/tables", s.apiTables)
	api("GET /api/tables/{table}", s.apiTable)
	api("GET /api/tables/{table}/rows", s.apiTableRows)
	api("GET /api/runs", s.apiRuns)
	api("GET /api/runs/{id}", s.apiRun)
	api("GET /api/load_logs", s.apiLoadLogs)
	api("GET /api/quality", s.apiQuality)
	api("GET /api/quality/{table}/rows", s.apiQualityRows)
	api("POST /api/sql", s.apiSQL)
	if s.Metrics != nil {
		api("GET /metrics", func(w http.ResponseWriter, r *http.Request, _ access.Principal) { s.Metrics.ServeHTTP(w, r) })
	}
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path)
	})
	return s.recoverer(s.secure(mux))
}

// withAuth authenticates a request; pages send people to the sign-in page, the API answers 401.
func (s *Server) withAuth(h func(http.ResponseWriter, *http.Request, access.Principal), page bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		client := clientAddr(r)
		if s.failures.blocked(client) {
			w.Header().Set("Retry-After", "5")
			writeError(w, http.StatusTooManyRequests, "too many failed sign-ins; wait and try again")
			return
		}
		p, err := s.authenticate(r)
		if err != nil {
			if !errors.Is(err, errNoCredentials) {
				s.failures.failed(client)
				s.Log.Warn("authentication failed", "client", client, "path", r.URL.Path)
			}
			if page {
				http.Redirect(w, r, "/login", http.StatusSeeOther)
				return
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="rcmlake"`)
			writeError(w, http.StatusUnauthorized, errNoCredentials.Error())
			return
		}
		p.Client = client
		h(w, r, p)
	}
}

// secure sets the security headers and bounds request bodies.
func (s *Server) secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
		if s.tls {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		if !strings.HasPrefix(r.URL.Path, "/static/") {
			h.Set("Cache-Control", "no-store")
		}
		r.Body = http.MaxBytesReader(w, r.Body, s.MaxBody)
		next.ServeHTTP(w, r)
	})
}

// recoverer turns a panic into a 500 with an id to quote; the trace goes to the log only.
func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				id := randomString(6)
				s.Log.Error("panic serving request", "id", id, "path", r.URL.Path, "panic", scrub(fmt.Sprint(v)))
				writeError(w, http.StatusInternalServerError, "internal error (id "+id+")")
			}
		}()
		next.ServeHTTP(w, r)
	})
}

func cacheStatic(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		h.ServeHTTP(w, r)
	})
}

// fail answers an error: refusals as 403, a caller's bad input as 400, anything else as a
// 500 whose details go to the log only, with literals scrubbed (they can hold PHI).
func (s *Server) fail(w http.ResponseWriter, err error, userInput bool) {
	switch {
	case access.IsDenied(err):
		writeError(w, http.StatusForbidden, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		writeError(w, http.StatusGatewayTimeout, "the query took too long")
	case userInput:
		writeError(w, http.StatusBadRequest, err.Error())
	default:
		id := randomString(6)
		s.Log.Error("request failed", "id", id, "err", scrub(err.Error()))
		writeError(w, http.StatusInternalServerError, "internal error (id "+id+")")
	}
}

var literalRe = regexp.MustCompile(`'(?:[^']|'')*'|"(?:[^"]|"")*"`)

// scrub removes quoted literals from an engine message before it is logged.
func scrub(s string) string { return literalRe.ReplaceAllString(s, "'…'") }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// ListenAndServe serves until ctx ends, then shuts down gracefully. With a certificate and
// key it serves HTTPS only (TLS 1.2 or newer).
func (s *Server) ListenAndServe(ctx context.Context, addr, certFile, keyFile string) error {
	s.tls = certFile != ""
	srv := &http.Server{
		Addr:              addr,
		Handler:           s.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      s.QueryTimeout + 30*time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		TLSConfig:         &tls.Config{MinVersion: tls.VersionTLS12},
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() {
		if s.tls {
			errc <- srv.ServeTLS(ln, certFile, keyFile)
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	}
}

// kpiCache keeps dashboards per role and filter for the current gold.kpi_monthly version, so
// fifty people opening the dashboard cost one set of queries. The version is rechecked every
// few seconds.
type kpiCache struct {
	mu        sync.Mutex
	m         map[string]kpiEntry
	version   int64
	checked   time.Time
	versionMu sync.Mutex
	flight    singleflight.Group // one computation per filter, however many ask at once
}

type kpiEntry struct {
	d       *Dashboard
	version int64
}

func (s *Server) kpiVersion(ctx context.Context) (int64, error) {
	c := &s.kpi
	c.versionMu.Lock()
	defer c.versionMu.Unlock()
	if !c.checked.IsZero() && time.Since(c.checked) < 3*time.Second {
		return c.version, nil
	}
	snap, err := delta.Open(s.Reader.Lake.Store, catalog.Key(catalog.Gold, "kpi_monthly")).Latest(ctx)
	if err != nil {
		return 0, fmt.Errorf("gold.kpi_monthly: %w (run rcmlake run first)", err)
	}
	c.version, c.checked = snap.Version, time.Now()
	return c.version, nil
}

func (s *Server) dashboard(ctx context.Context, p access.Principal, f Filter) (*Dashboard, error) {
	if err := s.Reader.Authorize(p, "dashboard", kpiTable, "gold.dim_provider", "gold.dim_department"); err != nil {
		return nil, err
	}
	v, err := s.kpiVersion(ctx)
	if err != nil {
		return nil, err
	}
	// The dashboard holds no PHI and reads only the tables just authorised, so every role
	// allowed to see it shares one cached copy per filter.
	key := fmt.Sprintf("%d|%v", v, f)
	s.kpi.mu.Lock()
	e, ok := s.kpi.m[key]
	s.kpi.mu.Unlock()
	if ok {
		s.Reader.Record(p, "dashboard", []string{kpiTable}, int64(len(e.d.Months)))
		return e.d, nil
	}
	d, err, _ := s.kpi.flight.Do(key, func() (any, error) {
		d, err := dashboard(ctx, s.Reader, p, f, v)
		if err != nil {
			return nil, err
		}
		s.kpi.mu.Lock()
		if len(s.kpi.m) > 1000 {
			s.kpi.m = map[string]kpiEntry{}
		}
		s.kpi.m[key] = kpiEntry{d: d, version: v}
		s.kpi.mu.Unlock()
		return d, nil
	})
	if err != nil {
		return nil, err
	}
	return d.(*Dashboard), nil
}

// Warm computes the dashboards most people open first (the network and each hospital) for
// the current KPI version, so the first visitors after a start or a pipeline run do not wait.
func (s *Server) Warm(ctx context.Context) error {
	s.init()
	p := access.Principal{Name: "rcmlake serve (cache warm-up)", Role: "", Via: "warm"}
	for _, r := range s.Reader.Policy.Roles() {
		if s.Reader.Policy.CanRead(r.Name, catalog.Gold, "kpi_monthly") && s.Reader.Policy.CanRead(r.Name, catalog.Gold, "dim_provider") && s.Reader.Policy.CanRead(r.Name, catalog.Gold, "dim_department") {
			p.Role = r.Name
			break
		}
	}
	if p.Role == "" {
		return nil // no role may see the dashboard
	}
	d, err := s.dashboard(ctx, p, Filter{})
	if err != nil {
		return err
	}
	for _, h := range d.Options.Hospitals {
		if _, err := s.dashboard(ctx, p, Filter{Hospital: h}); err != nil {
			return err
		}
	}
	return nil
}

// WarmEvery rewarms the cache when gold.kpi_monthly gets a new version, until ctx ends.
func (s *Server) WarmEvery(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.Warm(ctx); err != nil && ctx.Err() == nil {
				s.Log.Warn("dashboard warm-up", "err", scrub(err.Error()))
			}
		}
	}
}

func contextWithTimeout(r *http.Request, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), d)
}
