// Package pgserver starts a throwaway PostgreSQL server on 127.0.0.1, for the tests (through
// internal/testenv) and for rcmlake bench, which extracts from PostgreSQL at scale.
package pgserver

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
)

// Server is a running PostgreSQL server with its data in a temporary folder.
type Server struct {
	Port int
	dir  string
	bin  string
}

// DSN is a connection string to a database of the server.
func (s *Server) DSN(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.Port, db)
}

// CreateDB creates database db unless it exists.
func (s *Server) CreateDB(db string) error {
	conn, err := sql.Open("pgx", s.DSN("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close()
	var exists bool
	if err := conn.QueryRow("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", db).Scan(&exists); err != nil {
		return err
	}
	if exists {
		return nil
	}
	if _, err := conn.Exec(`CREATE DATABASE "` + db + `"`); err != nil {
		return fmt.Errorf("create database %s: %w", db, err)
	}
	return nil
}

// BinDir finds initdb and pg_ctl: $RCMLAKE_PG_BIN, Debian's /usr/lib/postgresql/<v>/bin, or PATH.
func BinDir() (string, error) {
	if d := os.Getenv("RCMLAKE_PG_BIN"); d != "" {
		return d, nil
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(matches) > 0 {
		return filepath.Dir(matches[len(matches)-1]), nil
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", fmt.Errorf("PostgreSQL is not installed (no initdb); scripts/deps/postgres.sh installs it")
}

// command runs a PostgreSQL program; initdb refuses to run as root, so as root the server
// runs as the postgres user.
func (s *Server) command(name string, args ...string) *exec.Cmd {
	if os.Geteuid() == 0 {
		return exec.Command("runuser", append([]string{"-u", "postgres", "--", filepath.Join(s.bin, name)}, args...)...)
	}
	return exec.Command(filepath.Join(s.bin, name), args...)
}

// Start initialises a cluster in a new temporary folder and starts it on a free port, with
// durability off (fsync, synchronous commit): the data is throwaway.
func Start() (*Server, error) {
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "rcmlake-pg-*")
	if err != nil {
		return nil, err
	}
	s := &Server{dir: dir, bin: bin}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("running as root needs the postgres user: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		os.Chmod(dir, 0o755)
		if err := os.Chown(dir, uid, gid); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	data := filepath.Join(dir, "data")
	if out, err := s.command("initdb", "-D", data, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8").CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %v: %s", err, out)
	}
	for attempt := 0; attempt < 3; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		opts := fmt.Sprintf("-p %d -k %s -h 127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off", port, dir)
		out, err := s.command("pg_ctl", "-D", data, "-o", opts, "-l", filepath.Join(dir, "log"), "-w", "-t", "30", "start").CombinedOutput()
		if err != nil {
			continue
		}
		s.Port = port
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		conn, _ := sql.Open("pgx", s.DSN("postgres"))
		for ctx.Err() == nil {
			if conn.PingContext(ctx) == nil {
				conn.Close()
				return s, nil
			}
			time.Sleep(100 * time.Millisecond)
		}
		conn.Close()
		s.Stop()
		return nil, fmt.Errorf("PostgreSQL started but does not answer: %s", out)
	}
	log, _ := os.ReadFile(filepath.Join(dir, "log"))
	os.RemoveAll(dir)
	return nil, fmt.Errorf("pg_ctl start failed: %s", log)
}

// Stop stops the server and removes its folder.
func (s *Server) Stop() {
	s.command("pg_ctl", "-D", filepath.Join(s.dir, "data"), "-m", "immediate", "stop").Run()
	os.RemoveAll(s.dir)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Version is the server's version, e.g. "15.8".
func (s *Server) Version() string {
	conn, err := sql.Open("pgx", s.DSN("postgres"))
	if err != nil {
		return "?"
	}
	defer conn.Close()
	var v string
	if err := conn.QueryRow("SHOW server_version").Scan(&v); err != nil {
		return "?"
	}
	return v
}
