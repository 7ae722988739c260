package connect

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rcmlake/rcmlake/internal/testenv"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.StopServers()
	os.Exit(code)
}

func dialTest(t *testing.T) *Client {
	t.Helper()
	sc := testenv.StartSparkConnect(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := Dial(ctx, sc.Remote, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Every type rcmlake's tables use comes back through Arrow with its value intact.
func TestQueryTypes(t *testing.T) {
	c := dialTest(t)
	ctx := context.Background()
	res, err := c.Query(ctx, `SELECT * FROM VALUES
		(CAST(1234567890123.45 AS DECIMAL(18,2)), DATE'2024-02-29', TIMESTAMP'2024-03-01 13:14:15.123456', 9007199254740993L, true, 'Zoë – Müller 東京', CAST(-0.10 AS DECIMAL(18,2)), 2.5D, 7),
		(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)
		AS t(amount, d, ts, big, flag, name, neg, dbl, i) ORDER BY big NULLS LAST`)
	if err != nil {
		t.Fatal(err)
	}
	wantCols := []string{"amount", "d", "ts", "big", "flag", "name", "neg", "dbl", "i"}
	if strings.Join(res.Columns, ",") != strings.Join(wantCols, ",") {
		t.Fatalf("columns %v, want %v", res.Columns, wantCols)
	}
	if res.Types[0] != "decimal(18,2)" || res.Types[3] != "bigint" || res.Types[2] != "timestamp" {
		t.Errorf("types %v", res.Types)
	}
	if len(res.Rows) != 2 {
		t.Fatalf("%d rows, want 2", len(res.Rows))
	}
	r := res.Rows[0]
	if d, ok := r[0].(Decimal); !ok || d.String() != "1234567890123.45" {
		t.Errorf("decimal: %#v", r[0])
	}
	if d, ok := r[1].(time.Time); !ok || !d.Equal(time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("date: %v", r[1])
	}
	if ts, ok := r[2].(time.Time); !ok || !ts.Equal(time.Date(2024, 3, 1, 13, 14, 15, 123456000, time.UTC)) {
		t.Errorf("timestamp: %v (the session time zone must be UTC)", r[2])
	}
	if r[3] != int64(9007199254740993) {
		t.Errorf("bigint: %#v", r[3])
	}
	if r[4] != true {
		t.Errorf("boolean: %#v", r[4])
	}
	if r[5] != "Zoë – Müller 東京" {
		t.Errorf("string: %q", r[5])
	}
	if d, ok := r[6].(Decimal); !ok || d.String() != "-0.10" {
		t.Errorf("negative decimal: %#v", r[6])
	}
	if r[7] != 2.5 || r[8] != int32(7) {
		t.Errorf("double/int: %#v %#v", r[7], r[8])
	}
	for i, v := range res.Rows[1] {
		if v != nil {
			t.Errorf("NULL row column %s: %#v", res.Columns[i], v)
		}
	}
}

// A result larger than one Arrow batch arrives whole and in order.
func TestQueryManyBatches(t *testing.T) {
	c := dialTest(t)
	res, err := c.Query(context.Background(), "SELECT id, repeat('x', 100) AS pad FROM range(0, 200000) ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != 200000 {
		t.Fatalf("%d rows, want 200000", len(res.Rows))
	}
	for i, r := range res.Rows {
		if r[0] != int64(i) {
			t.Fatalf("row %d has id %v", i, r[0])
		}
	}
}

func TestExecAndConfig(t *testing.T) {
	c := dialTest(t)
	ctx := context.Background()
	if err := c.SetConf(ctx, map[string]string{"spark.sql.shuffle.partitions": "3", "rcmlake.test.key": "é-value"}); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetConf(ctx, "spark.sql.shuffle.partitions", "rcmlake.test.key")
	if err != nil {
		t.Fatal(err)
	}
	if got["spark.sql.shuffle.partitions"] != "3" || got["rcmlake.test.key"] != "é-value" {
		t.Errorf("config get: %v", got)
	}
	// A temp view made by a command is visible to the next query of the same session only.
	if err := c.Exec(ctx, "CREATE OR REPLACE TEMP VIEW rcm_v AS SELECT 41 + 1 AS answer"); err != nil {
		t.Fatal(err)
	}
	res, err := c.Query(ctx, "SELECT answer FROM rcm_v")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != 1 || res.Rows[0][0] != int32(42) {
		t.Errorf("view: %v", res.Rows)
	}
	other := dialTest(t)
	if other.SessionID() == c.SessionID() {
		t.Fatal("two clients share a session id")
	}
	if _, err := other.Query(ctx, "SELECT answer FROM rcm_v"); err == nil {
		t.Error("a temp view leaked into another session")
	}
}

// Parquet files written by Spark come back through a view over exactly those files.
func TestParquetView(t *testing.T) {
	c := dialTest(t)
	ctx := context.Background()
	dir := t.TempDir()
	if err := c.Exec(ctx, "INSERT OVERWRITE DIRECTORY '"+dir+"/a' USING parquet SELECT id, CAST(id AS STRING) AS s FROM range(5)"); err != nil {
		t.Fatal(err)
	}
	if err := c.Exec(ctx, "INSERT OVERWRITE DIRECTORY '"+dir+"/b' USING parquet SELECT id, id * 2 AS extra FROM range(5, 8)"); err != nil {
		t.Fatal(err)
	}
	if err := c.CreateParquetView(ctx, "rcm_files", []string{dir + "/a", dir + "/b"}, "", map[string]string{"mergeSchema": "true"}); err != nil {
		t.Fatal(err)
	}
	res, err := c.Query(ctx, "SELECT count(*), count(s), count(extra), sum(id) FROM rcm_files")
	if err != nil {
		t.Fatal(err)
	}
	r := res.Rows[0]
	if r[0] != int64(8) || r[1] != int64(5) || r[2] != int64(3) || r[3] != int64(28) {
		t.Errorf("counts over the union: %v", r)
	}
	// With a schema: its columns only, missing ones NULL, types as declared.
	if err := c.CreateParquetView(ctx, "rcm_typed", []string{dir + "/b"}, "id BIGINT, s STRING, extra BIGINT, missing DECIMAL(18,2)", nil); err != nil {
		t.Fatal(err)
	}
	res, err = c.Query(ctx, "SELECT * FROM rcm_typed ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(res.Types, ",") != "bigint,string,bigint,decimal(18,2)" || len(res.Rows) != 3 || res.Rows[0][1] != nil ||
		res.Rows[0][2] != int64(10) || res.Rows[0][3] != nil {
		t.Errorf("typed view: %v %v", res.Types, res.Rows)
	}
}

// A Spark error reaches Go with Spark's own message.
func TestSparkErrorSurfaces(t *testing.T) {
	c := dialTest(t)
	_, err := c.Query(context.Background(), "SELECT no_such_column FROM range(1)")
	var se *Error
	if !errors.As(err, &se) {
		t.Fatalf("want *Error, got %v", err)
	}
	if !strings.Contains(se.Message, "no_such_column") || !strings.Contains(se.Message, "UNRESOLVED_COLUMN") {
		t.Errorf("message %q does not name the problem", se.Message)
	}
	if err := c.Exec(context.Background(), "DROP TABLE definitely_missing_table"); err == nil || !strings.Contains(err.Error(), "definitely_missing_table") {
		t.Errorf("command error: %v", err)
	}
}

// Nothing listens: Dial fails within its timeout and says where it tried, without the token.
func TestDialBadEndpoint(t *testing.T) {
	start := time.Now()
	_, err := Dial(context.Background(), "sc://127.0.0.1:1/;token=sekrit-123;use_ssl=false", Options{ConnectTimeout: 2 * time.Second})
	if err == nil {
		t.Fatal("dial to a closed port succeeded")
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v to fail", d)
	}
	if !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("error does not say where: %v", err)
	}
	if strings.Contains(err.Error(), "sekrit") {
		t.Errorf("error leaks the token: %v", err)
	}
}
