package file_test

import (
	"testing"

	"github.com/rcmlake/rcmlake/lake"
	"github.com/rcmlake/rcmlake/lake/file"
	"github.com/rcmlake/rcmlake/lake/laketest"
)

func newStorage(t testing.TB) lake.Storage {
	s, err := file.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	laketest.Run(t, func(t *testing.T) lake.Storage { return newStorage(t) })
}

func BenchmarkStorage(b *testing.B) {
	laketest.Bench(b, func(b *testing.B) lake.Storage { return newStorage(b) })
}
