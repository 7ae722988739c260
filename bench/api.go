package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rcmlake/rcmlake/engine/duckdb"
)

// apiLoad serves a world with rcmlake serve (a child process) and sends it the dashboard's KPI
// requests from APIClients clients at once, as BenchmarkKPIAPILoad does in-process.
func (b *Bench) apiLoad(ctx context.Context, world string) (*API, error) {
	logPath := filepath.Join(world, "bench.log")
	tok, err := b.runProc(ctx, world, logPath, "tokens", "create", "--name", "bench", "--role", "analyst", "--expires", "1h")
	if err != nil {
		return nil, err
	}
	token := strings.TrimSpace(tok.Stdout)
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(b.opts.Bin, "--log-level", "warn", "serve", "--listen", addr)
	cmd.Dir, cmd.Stdout, cmd.Stderr = world, logf, logf
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	waited := false
	defer func() {
		if !waited {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: b.opts.APIClients}, Timeout: 30 * time.Second}
	base := "http://" + addr
	deadline := time.Now().Add(2 * time.Minute)
	for {
		resp, err := client.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, fmt.Errorf("rcmlake serve did not answer on %s (log: %s)", addr, logPath)
		}
		time.Sleep(200 * time.Millisecond)
	}
	paths := []string{"/api/kpi", "/api/kpi?hospital=hos-a", "/api/kpi?hospital=hos-b", "/api/kpi?payer=Medicare",
		"/api/kpi?hospital=hos-a&payer=Aetna", "/api/kpi?from=2024-02"}
	get := func(p string) (time.Duration, error) {
		req, _ := http.NewRequestWithContext(ctx, "GET", base+p, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		t0 := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return 0, fmt.Errorf("GET %s: status %d", p, resp.StatusCode)
		}
		return time.Since(t0), nil
	}
	for _, p := range paths { // one warm request each, as a dashboard's first load
		if _, err := get(p); err != nil {
			return nil, err
		}
	}
	n, per := b.opts.APIClients, b.opts.APIRequests
	lat := make([]time.Duration, n*per)
	var mu sync.Mutex
	errs := 0
	var firstErr error
	var wg sync.WaitGroup
	start := time.Now()
	for c := 0; c < n; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for j := 0; j < per; j++ {
				d, err := get(paths[(c+j)%len(paths)])
				if err != nil {
					mu.Lock()
					errs++
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					d = 30 * time.Second
				}
				lat[c*per+j] = d
			}
		}(c)
	}
	wg.Wait()
	wall := time.Since(start)
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	waited = true
	if errs > 0 {
		return nil, fmt.Errorf("%d of %d requests failed; first: %v", errs, len(lat), firstErr)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	a := &API{Clients: n, Requests: len(lat), P50ms: ms(lat[len(lat)/2]), P99ms: ms(lat[int(0.99*float64(len(lat)-1))]),
		MaxMs: ms(lat[len(lat)-1]), ReqPerSec: float64(len(lat)) / wall.Seconds()}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		a.PeakRSS = int64(ru.Maxrss) * 1024
	}
	return a, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// duckdbVersion is the version of the DuckDB linked into this binary (the one the steps use).
func duckdbVersion(ctx context.Context) string {
	e, err := duckdb.Open(duckdb.Options{})
	if err != nil {
		return "unknown: " + err.Error()
	}
	defer e.Close()
	var v string
	if err := e.DB().QueryRowContext(ctx, "SELECT version()").Scan(&v); err != nil {
		return "unknown: " + err.Error()
	}
	return v
}
