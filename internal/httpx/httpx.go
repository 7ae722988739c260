// Package httpx is the project's one HTTP client for outside APIs: every call has a context and a
// per-attempt timeout, is rate limited, retried with exponential backoff and jitter on 429, 5xx and
// transport errors (honouring Retry-After), and reads at most MaxBodyBytes of the answer.
//
// It logs only the scheme, host and path of a request (never the query string, which can hold
// identifiers, and never headers, which can hold tokens), at debug level.
package httpx

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"
)

// Defaults used when an Options field is zero.
const (
	DefaultTimeout       = 30 * time.Second
	DefaultMaxAttempts   = 5
	DefaultBaseDelay     = 500 * time.Millisecond
	DefaultMaxDelay      = 30 * time.Second
	DefaultMaxRetryAfter = 2 * time.Minute
	DefaultMaxBodyBytes  = 32 << 20
	DefaultUserAgent     = "rcmlake (+https://github.com/rcmlake/rcmlake)"
)

// Options configure a Client. The zero value is usable: every zero field takes its default.
type Options struct {
	UserAgent     string
	Timeout       time.Duration // per attempt, including reading the body
	MaxAttempts   int           // total attempts, first one included; 1 disables retries
	BaseDelay     time.Duration // first backoff; doubles each retry, with full jitter
	MaxDelay      time.Duration // cap of one backoff
	MaxRetryAfter time.Duration // a longer Retry-After fails the call instead of stalling the load
	RatePerSec    float64       // 0 means unlimited
	Burst         int           // default 1
	MaxBodyBytes  int64
	Transport     http.RoundTripper // default http.DefaultTransport
	Logger        *slog.Logger      // default slog.Default()
	// Sleep waits between attempts; tests replace it. It must return ctx.Err() when ctx ends.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Client is safe for concurrent use.
type Client struct {
	o       Options
	hc      *http.Client
	limiter *rate.Limiter
}

// New returns a Client with o's settings.
func New(o Options) *Client {
	if o.UserAgent == "" {
		o.UserAgent = DefaultUserAgent
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = DefaultMaxAttempts
	}
	if o.BaseDelay <= 0 {
		o.BaseDelay = DefaultBaseDelay
	}
	if o.MaxDelay <= 0 {
		o.MaxDelay = DefaultMaxDelay
	}
	if o.MaxRetryAfter <= 0 {
		o.MaxRetryAfter = DefaultMaxRetryAfter
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.Transport == nil {
		o.Transport = http.DefaultTransport
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Sleep == nil {
		o.Sleep = sleep
	}
	lim := rate.NewLimiter(rate.Inf, 1)
	if o.RatePerSec > 0 {
		b := o.Burst
		if b <= 0 {
			b = 1
		}
		lim = rate.NewLimiter(rate.Limit(o.RatePerSec), b)
	}
	return &Client{o: o, hc: &http.Client{Transport: o.Transport}, limiter: lim}
}

// Request is one call. Body is a byte slice so that every retry can send it again.
type Request struct {
	Method string // default GET
	URL    string
	Header http.Header
	Body   []byte
}

// Response is a fully read answer with a 2xx status.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// StatusError is a non-2xx answer that was not (or no longer) worth retrying.
type StatusError struct {
	Method   string
	URL      string // without the query string
	Status   int
	Body     string // the first bytes of the answer, for the API's own message
	Attempts int
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("%s %s: HTTP %d %s", e.Method, e.URL, e.Status, http.StatusText(e.Status))
	if e.Attempts > 1 {
		msg += fmt.Sprintf(" after %d attempts", e.Attempts)
	}
	if b := strings.TrimSpace(e.Body); b != "" {
		msg += ": " + b
	}
	return msg
}

// ErrBodyTooLarge is returned (wrapped) when an answer exceeds MaxBodyBytes.
var ErrBodyTooLarge = errors.New("response body larger than the configured maximum")

// Get is Do with a GET and the given headers.
func (c *Client) Get(ctx context.Context, rawURL string, header http.Header) (*Response, error) {
	return c.Do(ctx, Request{Method: http.MethodGet, URL: rawURL, Header: header})
}

// Do sends r, retrying as the Options say, and returns the answer when its status is 2xx.
// Other statuses come back as a *StatusError.
func (c *Client) Do(ctx context.Context, r Request) (*Response, error) {
	if r.Method == "" {
		r.Method = http.MethodGet
	}
	safe := SafeURL(r.URL)
	var lastErr error
	for attempt := 1; ; attempt++ {
		if err := c.limiter.Wait(ctx); err != nil {
			return nil, fmt.Errorf("%s %s: waiting for the rate limit: %w", r.Method, safe, err)
		}
		resp, retryAfter, err := c.once(ctx, r)
		if err == nil {
			return resp, nil
		}
		lastErr = err
		var se *StatusError
		if errors.As(err, &se) {
			se.Attempts = attempt
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s %s: %w", r.Method, safe, ctx.Err())
		}
		if !retryable(err) || attempt >= c.o.MaxAttempts {
			if attempt > 1 && se == nil {
				return nil, fmt.Errorf("%w (after %d attempts)", lastErr, attempt)
			}
			return nil, lastErr
		}
		wait := c.backoff(attempt)
		if retryAfter > 0 {
			if retryAfter > c.o.MaxRetryAfter {
				return nil, fmt.Errorf("%w; the server asks to retry after %s, more than the %s allowed: run the load again later", lastErr, retryAfter, c.o.MaxRetryAfter)
			}
			wait = retryAfter
		}
		c.o.Logger.DebugContext(ctx, "http retry", "method", r.Method, "url", safe, "attempt", attempt, "wait", wait, "error", shortErr(err))
		if err := c.o.Sleep(ctx, wait); err != nil {
			return nil, fmt.Errorf("%s %s: %w (last error: %v)", r.Method, safe, err, lastErr)
		}
	}
}

// once makes one attempt; retryAfter is the server's Retry-After, if any.
func (c *Client) once(ctx context.Context, r Request) (*Response, time.Duration, error) {
	actx, cancel := context.WithTimeout(ctx, c.o.Timeout)
	defer cancel()
	var body io.Reader
	if r.Body != nil {
		body = bytes.NewReader(r.Body)
	}
	req, err := http.NewRequestWithContext(actx, r.Method, r.URL, body)
	if err != nil {
		return nil, 0, permanent{fmt.Errorf("%s %s: %w", r.Method, SafeURL(r.URL), err)}
	}
	for k, vs := range r.Header {
		req.Header[k] = append([]string(nil), vs...)
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", c.o.UserAgent)
	}
	start := time.Now()
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, 0, transportError{fmt.Errorf("%s %s: %w", r.Method, SafeURL(r.URL), stripURL(err))}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, c.o.MaxBodyBytes+1))
	if err != nil {
		return nil, 0, transportError{fmt.Errorf("%s %s: reading the answer: %w", r.Method, SafeURL(r.URL), stripURL(err))}
	}
	if int64(len(data)) > c.o.MaxBodyBytes {
		return nil, 0, permanent{fmt.Errorf("%s %s: %w (%d bytes)", r.Method, SafeURL(r.URL), ErrBodyTooLarge, c.o.MaxBodyBytes)}
	}
	c.o.Logger.DebugContext(ctx, "http", "method", r.Method, "url", SafeURL(r.URL), "status", resp.StatusCode, "bytes", len(data), "ms", time.Since(start).Milliseconds())
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return &Response{Status: resp.StatusCode, Header: resp.Header, Body: data}, 0, nil
	}
	snippet := string(data)
	if len(snippet) > 512 {
		snippet = snippet[:512] + "…"
	}
	return nil, parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()),
		&StatusError{Method: r.Method, URL: SafeURL(r.URL), Status: resp.StatusCode, Body: snippet}
}

type permanent struct{ error }

func (p permanent) Unwrap() error { return p.error }

type transportError struct{ error }

func (t transportError) Unwrap() error { return t.error }

func retryable(err error) bool {
	var se *StatusError
	if errors.As(err, &se) {
		return Retryable(se.Status)
	}
	var te transportError
	return errors.As(err, &te)
}

// Retryable reports whether a status is worth another attempt: 408, 425, 429 and 5xx except 501.
func Retryable(status int) bool {
	switch status {
	case http.StatusRequestTimeout, http.StatusTooEarly, http.StatusTooManyRequests:
		return true
	case http.StatusNotImplemented:
		return false
	}
	return status >= 500 && status <= 599
}

// backoff is full jitter over an exponentially growing window: rand(0, min(max, base*2^(n-1))),
// never below a tenth of the window so that retries do not hammer the server.
func (c *Client) backoff(attempt int) time.Duration {
	window := c.o.BaseDelay << min(attempt-1, 30)
	if window > c.o.MaxDelay || window <= 0 {
		window = c.o.MaxDelay
	}
	floor := window / 10
	return floor + time.Duration(rand.Int64N(int64(window-floor)+1))
}

// parseRetryAfter reads delta-seconds or an HTTP date; 0 means absent or unusable.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil {
		if s < 0 {
			return 0
		}
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// SafeURL drops the query string, fragment and user info, which can hold identifiers or secrets,
// so that a URL can go into a log line or an error message.
func SafeURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<unparsable url>"
	}
	u.User = nil
	u.RawQuery = ""
	u.ForceQuery = false
	u.Fragment = ""
	return u.String()
}

// stripURL replaces a *url.Error's URL (which carries the query) with its safe form.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%w", ue.Err)
	}
	return err
}

func shortErr(err error) string {
	s := err.Error()
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
