package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/rcmlake/rcmlake/access"
)

// APILoad is the dashboard KPI API under concurrent clients.
type APILoad struct {
	Clients   int     `json:"clients"`
	Requests  int     `json:"requests"`
	P50Ms     float64 `json:"p50_ms"`
	P99Ms     float64 `json:"p99_ms"`
	MaxMs     float64 `json:"max_ms"`
	PerSecond float64 `json:"requests_per_sec"`
	Errors    int     `json:"errors"`
}

// kpiPaths are the filters a dashboard asks for.
var kpiPaths = []string{"/api/kpi", "/api/kpi?hospital=hos-a", "/api/kpi?hospital=hos-b", "/api/kpi?payer=Medicare",
	"/api/kpi?hospital=hos-a&payer=Aetna", "/api/kpi?from=2024-02"}

// measureAPI starts `rcmlake serve` on the world's lake and sends clients×perClient requests
// to /api/kpi, each client one after another, with an analyst's token.
func measureAPI(ctx context.Context, r *runner, dir string, clients, perClient int) (APILoad, error) {
	res := APILoad{Clients: clients, Requests: clients * perClient}
	_, out, err := r.run(ctx, dir, "tokens create", "tokens", "create", "--name", "bench", "--role", "analyst", "--expires", "1d")
	if err != nil {
		return res, err
	}
	var token string
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, access.TokenPrefix) {
			token = strings.TrimSpace(line)
		}
	}
	if token == "" {
		return res, fmt.Errorf("rcmlake tokens create printed no token")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return res, err
	}
	addr := l.Addr().String()
	l.Close()
	srv := exec.CommandContext(ctx, r.bin, "serve", "--listen", addr, "--log-level", "warn")
	srv.Dir = dir
	srv.Stdout, srv.Stderr = io.Discard, os.Stderr
	if err := srv.Start(); err != nil {
		return res, err
	}
	defer func() { srv.Process.Signal(os.Interrupt); srv.Wait() }()
	base := "http://" + addr
	deadline := time.Now().Add(2 * time.Minute)
	for {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			return res, fmt.Errorf("rcmlake serve did not answer on %s: %w", addr, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}, Timeout: time.Minute}
	get := func(path string) error {
		req, _ := http.NewRequestWithContext(ctx, "GET", base+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("GET %s: status %d", path, resp.StatusCode)
		}
		return nil
	}
	if err := get(kpiPaths[0]); err != nil { // the server warms its cache at start
		return res, err
	}
	lat := make([]time.Duration, clients*perClient)
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for j := 0; j < perClient; j++ {
				t0 := time.Now()
				if err := get(kpiPaths[(c+j)%len(kpiPaths)]); err != nil {
					mu.Lock()
					res.Errors++
					mu.Unlock()
				}
				lat[c*perClient+j] = time.Since(t0)
			}
		}(c)
	}
	wg.Wait()
	wall := time.Since(start)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	res.P50Ms, res.P99Ms = ms(lat[len(lat)/2]), ms(lat[int(0.99*float64(len(lat)-1))])
	res.MaxMs, res.PerSecond = ms(lat[len(lat)-1]), float64(len(lat))/wall.Seconds()
	r.log("  %-28s p50 %.1f ms, p99 %.1f ms, %.0f req/s, %d errors", "KPI API load", res.P50Ms, res.P99Ms, res.PerSecond, res.Errors)
	return res, nil
}
