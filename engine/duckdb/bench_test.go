package duckdb

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"

	"github.com/rcmlake/rcmlake/delta"
)

// BenchmarkAppendRows appends RCMLAKE_BENCH_ROWS rows (default 1,000,000; the figure
// is 10,000,000) of a transaction-shaped table in one commit and reports rows/s.
func BenchmarkAppendRows(b *testing.B) {
	rows := int64(1_000_000)
	if s := os.Getenv("RCMLAKE_BENCH_ROWS"); s != "" {
		rows, _ = strconv.ParseInt(s, 10, 64)
	}
	e, err := Open(Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	q := fmt.Sprintf(`SELECT 'TRANS' || lpad(CAST(range AS VARCHAR), 9, '0') AS transaction_id,
		'HOSP1-' || lpad(CAST(range %% 100000 AS VARCHAR), 6, '0') AS patient_id,
		CAST((range %% 100000) / 100.0 AS DECIMAL(18,2)) AS amount,
		DATE '2024-01-01' + CAST(range %% 365 AS INTEGER) AS service_date,
		TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_seconds(range) AS modified_at
		FROM range(%d)`, rows)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tbl := delta.Open(mustFileStorage(b), "t")
		res, err := e.WriteDelta(context.Background(), tbl, q, WriteOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if res.Rows != rows {
			b.Fatalf("wrote %d rows, want %d", res.Rows, rows)
		}
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
