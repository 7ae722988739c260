package duckdb

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rcmlake/rcmlake/delta"
	"github.com/rcmlake/rcmlake/internal/testenv"
	"github.com/rcmlake/rcmlake/lake"
	"github.com/rcmlake/rcmlake/lake/azure"
	"github.com/rcmlake/rcmlake/lake/file"
)

func TestMain(m *testing.M) {
	// Re-executed as a writer process by the tests below.
	if dir := os.Getenv("RCMLAKE_TEST_WRITER_DIR"); dir != "" {
		os.Exit(writerProcess(dir, os.Getenv("RCMLAKE_TEST_WRITER_ID"), os.Getenv("RCMLAKE_TEST_WRITER_N")))
	}
	code := m.Run()
	testenv.StopServers()
	os.Exit(code)
}

// writerProcess appends n one-row commits (real data files) to the table in dir.
func writerProcess(dir, id, nText string) int {
	n, _ := strconv.Atoi(nText)
	e, err := Open(Options{Threads: 1})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	st, err := file.New(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	tbl := delta.Open(st, "t")
	for i := 0; i < n; i++ {
		q := fmt.Sprintf("SELECT '%s-%d' AS id, range AS k FROM range(%d)", id, i, 1+i%50)
		if _, err := e.WriteDelta(context.Background(), tbl, q, WriteOptions{}); err != nil {
			fmt.Fprintln(os.Stderr, "writer", id, err)
			return 1
		}
	}
	return 0
}

func startWriter(t *testing.T, dir string, id, n int) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run", "^$")
	cmd.Env = append(os.Environ(), "RCMLAKE_TEST_WRITER_DIR="+dir, fmt.Sprintf("RCMLAKE_TEST_WRITER_ID=w%d", id), fmt.Sprintf("RCMLAKE_TEST_WRITER_N=%d", n))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

func createTable(t *testing.T, e *Engine, st lake.Storage) *delta.Table {
	tbl := delta.Open(st, "t")
	if _, err := e.WriteDelta(context.Background(), tbl, "SELECT 'seed' AS id, 0::BIGINT AS k", WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	return tbl
}

// checkConsistent asserts that a table replays, that every active file exists, and that the
// rows read equal the rows its stats promise.
func checkConsistent(t *testing.T, e *Engine, st *file.Storage, tbl *delta.Table) *delta.Snapshot {
	t.Helper()
	ctx := context.Background()
	s, err := tbl.Latest(ctx)
	if err != nil {
		t.Fatalf("table unreadable: %v", err)
	}
	for _, f := range s.Files() {
		fi, err := os.Stat(st.LocalPath(f.Key))
		if err != nil || fi.Size() != f.Size {
			t.Fatalf("active file %s: %v (size %d, log says %d)", f.Path, err, sizeOf(fi), f.Size)
		}
	}
	want, ok := s.NumRecords()
	if !ok {
		t.Fatal("a file has no stats")
	}
	q, err := e.DeltaScanSQL(ctx, s, localizer(st))
	if err != nil {
		t.Fatal(err)
	}
	if got := query1(t, e, "SELECT count(*) FROM "+q); got != fmt.Sprintf("[[%d]]", want) {
		t.Fatalf("version %d: %s rows, stats say %d", s.Version, got, want)
	}
	return s
}

func sizeOf(fi os.FileInfo) int64 {
	if fi == nil {
		return -1
	}
	return fi.Size()
}

func TestConcurrentWriterProcesses(t *testing.T) {
	e, st := newLake(t)
	tbl := createTable(t, e, st)
	const procs, each = 4, 6
	var cmds []*exec.Cmd
	for i := 0; i < procs; i++ {
		cmds = append(cmds, startWriter(t, st.Root(), i, each))
	}
	for _, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Fatalf("writer failed: %v", err)
		}
	}
	s := checkConsistent(t, e, st, tbl)
	if s.Version != procs*each {
		t.Errorf("version %d, want %d: a commit was lost or doubled", s.Version, procs*each)
	}
	q, _ := e.DeltaScanSQL(context.Background(), s, localizer(st))
	if got := query1(t, e, "SELECT count(DISTINCT id) FROM "+q); got != fmt.Sprintf("[[%d]]", procs*each+1) {
		t.Errorf("distinct commits in the data: %s, want %d", got, procs*each+1)
	}
}

// TestKilledWritersLeaveTablesReadable kills writer processes with SIGKILL at random moments.
// Each time the table must replay to a consistent version; files of unfinished commits are
// only garbage, which VACUUM removes without touching the table's rows.
func TestKilledWritersLeaveTablesReadable(t *testing.T) {
	e, st := newLake(t)
	tbl := createTable(t, e, st)
	seed := time.Now().UnixNano()
	if s := os.Getenv("RCMLAKE_CHAOS_SEED"); s != "" {
		seed, _ = strconv.ParseInt(s, 10, 64)
	}
	t.Logf("chaos seed %d (set RCMLAKE_CHAOS_SEED to replay)", seed)
	rng := rand.New(rand.NewSource(seed))
	last := int64(0)
	for round := 0; round < 6; round++ {
		cmd := startWriter(t, st.Root(), 100+round, 1000)
		time.Sleep(time.Duration(50+rng.Intn(400)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		s := checkConsistent(t, e, st, tbl)
		if s.Version < last {
			t.Fatalf("round %d: version went back from %d to %d", round, last, s.Version)
		}
		last = s.Version
	}
	before := checkConsistent(t, e, st, tbl)
	// An orphan as a killed writer leaves it: a data file no commit references.
	orphan := st.LocalPath("t/" + delta.NewDataFileName(0, "zstd"))
	if err := os.WriteFile(orphan, []byte("PAR1 never committed"), 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	os.Chtimes(orphan, old, old)
	zero := time.Duration(0)
	res, err := tbl.Vacuum(context.Background(), delta.VacuumOptions{Retain: &zero, Force: true})
	if err != nil {
		t.Fatal(err)
	}
	after := checkConsistent(t, e, st, tbl)
	b, _ := before.NumRecords()
	if a, _ := after.NumRecords(); a != b {
		t.Errorf("vacuum changed the rows: %d -> %d", b, a)
	}
	if _, err := os.Stat(orphan); !os.IsNotExist(err) {
		t.Errorf("vacuum left the orphaned file: %v", err)
	}
	t.Logf("%d commits survived the kills; vacuum removed %d orphaned files", last, len(res.Files))
}

func TestConcurrentCommitsOnAzurite(t *testing.T) {
	az := testenv.StartAzurite(t)
	ctx := context.Background()
	st, err := azure.New(ctx, azure.Config{Account: az.Account, Container: "concurrency", Endpoint: az.BlobEndpoint,
		Credentials: azure.Credentials{AccountKey: az.Key}, CreateContainer: true})
	if err != nil {
		t.Fatal(err)
	}
	tbl := delta.Open(st, fmt.Sprintf("t-%d", time.Now().UnixNano()))
	tx := tbl.Begin(nil, "CREATE TABLE")
	tx.SetMetadata(&delta.StructType{Fields: []delta.StructField{{Name: "id", Type: delta.DataType{Primitive: "long"}, Nullable: true}}}, nil, nil)
	if _, err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	const n = 8
	var wg sync.WaitGroup
	versions := make(chan int64, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			s, err := tbl.Latest(ctx)
			if err != nil {
				t.Error(err)
				return
			}
			tx := tbl.Begin(s, "WRITE")
			tx.BlindAppend()
			tx.Add(delta.Add{Path: fmt.Sprintf("f%d.parquet", i), Size: 1, DataChange: true, Stats: `{"numRecords":1}`})
			v, err := tx.Commit(ctx)
			if err != nil && !errors.Is(err, delta.ErrConflict) {
				t.Error(err)
				return
			}
			if err == nil {
				versions <- v
			}
		}(i)
	}
	wg.Wait()
	close(versions)
	seen := map[int64]bool{}
	for v := range versions {
		if seen[v] {
			t.Errorf("version %d committed twice", v)
		}
		seen[v] = true
	}
	s, err := tbl.Latest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if int(s.Version) != len(seen) || len(s.Files()) != len(seen) || len(seen) != n {
		t.Errorf("latest version %d with %d files; %d commits reported success, want %d", s.Version, len(s.Files()), len(seen), n)
	}
}
