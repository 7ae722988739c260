package testenv

import (
	"sync"
	"testing"

	"github.com/rcmlake/rcmlake/internal/pgserver"
)

// Postgres is a running PostgreSQL server on 127.0.0.1, one per test binary.
type Postgres struct {
	Port int
	srv  *pgserver.Server
}

// DSN is a connection string to a database of the server (created by StartPostgres).
func (p *Postgres) DSN(db string) string { return p.srv.DSN(db) }

var (
	pgOnce sync.Once
	pg     *Postgres
	pgErr  error
)

// StartPostgres starts (once per test binary) a throwaway PostgreSQL server on 127.0.0.1 and
// creates database db on it.
func StartPostgres(t testing.TB, db string) *Postgres {
	t.Helper()
	pgOnce.Do(func() {
		srv, err := pgserver.Start()
		if err != nil {
			pgErr = err
			return
		}
		pg = &Postgres{Port: srv.Port, srv: srv}
	})
	if pgErr != nil {
		skipOrFail(t, "PostgreSQL: %v", pgErr)
	}
	if err := pg.srv.CreateDB(db); err != nil {
		t.Fatal(err)
	}
	return pg
}

// stopPostgres stops the server and removes its folder.
func stopPostgres() {
	if pg == nil {
		return
	}
	pg.srv.Stop()
	pg = nil
}
