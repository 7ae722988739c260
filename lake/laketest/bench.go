package laketest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/rcmlake/rcmlake/lake"
)

// Bench reports put and get throughput (MB/s via b.SetBytes) for object sizes typical of
// a lake: a Delta commit (4 KiB), a small data file (1 MiB) and a large one (16 MiB).
// newStorage is called once per size.
func Bench(b *testing.B, newStorage func(b *testing.B) lake.Storage) {
	for _, size := range []int{4 << 10, 1 << 20, 16 << 20} {
		name := fmt.Sprintf("%dKiB", size>>10)
		data := randomBytes(uint64(size), size)
		b.Run("Put/"+name, func(b *testing.B) {
			s := newStorage(b)
			ctx := context.Background()
			b.SetBytes(int64(size))
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				if err := s.Put(ctx, fmt.Sprintf("bench/put-%d", i%8), bytes.NewReader(data)); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("Get/"+name, func(b *testing.B) {
			s := newStorage(b)
			ctx := context.Background()
			if err := s.Put(ctx, "bench/get", bytes.NewReader(data)); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(size))
			b.ResetTimer()
			for b.Loop() {
				rc, err := s.Get(ctx, "bench/get")
				if err != nil {
					b.Fatal(err)
				}
				n, err := io.Copy(io.Discard, rc)
				rc.Close()
				if err != nil || n != int64(size) {
					b.Fatalf("read %d of %d bytes: %v", n, size, err)
				}
			}
		})
	}
	b.Run("PutIfAbsent/commit", func(b *testing.B) {
		s := newStorage(b)
		ctx := context.Background()
		data := randomBytes(3, 2<<10)
		for i := 0; b.Loop(); i++ {
			if err := s.PutIfAbsent(ctx, fmt.Sprintf("bench/_delta_log/%020d.json", i), data); err != nil {
				b.Fatal(err)
			}
		}
	})
}
