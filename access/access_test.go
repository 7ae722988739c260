package access

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rcmlake/rcmlake/config"
	"github.com/rcmlake/rcmlake/delta"
	"github.com/rcmlake/rcmlake/engine/duckdb"
	"github.com/rcmlake/rcmlake/lake/file"
	"github.com/rcmlake/rcmlake/lakehouse"
)

func testConfig() *config.Config {
	return &config.Config{Roles: config.SeedRoles()}
}

func TestGrants(t *testing.T) {
	p, err := NewPolicy(testConfig(), &Grants{Entries: []GrantEntry{{Role: "viewer", Grant: "select on silver.providers"}, {Role: "viewer", Grant: PHIGrant}, {Role: "gone", Grant: "select on catalog"}}})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		role, layer, table string
		want               bool
	}{
		{"admin", "bronze", "patients", true},
		{"data_engineer", "audit", "runs", true},
		{"analyst", "silver", "patients", true},
		{"analyst", "bronze", "patients", false},
		{"analyst", "audit", "access_log", false},
		{"viewer", "gold", "fact_claim", true},
		{"viewer", "silver", "patients", false},
		{"viewer", "silver", "providers", true}, // stored grant
		{"VIEWER", "gold", "fact_claim", false}, // role names are exact
		{"gone", "gold", "fact_claim", false},   // a stored grant of an undeclared role lapses
		{"", "gold", "fact_claim", false},
	}
	for _, c := range cases {
		if got := p.CanRead(c.role, c.layer, c.table); got != c.want {
			t.Errorf("%s on %s.%s: %v, want %v", c.role, c.layer, c.table, got, c.want)
		}
	}
	if !p.SeesPHI("viewer") || p.SeesPHI("analyst") || !p.SeesPHI("admin") {
		t.Errorf("PHI permissions: viewer %v analyst %v admin %v", p.SeesPHI("viewer"), p.SeesPHI("analyst"), p.SeesPHI("admin"))
	}
	for _, bad := range []string{"select gold.*", "drop on gold.*", "select on platinum.x", "select on gold.x.y"} {
		if _, err := ParseGrant(bad); err == nil {
			t.Errorf("ParseGrant(%q) accepted", bad)
		}
	}
	for in, want := range map[string]string{"SELECT ON gold": "select on gold.*", "all on *": "all on catalog", "select on silver.Patients": "select on silver.patients"} {
		g, err := ParseGrant(in)
		if err != nil || g.String() != want {
			t.Errorf("ParseGrant(%q) = %v, %v; want %s", in, g, err, want)
		}
	}
}

func TestPHIColumns(t *testing.T) {
	p, err := NewPolicy(testConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	// The seed's two patient layouts, the CDM and the gold dimension are covered by default.
	for _, c := range []string{"bronze.patients.FirstName", "bronze.patients.F_Name", "bronze.patients.SSN", "bronze.patients.DOB",
		"bronze.patients.Address", "bronze.patients.PhoneNumber", "bronze.transactions.MedicaidID", "silver.patients.last_name",
		"silver.patients_quarantine.ssn", "gold.dim_patient.dob", "gold.dim_patient.address", "silver.transactions.medicare_id"} {
		parts := strings.SplitN(c, ".", 3)
		if !p.IsPHI(parts[0], parts[1], parts[2]) {
			t.Errorf("%s is not PHI", c)
		}
	}
	for _, c := range []string{"bronze.providers.FirstName", "silver.providers.last_name", "gold.dim_patient.gender", "gold.fact_claim.paid_amount", "silver.patients.patient_key"} {
		parts := strings.SplitN(c, ".", 3)
		if p.IsPHI(parts[0], parts[1], parts[2]) {
			t.Errorf("%s is PHI", c)
		}
	}
}

func TestTokens(t *testing.T) {
	ctx := context.Background()
	store, err := file.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tok, text, err := CreateToken(ctx, store, "alice", "analyst", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	_, text2, _ := CreateToken(ctx, store, "bob", "viewer", 0)
	ts, err := LoadTokens(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := ts.Verify(text, time.Now()); err != nil || got.Role != "analyst" || got.ID != tok.ID {
		t.Fatalf("verify: %+v %v", got, err)
	}
	if strings.Contains(fmt.Sprint(ts), strings.TrimPrefix(text, TokenPrefix+tok.ID+"_")) {
		t.Error("the token secret is stored in the clear")
	}
	for _, bad := range []string{text + "x", strings.Replace(text, tok.ID, "000000000000", 1), "rcm_", "", text[:len(text)-1]} {
		if _, err := ts.Verify(bad, time.Now()); !errors.Is(err, ErrBadToken) {
			t.Errorf("Verify(%q) = %v", bad, err)
		}
	}
	if _, err := ts.Verify(text, time.Now().Add(2*time.Hour)); err == nil {
		t.Error("an expired token verified")
	}
	if _, err := RevokeToken(ctx, store, "alice"); err != nil {
		t.Fatal(err)
	}
	ts, _ = LoadTokens(ctx, store)
	if _, err := ts.Verify(text, time.Now()); err == nil {
		t.Error("a revoked token verified")
	}
	if _, err := ts.Verify(text2, time.Now()); err != nil {
		t.Errorf("revoking alice's token broke bob's: %v", err)
	}
}

func TestStoredGrants(t *testing.T) {
	ctx := context.Background()
	store, _ := file.New(t.TempDir())
	if err := AddGrant(ctx, store, "viewer", "select on silver.providers", "test"); err != nil {
		t.Fatal(err)
	}
	if err := AddGrant(ctx, store, "viewer", "SELECT on silver.providers", "test"); err != nil { // same grant: no-op
		t.Fatal(err)
	}
	if err := AddGrant(ctx, store, "viewer", "drop everything", "test"); err == nil {
		t.Error("a malformed grant was stored")
	}
	g, _ := LoadGrants(ctx, store)
	if len(g.Entries) != 1 || g.Entries[0].Grant != "select on silver.providers" {
		t.Fatalf("stored grants: %+v", g.Entries)
	}
	if err := RevokeGrant(ctx, store, "viewer", "select on gold.*"); err == nil {
		t.Error("revoking a grant that is not stored succeeded")
	}
	if err := RevokeGrant(ctx, store, "viewer", "select on silver.providers"); err != nil {
		t.Fatal(err)
	}
	g, _ = LoadGrants(ctx, store)
	if len(g.Entries) != 0 {
		t.Errorf("after revoke: %+v", g.Entries)
	}
}

// testLake writes small silver.patients and gold.fact_claim tables.
func testLake(t *testing.T) *lakehouse.Lakehouse {
	t.Helper()
	ctx := context.Background()
	store, err := file.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	lh, err := lakehouse.OpenStorage(store)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lh.Close() })
	for key, q := range map[string]string{
		"silver/patients": `SELECT * FROM (VALUES ('P1-hos-a', 'P1', 'Ann', 'Lee', '123-45-6789', DATE '1980-02-03', '1 Main St', 'F'),
			('P2-hos-a', 'P2', 'Bo', 'Kim', '987-65-4321', DATE '1975-06-07', '2 Oak Ave', 'M'),
			('P3-hos-a', 'P3', NULL, 'Ng', NULL, NULL, NULL, 'F')) t(patient_key, patient_id, first_name, last_name, ssn, dob, address, gender)`,
		"gold/fact_claim": `SELECT * FROM (VALUES ('C1', 'P1-hos-a', 100.0), ('C2', 'P2-hos-a', 250.5)) t(claim_id, patient_key, claim_amount)`,
	} {
		if _, err := lh.Engine.WriteDelta(ctx, delta.Open(store, key), q, duckdb.WriteOptions{Operation: "WRITE"}); err != nil {
			t.Fatal(err)
		}
	}
	return lh
}

func testReader(t *testing.T) *Reader {
	lh := testLake(t)
	p, err := NewPolicy(testConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewReader(context.Background(), lh, p, Masker{key: []byte("test-key-0123456789")}, &AuditLog{Lake: lh})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestReaderMasksPHI(t *testing.T) {
	ctx := context.Background()
	r := testReader(t)
	admin := Principal{Name: "root", Role: "admin", Via: "test"}
	analyst := Principal{Name: "ann", Role: "analyst", Via: "test"}
	q := "SELECT first_name, last_name, ssn, dob, address, gender FROM silver.patients ORDER BY patient_key"
	clear, err := r.Query(ctx, admin, "query", q, nil)
	if err != nil {
		t.Fatal(err)
	}
	masked, err := r.Query(ctx, analyst, "query", q, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !clear.PHI || masked.PHI || len(masked.Masked) != 5 {
		t.Errorf("PHI flags: admin %v, analyst %v masked %v", clear.PHI, masked.PHI, masked.Masked)
	}
	m := Masker{key: []byte("test-key-0123456789")}
	for i, row := range masked.Rows {
		for j, v := range row[:5] {
			orig := clear.Rows[i][j]
			switch {
			case orig == nil && v != nil:
				t.Errorf("row %d col %d: NULL masked as %v", i, j, v)
			case orig != nil && fmt.Sprint(v) == fmt.Sprint(orig):
				t.Errorf("row %d col %d: %v is not masked", i, j, v)
			case orig != nil && !strings.HasPrefix(fmt.Sprint(v), "tok_"):
				t.Errorf("row %d col %d: mask %v", i, j, v)
			}
		}
		if row[5] != clear.Rows[i][5] {
			t.Errorf("gender (not PHI) changed: %v vs %v", row[5], clear.Rows[i][5])
		}
	}
	// The token is the keyed hash of the value as text: stable and joinable, not reversible.
	if got, want := masked.Rows[0][2], m.Mask("123-45-6789"); got != want {
		t.Errorf("ssn token %v, want %v", got, want)
	}
	if (Masker{key: []byte("another-key-xxxxxxxx")}).Mask("123-45-6789") == m.Mask("123-45-6789") {
		t.Error("the mask does not depend on the key")
	}
	// Aggregates over a masked column still work, and see only tokens.
	res, err := r.Query(ctx, analyst, "query", "SELECT count(DISTINCT ssn), max(ssn) LIKE 'tok_%' FROM silver.patients", nil)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(res.Rows[0]) != "[2 true]" {
		t.Errorf("aggregate over masked ssn: %v", res.Rows[0])
	}
}

// TestGuardRefusesBypasses tries the ways around a grant or a mask through the SQL endpoint.
func TestGuardRefusesBypasses(t *testing.T) {
	ctx := context.Background()
	r := testReader(t)
	viewer := Principal{Name: "vic", Role: "viewer", Via: "sql"}
	analyst := Principal{Name: "ann", Role: "analyst", Via: "sql"}
	// Prime the engine with unmasked views, as an admin's earlier query would.
	if _, err := r.Query(ctx, Principal{Name: "root", Role: "admin"}, "q", "SELECT * FROM silver.patients JOIN gold.fact_claim USING (patient_key)", nil); err != nil {
		t.Fatal(err)
	}
	var files []string
	objs, _ := r.Lake.Store.List(ctx, "silver/patients/")
	for _, o := range objs {
		if strings.HasSuffix(o.Key, ".parquet") {
			p, _ := r.Lake.LocalPath(ctx, o.Key)
			files = append(files, p)
		}
	}
	if len(files) == 0 {
		t.Fatal("no parquet files")
	}
	attempts := []struct {
		who Principal
		sql string
	}{
		{viewer, "SELECT * FROM silver.patients"},
		{viewer, "SELECT * FROM gold.fact_claim WHERE patient_key IN (SELECT patient_key FROM silver.patients)"},
		{viewer, "SELECT * FROM gold.fact_claim f JOIN silver.patients p USING (patient_key)"},
		{viewer, "WITH x AS (SELECT * FROM silver.patients) SELECT * FROM x"},
		{viewer, "SELECT * FROM gold.fact_claim UNION ALL SELECT patient_key, ssn, 0 FROM silver.patients"},
		{analyst, `SELECT ssn FROM "silver"."patients"`},
		{analyst, `SELECT ssn FROM silver."patients"`},
		{analyst, "SELECT * FROM read_parquet('" + files[0] + "')"},
		{analyst, "SELECT * FROM '" + files[0] + "'"},
		{analyst, "SELECT * FROM parquet_scan(['" + files[0] + "'])"},
		{analyst, "SELECT * FROM read_csv('/etc/passwd')"},
		{analyst, "SELECT * FROM glob('/*')"},
		{analyst, "SELECT * FROM query('SELECT * FROM silver.patients')"},
		{analyst, "SELECT * FROM duckdb_views()"},
		{analyst, "SELECT sql FROM duckdb_views"},
		{analyst, "SELECT * FROM information_schema.tables"},
		{analyst, "SELECT current_setting('memory_limit')"},
		{analyst, "SELECT getenv('HOME')"},
		{analyst, "SELECT 1; SELECT ssn FROM \"silver\".\"patients\""},
		{analyst, "ATTACH '/tmp/x.db' AS x"},
		{analyst, "COPY (SELECT * FROM silver.patients) TO '/tmp/leak.csv'"},
		{analyst, "CREATE VIEW v AS SELECT 1"},
		{analyst, "SET enable_external_access = true"},
		{analyst, "PRAGMA database_list"},
		{analyst, "SELECT * FROM silver.patients) AS governed, read_parquet('" + files[0] + "') AS x --"},
		{analyst, "DESCRIBE silver.patients"},
		{analyst, "SELECT * FROM system.main.duckdb_tables()"},
	}
	for _, a := range attempts {
		res, err := r.Query(ctx, a.who, "sql", a.sql, nil)
		if err == nil {
			t.Errorf("%s ran %q: %v", a.who.Role, a.sql, res.Rows)
			continue
		}
		if !IsDenied(err) && !strings.Contains(err.Error(), "Parser Error") {
			t.Logf("%s %q: refused by the engine, not the guard: %v", a.who.Role, a.sql, err)
		}
		if strings.Contains(err.Error(), "123-45-6789") {
			t.Errorf("the refusal of %q shows PHI", a.sql)
		}
	}
	// Allowed shapes still work: joins, CTEs, subqueries, window functions, set operations.
	for _, ok := range []string{
		"WITH c AS (SELECT * FROM gold.fact_claim) SELECT count(*) FROM c",
		"SELECT p.gender, sum(f.claim_amount) FROM gold.fact_claim f JOIN silver.patients p USING (patient_key) GROUP BY 1",
		"SELECT *, row_number() OVER (ORDER BY claim_amount DESC) FROM gold.fact_claim -- top claims",
		"SELECT claim_id FROM gold.fact_claim UNION SELECT 'x' ORDER BY 1",
		"SELECT * FROM (VALUES (1)) t(x)",
		"SELECT count(*) FROM silver.patients@v0 WHERE ssn IS NOT NULL",
	} {
		if _, err := r.Query(ctx, analyst, "sql", ok, nil); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
}

func TestAccessAudit(t *testing.T) {
	ctx := context.Background()
	r := testReader(t)
	if _, err := r.Query(ctx, Principal{Name: "ann", Role: "analyst", Via: "sql", Client: "127.0.0.1"}, "POST /api/sql", "SELECT * FROM silver.patients WHERE ssn = '123-45-6789'", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Query(ctx, Principal{Name: "vic", Role: "viewer", Via: "sql"}, "POST /api/sql", "SELECT * FROM silver.patients", nil); err == nil {
		t.Fatal("viewer read silver")
	}
	if _, err := r.Query(ctx, Principal{Name: "root", Role: "admin", Via: "cli"}, "query", "SELECT ssn FROM silver.patients", nil); err != nil {
		t.Fatal(err)
	}
	if err := r.Audit.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	res, err := r.Query(ctx, Principal{Name: "root", Role: "admin"}, "q", "SELECT principal, role, via, tables, row_count, phi, status, length(query_sha256) FROM audit.access_log ORDER BY event_time", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"[ann analyst sql silver.patients 0 false ok 64]",
		"[vic viewer sql silver.patients 0 false denied 64]",
		"[root admin cli silver.patients 3 true ok 64]",
	}
	if len(res.Rows) != len(want) {
		t.Fatalf("audit rows: %v", res.Rows)
	}
	for i, w := range want {
		if got := fmt.Sprint(res.Rows[i]); got != w {
			t.Errorf("audit row %d: %s, want %s", i, got, w)
		}
	}
	dump, _ := r.Query(ctx, Principal{Name: "root", Role: "admin"}, "q", "SELECT * FROM audit.access_log", nil)
	if strings.Contains(fmt.Sprint(dump.Rows), "123-45-6789") {
		t.Error("the access audit holds a PHI literal from a query")
	}
}
