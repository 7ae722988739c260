package httpx

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// recordSleep replaces the backoff sleep so that tests run instantly and can see the waits.
type recordSleep struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (r *recordSleep) sleep(ctx context.Context, d time.Duration) error {
	r.mu.Lock()
	r.waits = append(r.waits, d)
	r.mu.Unlock()
	return ctx.Err()
}

func TestRetryAfterThenSuccess(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("Retry-After", "3")
			http.Error(w, "slow down", http.StatusTooManyRequests)
			return
		}
		io.WriteString(w, "ok:"+r.UserAgent())
	}))
	defer srv.Close()
	rs := &recordSleep{}
	c := New(Options{UserAgent: "rcmlake-test/1", Sleep: rs.sleep})
	resp, err := c.Get(context.Background(), srv.URL+"/x?number=1234567893", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(resp.Body); got != "ok:rcmlake-test/1" {
		t.Errorf("body %q", got)
	}
	if calls.Load() != 2 {
		t.Errorf("%d calls, want 2", calls.Load())
	}
	if len(rs.waits) != 1 || rs.waits[0] != 3*time.Second {
		t.Errorf("waits %v, want the server's Retry-After of 3s", rs.waits)
	}
}

func TestServerErrorsExhaustAttempts(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		http.Error(w, "upstream broke", http.StatusBadGateway)
	}))
	defer srv.Close()
	rs := &recordSleep{}
	c := New(Options{MaxAttempts: 4, BaseDelay: 100 * time.Millisecond, MaxDelay: 250 * time.Millisecond, Sleep: rs.sleep})
	_, err := c.Get(context.Background(), srv.URL+"/api/?number=1234567893", nil)
	var se *StatusError
	if !errors.As(err, &se) || se.Status != http.StatusBadGateway || se.Attempts != 4 {
		t.Fatalf("err = %v, want a 502 StatusError after 4 attempts", err)
	}
	if strings.Contains(err.Error(), "1234567893") {
		t.Errorf("error leaks the query string: %v", err)
	}
	if !strings.Contains(err.Error(), "upstream broke") {
		t.Errorf("error lacks the server's message: %v", err)
	}
	if calls.Load() != 4 || len(rs.waits) != 3 {
		t.Fatalf("%d calls and %d waits, want 4 and 3", calls.Load(), len(rs.waits))
	}
	for i, w := range rs.waits {
		window := 100 * time.Millisecond << i
		if window > 250*time.Millisecond {
			window = 250 * time.Millisecond
		}
		if w < window/10 || w > window {
			t.Errorf("wait %d = %s, want within [%s, %s]", i, w, window/10, window)
		}
	}
}

func TestClientErrorNotRetried(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		http.Error(w, "nope", http.StatusNotFound)
	}))
	defer srv.Close()
	c := New(Options{Sleep: (&recordSleep{}).sleep})
	_, err := c.Get(context.Background(), srv.URL, nil)
	var se *StatusError
	if !errors.As(err, &se) || se.Status != 404 || calls.Load() != 1 {
		t.Fatalf("err=%v calls=%d, want one 404", err, calls.Load())
	}
}

func TestSlowResponseTimesOutPerAttempt(t *testing.T) {
	var calls atomic.Int32
	release := make(chan struct{})
	defer close(release)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			select { // the first attempt hangs past the timeout
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		io.WriteString(w, "fast")
	}))
	defer srv.Close()
	c := New(Options{Timeout: 100 * time.Millisecond, Sleep: (&recordSleep{}).sleep})
	resp, err := c.Get(context.Background(), srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(resp.Body) != "fast" || calls.Load() != 2 {
		t.Fatalf("body %q after %d calls, want the second attempt's answer", resp.Body, calls.Load())
	}
}

func TestContextCancelStopsRetries(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	c := New(Options{MaxAttempts: 100, Sleep: func(ctx context.Context, d time.Duration) error { cancel(); return ctx.Err() }})
	_, err := c.Get(ctx, srv.URL, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestRetryAfterTooLong(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "3600")
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	defer srv.Close()
	c := New(Options{MaxRetryAfter: time.Minute, Sleep: (&recordSleep{}).sleep})
	_, err := c.Get(context.Background(), srv.URL, nil)
	if err == nil || !strings.Contains(err.Error(), "retry after 1h0m0s") {
		t.Fatalf("err = %v, want a refusal to wait an hour", err)
	}
}

func TestBodyLimit(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(bytes.Repeat([]byte("x"), 1025))
	}))
	defer srv.Close()
	c := New(Options{MaxBodyBytes: 1024})
	if _, err := c.Get(context.Background(), srv.URL, nil); !errors.Is(err, ErrBodyTooLarge) {
		t.Fatalf("err = %v, want ErrBodyTooLarge", err)
	}
}

func TestPostBodyResentOnRetry(t *testing.T) {
	var got []string
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, string(b))
		n := len(got)
		mu.Unlock()
		if n == 1 {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusCreated)
	}))
	defer srv.Close()
	c := New(Options{Sleep: (&recordSleep{}).sleep})
	resp, err := c.Do(context.Background(), Request{Method: "POST", URL: srv.URL, Body: []byte("grant_type=client_credentials")})
	if err != nil || resp.Status != http.StatusCreated {
		t.Fatalf("resp %v err %v", resp, err)
	}
	if len(got) != 2 || got[0] != got[1] || got[1] != "grant_type=client_credentials" {
		t.Fatalf("bodies %q, want the same body twice", got)
	}
}

func TestLogsNeverHoldQueryOrHeaders(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
	}))
	defer srv.Close()
	c := New(Options{Logger: log, Sleep: (&recordSleep{}).sleep})
	h := http.Header{"Authorization": {"Bearer sekret-token"}}
	if _, err := c.Get(context.Background(), srv.URL+"/api/?number=1720377294&last_name=HIZA", h); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, bad := range []string{"1720377294", "HIZA", "sekret-token"} {
		if strings.Contains(out, bad) {
			t.Errorf("log holds %q:\n%s", bad, out)
		}
	}
	if !strings.Contains(out, "/api/") {
		t.Errorf("log lacks the path:\n%s", out)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cases := map[string]time.Duration{
		"":     0,
		"7":    7 * time.Second,
		"-1":   0,
		"soon": 0,
		now.Add(90 * time.Second).Format(http.TimeFormat): 90 * time.Second,
		now.Add(-time.Hour).Format(http.TimeFormat):       0,
	}
	for in, want := range cases {
		if got := parseRetryAfter(in, now); got != want {
			t.Errorf("parseRetryAfter(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestSafeURL(t *testing.T) {
	got := SafeURL("https://user:pw@npiregistry.cms.hhs.gov/api/?version=2.1&number=1720377294#frag")
	if got != "https://npiregistry.cms.hhs.gov/api/" {
		t.Errorf("SafeURL = %q", got)
	}
}
