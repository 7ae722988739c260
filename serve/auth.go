package serve

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/rcmlake/rcmlake/access"
)

// Authentication: API tokens (Authorization: Bearer rcm_...), OIDC bearer JWTs when an
// issuer is configured, and for browsers a session cookie obtained by signing in with a token.
// Cookies are HttpOnly and SameSite=Strict; every state-changing form also carries a CSRF
// token (double-submit), checked against its cookie.

const (
	sessionCookie = "rcm_session"
	csrfCookie    = "rcm_csrf"
	sessionTTL    = 8 * time.Hour
)

var errNoCredentials = errors.New("sign in: send Authorization: Bearer <token>, or use the sign-in page")

type session struct {
	p       access.Principal
	expires time.Time
}

type sessions struct {
	mu sync.Mutex
	m  map[string]session
}

func (s *sessions) create(p access.Principal) string {
	id := randomString(32)
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	for k, v := range s.m { // drop expired sessions as new ones come
		if now.After(v.expires) {
			delete(s.m, k)
		}
	}
	s.m[id] = session{p: p, expires: now.Add(sessionTTL)}
	return id
}

func (s *sessions) get(id string) (access.Principal, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[id]
	if !ok || time.Now().After(v.expires) {
		delete(s.m, id)
		return access.Principal{}, false
	}
	return v.p, true
}

func (s *sessions) drop(id string) {
	s.mu.Lock()
	delete(s.m, id)
	s.mu.Unlock()
}

func randomString(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // the system's randomness is gone; nothing secure can continue
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// tokenCache reloads the stored tokens now and then, so a revoked token stops working within
// the refresh interval without a restart.
type tokenCache struct {
	s       *Server
	mu      sync.Mutex
	tokens  *access.Tokens
	fetched time.Time
}

func (c *tokenCache) get(ctx context.Context) (*access.Tokens, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tokens != nil && time.Since(c.fetched) < c.s.TokenRefresh {
		return c.tokens, nil
	}
	ts, err := access.LoadTokens(ctx, c.s.Reader.Lake.Store)
	if err != nil {
		if c.tokens != nil {
			return c.tokens, nil // keep serving with the last good list
		}
		return nil, err
	}
	c.tokens, c.fetched = ts, time.Now()
	return ts, nil
}

// failures limits authentication failures per client address: a few tries, then one every
// few seconds, so tokens cannot be guessed online.
type failures struct {
	mu sync.Mutex
	m  map[string]*rateLimiter
}

func (f *failures) limiter(client string) *rateLimiter {
	f.mu.Lock()
	defer f.mu.Unlock()
	l, ok := f.m[client]
	if !ok {
		if len(f.m) > 10000 {
			f.m = map[string]*rateLimiter{} // bounded memory under a spray of addresses
		}
		l = rate.NewLimiter(rate.Every(5*time.Second), 5)
		f.m[client] = l
	}
	return l
}

// blocked reports whether a client has used up its failures.
func (f *failures) blocked(client string) bool { return f.limiter(client).Tokens() < 1 }

// failed counts one failure.
func (f *failures) failed(client string) { f.limiter(client).Allow() }

func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// authenticate finds who is calling. It returns errNoCredentials when nothing was presented.
func (s *Server) authenticate(r *http.Request) (access.Principal, error) {
	via := "api"
	if !strings.HasPrefix(r.URL.Path, "/api/") {
		via = "ui"
	}
	if h := r.Header.Get("Authorization"); h != "" {
		bearer, ok := strings.CutPrefix(h, "Bearer ")
		if !ok {
			return access.Principal{}, access.ErrBadToken
		}
		bearer = strings.TrimSpace(bearer)
		if strings.HasPrefix(bearer, access.TokenPrefix) {
			p, err := s.verifyToken(r.Context(), bearer)
			p.Via = via
			return p, err
		}
		if s.OIDC != nil {
			p, err := s.OIDC.verify(r.Context(), bearer)
			p.Via = via
			return p, err
		}
		return access.Principal{}, access.ErrBadToken
	}
	if c, err := r.Cookie(sessionCookie); err == nil {
		if p, ok := s.sessions.get(c.Value); ok {
			p.Via = via
			return p, nil
		}
	}
	if s.AnonymousRole != "" {
		return access.Principal{Name: "anonymous", Role: s.AnonymousRole, Via: via}, nil
	}
	return access.Principal{}, errNoCredentials
}

func (s *Server) verifyToken(ctx context.Context, text string) (access.Principal, error) {
	ts, err := s.tokens.get(ctx)
	if err != nil {
		return access.Principal{}, err
	}
	t, err := ts.Verify(text, time.Now())
	if err != nil {
		return access.Principal{}, err
	}
	return access.Principal{Name: t.Name + " (token " + t.ID + ")", Role: t.Role}, nil
}

// csrfToken returns the request's CSRF token, setting its cookie on first sight.
func (s *Server) csrfToken(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(csrfCookie); err == nil && len(c.Value) >= 32 {
		return c.Value
	}
	v := randomString(32)
	http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: v, Path: "/", HttpOnly: true, Secure: s.tls, SameSite: http.SameSiteStrictMode})
	return v
}

// checkCSRF verifies a form's token against its cookie.
func checkCSRF(r *http.Request) bool {
	c, err := r.Cookie(csrfCookie)
	if err != nil || c.Value == "" {
		return false
	}
	v := r.PostFormValue("csrf")
	if v == "" {
		v = r.Header.Get("X-CSRF-Token")
	}
	return subtle.ConstantTimeCompare([]byte(c.Value), []byte(v)) == 1
}

type rateLimiter = rate.Limiter
