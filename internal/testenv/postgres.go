package testenv

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
)

// Postgres is a running PostgreSQL server on 127.0.0.1, one per test binary.
type Postgres struct {
	Port int
	dir  string
}

// DSN is a connection string to a database of the server (created if missing).
func (p *Postgres) DSN(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", p.Port, db)
}

var (
	pgOnce sync.Once
	pg     *Postgres
	pgErr  error
	pgBin  string
)

// pgBinDir finds initdb and pg_ctl: $RCMLAKE_PG_BIN, Debian's /usr/lib/postgresql/<v>/bin, or PATH.
func pgBinDir() (string, error) {
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

// StartPostgres starts (once per test binary) a throwaway PostgreSQL server on 127.0.0.1 and
// creates database db on it. initdb refuses to run as root, so the server runs as the
// postgres user when the tests run as root.
func StartPostgres(t testing.TB, db string) *Postgres {
	t.Helper()
	pgOnce.Do(func() { pg, pgErr = startPostgres() })
	if pgErr != nil {
		skipOrFail(t, "PostgreSQL: %v", pgErr)
	}
	conn, err := sql.Open("pgx", pg.DSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var exists bool
	conn.QueryRow("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", db).Scan(&exists)
	if !exists {
		if _, err := conn.Exec(`CREATE DATABASE "` + db + `"`); err != nil {
			t.Fatalf("create database %s: %v", db, err)
		}
	}
	return pg
}

func startPostgres() (*Postgres, error) {
	bin, err := pgBinDir()
	if err != nil {
		return nil, err
	}
	pgBin = bin
	dir, err := os.MkdirTemp("", "rcmlake-pg-*")
	if err != nil {
		return nil, err
	}
	runAs := func(name string, args ...string) *exec.Cmd {
		cmd := exec.Command(filepath.Join(bin, name), args...)
		if os.Geteuid() == 0 {
			cmd = exec.Command("runuser", append([]string{"-u", "postgres", "--", filepath.Join(bin, name)}, args...)...)
		}
		return cmd
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root needs the postgres user: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		os.Chmod(dir, 0o755)
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, err
		}
	}
	data := filepath.Join(dir, "data")
	if out, err := runAs("initdb", "-D", data, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %v: %s", err, out)
	}
	for attempt := 0; attempt < 3; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		opts := fmt.Sprintf("-p %d -k %s -h 127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off", port, dir)
		out, err := runAs("pg_ctl", "-D", data, "-o", opts, "-l", filepath.Join(dir, "log"), "-w", "-t", "30", "start").CombinedOutput()
		if err != nil {
			continue
		}
		p := &Postgres{Port: port, dir: dir}
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		conn, _ := sql.Open("pgx", p.DSN("postgres"))
		for ctx.Err() == nil {
			if conn.PingContext(ctx) == nil {
				conn.Close()
				return p, nil
			}
			time.Sleep(100 * time.Millisecond)
		}
		conn.Close()
		return nil, fmt.Errorf("PostgreSQL started but does not answer: %s", out)
	}
	log, _ := os.ReadFile(filepath.Join(dir, "log"))
	return nil, fmt.Errorf("pg_ctl start failed: %s", log)
}

// stopPostgres stops the server and removes its folder.
func stopPostgres() {
	if pg == nil {
		return
	}
	cmd := exec.Command(filepath.Join(pgBin, "pg_ctl"), "-D", filepath.Join(pg.dir, "data"), "-m", "immediate", "stop")
	if os.Geteuid() == 0 {
		cmd = exec.Command("runuser", "-u", "postgres", "--", filepath.Join(pgBin, "pg_ctl"), "-D", filepath.Join(pg.dir, "data"), "-m", "immediate", "stop")
	}
	cmd.Run()
	os.RemoveAll(pg.dir)
	pg = nil
}
