package sqldb

import (
	"context"
	"database/sql"
	"encoding/csv"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rcmlake/rcmlake/internal/testenv"
)

func TestDialects(t *testing.T) {
	cases := []struct {
		d                  Dialect
		quoted, ph, double string
	}{
		{SQLite{}, `"dbo"."Pa""tients"`, "?", "REAL"},
		{Postgres{}, `"dbo"."Pa""tients"`, "$3", "DOUBLE PRECISION"},
		{SQLServer{}, `[dbo].[Pa"tients]`, "@p3", "FLOAT"},
	}
	for _, c := range cases {
		if got := c.d.QuoteIdent(`dbo.Pa"tients`); got != c.quoted {
			t.Errorf("%s quote: %s", c.d.Name(), got)
		}
		if got := c.d.Placeholder(3); got != c.ph && !(c.d.Name() == "sqlite" && got == "?") {
			t.Errorf("%s placeholder: %s", c.d.Name(), got)
		}
		if got := c.d.TypeName("DOUBLE PRECISION"); got != c.double {
			t.Errorf("%s double: %s", c.d.Name(), got)
		}
	}
	if got := (SQLServer{}).QuoteIdent("a]b"); got != "[a]]b]" {
		t.Errorf("sqlserver escapes ]: %s", got)
	}
}

// TestLoadSeedData loads every file of the seed's mapping into SQLite: each file's rows all
// land, counted independently of the loader, and NPIs keep every digit.
func TestLoadSeedData(t *testing.T) {
	seed := filepath.Join(testenv.SharedDir(t), "seed-data")
	maps, err := ReadMappings(filepath.Join(seed, "Lookup_file_table_mapping.json"))
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	ctx := context.Background()
	for _, m := range maps {
		path, err := m.Locate(seed)
		if err != nil {
			t.Fatal(err)
		}
		db, d, err := Open("sqlite", filepath.Join(out, m.DatabaseName+".sqlite"))
		if err != nil {
			t.Fatal(err)
		}
		res, err := LoadCSV(ctx, db, d, path, m.TableName)
		if err != nil {
			t.Fatal(err)
		}
		f, _ := os.Open(path)
		recs, _ := csv.NewReader(f).ReadAll()
		f.Close()
		if res.Rows != int64(len(recs)-1) {
			t.Errorf("%s: loaded %d rows, the file has %d", path, res.Rows, len(recs)-1)
		}
		if m.TableName == "Providers" {
			var maxNPI string
			db.QueryRow("SELECT max(NPI) FROM Providers").Scan(&maxNPI)
			want := ""
			for _, r := range recs[1:] {
				if r[5] > want {
					want = r[5]
				}
			}
			if maxNPI != want {
				t.Errorf("%s: largest NPI %s, want %s", path, maxNPI, want)
			}
		}
		db.Close()
	}
}

// Nothing here runs SQL Server, but its driver must be linked in and reached through Open, and
// an unreachable server must fail promptly with an error that names the database.
func TestSQLServerDriverLinked(t *testing.T) {
	found := false
	for _, d := range sql.Drivers() {
		found = found || d == "sqlserver"
	}
	if !found {
		t.Fatalf("the sqlserver driver is not registered: %v", sql.Drivers())
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // a port nobody listens on
	db, d, err := Open("sqlserver", "sqlserver://rcm:secret@"+addr+"?database=emr&dial+timeout=2")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if d.Name() != "sqlserver" {
		t.Errorf("dialect %s", d.Name())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err == nil {
		t.Error("ping of a closed port succeeded")
	} else if strings.Contains(err.Error(), "secret") {
		t.Errorf("the error leaks the password: %v", err)
	}
}
