package testenv

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// RequireServers reports whether tests must fail rather than skip when a server they need
// cannot be started (CI sets RCMLAKE_REQUIRE_SERVERS=1).
func RequireServers() bool { return os.Getenv("RCMLAKE_REQUIRE_SERVERS") == "1" }

// skipOrFail skips the test with the reason, or fails it when servers are required.
func skipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if RequireServers() {
		t.Fatalf("%s (RCMLAKE_REQUIRE_SERVERS=1, so this is a failure, not a skip)", msg)
	}
	t.Skip(msg)
}

// server is one child process serving HTTP on 127.0.0.1, shared by every test of a test
// binary: starting Azurite or moto costs a second or two, far more than the tests.
type server struct {
	name string
	cmd  *exec.Cmd
	dir  string // temporary working folder, removed on stop
	done chan struct{}
}

var (
	serversMu sync.Mutex
	servers   []*server
)

// StopServers stops every server this test binary started. Call it from TestMain after
// m.Run; without it the servers die with the test binary anyway (Pdeathsig).
func StopServers() {
	serversMu.Lock()
	defer serversMu.Unlock()
	for _, s := range servers {
		s.stop()
	}
	servers = nil
	stopPostgres()
}

// freePort asks the kernel for a free TCP port on 127.0.0.1. Another process may take it
// before the server binds it; startServer retries for that case.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// lockedBuffer collects a child's output for error messages.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() > 256<<10 { // keep the start and the end, which say why it failed
		b := l.b.Bytes()
		keep := append(append([]byte{}, b[:64<<10]...), b[len(b)-64<<10:]...)
		l.b.Reset()
		l.b.Write(keep)
	}
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startServer runs the command that args(port, dir) builds, waits until
// http://127.0.0.1:port/ready answers any HTTP status, and registers the server for
// StopServers. It tries three ports before giving up.
func startServer(name string, args func(port int, dir string) []string, readyPath string) (*server, int, error) {
	return startServerProbe(name, args, func(s *server, port int) error {
		return waitHTTP(s, fmt.Sprintf("http://127.0.0.1:%d%s", port, readyPath), 60*time.Second)
	}, nil)
}

// startServerProbe is startServer with its own readiness probe, and optional extra
// environment for the child.
func startServerProbe(name string, args func(port int, dir string) []string, ready func(s *server, port int) error, env []string) (*server, int, error) {
	var lastErr error
	for range 3 {
		port, err := freePort()
		if err != nil {
			return nil, 0, err
		}
		dir, err := os.MkdirTemp("", "rcmlake-"+name+"-")
		if err != nil {
			return nil, 0, err
		}
		argv := args(port, dir)
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Dir = dir
		if env != nil {
			cmd.Env = append(os.Environ(), env...)
		}
		out := &lockedBuffer{}
		cmd.Stdout, cmd.Stderr = out, out
		// Own process group, so stop can end the server's children (npm shims, etc.);
		// Pdeathsig ends it if the test binary dies without StopServers.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			os.RemoveAll(dir)
			return nil, 0, fmt.Errorf("start %s: %w", name, err)
		}
		s := &server{name: name, cmd: cmd, dir: dir, done: make(chan struct{})}
		go func() { cmd.Wait(); close(s.done) }()
		if err := ready(s, port); err != nil {
			s.stop()
			lastErr = fmt.Errorf("%s on port %d: %w\n%s output (last lines):\n%s", name, port, err, name, tail(out.String(), 40))
			continue
		}
		serversMu.Lock()
		servers = append(servers, s)
		serversMu.Unlock()
		return s, port, nil
	}
	return nil, 0, lastErr
}

func waitHTTP(s *server, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case <-s.done:
			return fmt.Errorf("exited before it was ready (%v)", s.cmd.ProcessState)
		case <-ctx.Done():
			return fmt.Errorf("not ready after %v: %w", timeout, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// waitTCP waits until 127.0.0.1:port accepts a connection: for servers that speak no
// HTTP/1.1 (gRPC).
func waitTCP(s *server, port int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-s.done:
			return fmt.Errorf("exited before it was ready (%v)", s.cmd.ProcessState)
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not listening after %v: %w", timeout, err)
		}
	}
}

// tail is the last n lines of a log: where a JVM says why it stopped.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func (s *server) stop() {
	if s.cmd.Process != nil {
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
			<-s.done
		}
	}
	os.RemoveAll(s.dir)
}
