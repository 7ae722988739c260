package synth

import (
	"context"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// BenchmarkGenerate generates worlds at the scales in RCMLAKE_BENCH_SCALES (default "1";
// the issue asks for 1,100,1000) and reports EMR rows and transactions per second and the
// process's peak RSS. Scale 500 is about 10M transactions.
func BenchmarkGenerate(b *testing.B) {
	scales := os.Getenv("RCMLAKE_BENCH_SCALES")
	if scales == "" {
		scales = "1"
	}
	for _, sc := range strings.Split(scales, ",") {
		scale, err := strconv.ParseFloat(sc, 64)
		if err != nil {
			b.Fatal(err)
		}
		b.Run("scale="+sc, func(b *testing.B) {
			var rows, txns int
			for i := 0; i < b.N; i++ {
				m, err := Generate(context.Background(), b.TempDir(), Options{Seed: 7, Scale: scale})
				if err != nil {
					b.Fatal(err)
				}
				for _, h := range m.Hospitals {
					for _, n := range h.Rows {
						rows += n
					}
					txns += h.Rows["transactions"]
				}
			}
			var ru syscall.Rusage
			syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
			b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
			b.ReportMetric(float64(txns)/float64(b.N), "transactions")
			b.ReportMetric(float64(txns)/b.Elapsed().Seconds(), "transactions/s")
			b.ReportMetric(float64(ru.Maxrss)/1024, "peakRSS_MB")
		})
	}
}
