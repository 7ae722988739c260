package synth

import (
	"database/sql"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/rcmlake/rcmlake/internal/testenv"
)

// TestPostgresEMRMatchesSQLite generates the same world into a real PostgreSQL server and
// into SQLite files: the tables hold the same rows.
func TestPostgresEMRMatchesSQLite(t *testing.T) {
	pg := testenv.StartPostgres(t, "synth_emr")
	o := Options{Seed: 9, Scale: 0.05, Months: 2}
	sqliteDir, m := gen(t, o)
	o.EMRDSN = pg.DSN("synth_emr")
	pgDir, mp := gen(t, o)
	if mp.Hospitals[0].Driver != "postgres" || mp.Hospitals[1].Schema != "hos_b" {
		t.Fatalf("manifest: %+v", mp.Hospitals[1])
	}
	for i, h := range m.Hospitals {
		for _, tbl := range h.Tables {
			a := dumpVia(t, sqliteDir, h, tbl.Name)
			b := dumpVia(t, pgDir, mp.Hospitals[i], tbl.Name)
			if a != b {
				t.Errorf("%s.%s differs between SQLite and PostgreSQL", h.Name, tbl.Name)
			}
		}
	}
}

func dumpVia(t *testing.T, dir string, h HospitalInfo, table string) string {
	t.Helper()
	db, d, err := openEMR(dir, h)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query("SELECT * FROM " + qualify(d, h, table))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var lines []string
	cols, _ := rows.Columns()
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, fmt.Sprint(vals))
	}
	sort.Strings(lines)
	return strings.Join(cols, ",") + "\n" + strings.Join(lines, "\n")
}

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.StopServers() // pg_ctl detaches the server: stop it explicitly
	os.Exit(code)
}
