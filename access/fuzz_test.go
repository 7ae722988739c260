package access

import (
	"context"
	"strings"
	"testing"

	"github.com/rcmlake/rcmlake/engine/duckdb"
)

// FuzzGuard feeds arbitrary SQL through DuckDB's parser and the guard. The guard must never
// panic, and whatever it accepts must name no table but the allowed view and its own CTEs:
// checked here independently, by running the accepted query on an engine where that view is
// the only relation and every file access is switched off.
func FuzzGuard(f *testing.F) {
	for _, s := range []string{
		"SELECT * FROM gold.v", "SELECT count(*) FROM gold.v WHERE x > 1", "WITH c AS (SELECT 1) SELECT * FROM c",
		"SELECT * FROM read_parquet('x')", `SELECT * FROM "silver"."patients"`, "SELECT * FROM '/etc/passwd'",
		"SELECT 1; SELECT 2", "COPY t TO 'x'", "SELECT getenv('HOME')", "SELECT * FROM duckdb_views()",
		"SELECT * FROM gold.v a JOIN gold.v b USING (x) UNION ALL SELECT 1", "SELECT (SELECT max(x) FROM gold.v)",
	} {
		f.Add(s)
	}
	e, err := duckdb.Open(duckdb.Options{Threads: 1})
	if err != nil {
		f.Fatal(err)
	}
	defer e.Close()
	ctx := context.Background()
	for _, s := range []string{"CREATE SCHEMA gold", "CREATE VIEW gold.v AS SELECT * FROM (VALUES (1), (2)) t(x)", "SET enable_external_access = false", "SET lock_configuration = true"} {
		if err := e.Exec(ctx, s); err != nil {
			f.Fatal(err)
		}
	}
	f.Fuzz(func(t *testing.T, sql string) {
		res, err := e.Query(ctx, "SELECT CAST(json_serialize_sql("+duckdb.Literal(sql)+") AS VARCHAR)")
		if err != nil {
			return
		}
		if CheckParsed([]byte(res.Rows[0][0].(string)), map[string]bool{"gold.v": true}) != nil {
			return
		}
		// Accepted: it may fail to bind or run, but never by reaching a file or another table.
		if _, err := e.Query(ctx, sql); err != nil {
			msg := err.Error()
			for _, bad := range []string{"external access", "Permission Error"} {
				if strings.Contains(msg, bad) {
					t.Fatalf("the guard accepted %q, which tried to reach outside: %v", sql, err)
				}
			}
		}
	})
}
