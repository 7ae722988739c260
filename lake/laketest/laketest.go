// Package laketest is the conformance suite every lake.Storage backend runs, so that the
// Delta log code above it can rely on one behaviour whatever the storage: plain-prefix
// listing sorted by key, put-if-absent that lets exactly one racing writer win, and
// wrapped ErrNotExist/ErrExists errors.
package laketest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rcmlake/rcmlake/lake"
)

// LargeObjectSize is the size of the object the streaming test writes and reads back. It
// is larger than two S3 parts and two Azure blocks of the backends' default sizes, so the
// multi-part paths run.
var LargeObjectSize int64 = 20<<20 + 12345

// Racers is how many goroutines race PutIfAbsent for one key.
const Racers = 8

// Run runs the conformance suite. newStorage must return an empty storage for each call
// (a fresh folder, container, bucket or root prefix); cleaning it up is its business.
func Run(t *testing.T, newStorage func(t *testing.T) lake.Storage) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s lake.Storage)
	}{
		{"PutGetRoundTrip", testPutGet},
		{"PutReplaces", testPutReplaces},
		{"EmptyObject", testEmptyObject},
		{"KeysWithSpecialCharacters", testSpecialKeys},
		{"Stat", testStat},
		{"NotExist", testNotExist},
		{"InvalidKey", testInvalidKey},
		{"ListPrefix", testListPrefix},
		{"ListSortedAcrossPages", testListMany},
		{"PutIfAbsent", testPutIfAbsent},
		{"PutIfAbsentRace", testPutIfAbsentRace},
		{"PutIfAbsentRaceManyKeys", testPutIfAbsentRaceManyKeys},
		{"Delete", testDelete},
		{"LargeObjectStreaming", testLarge},
		{"ReaderError", testReaderError},
		{"URL", testURL},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newStorage(t))
		})
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

func put(t *testing.T, s lake.Storage, key string, data []byte) {
	t.Helper()
	if err := s.Put(ctx(t), key, bytes.NewReader(data)); err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
}

func get(t *testing.T, s lake.Storage, key string) []byte {
	t.Helper()
	b, err := lake.ReadAll(ctx(t), s, key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return b
}

// randomBytes returns n bytes that differ per seed, so a test cannot pass by reading the
// wrong object.
func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func testPutGet(t *testing.T, s lake.Storage) {
	want := randomBytes(1, 4097)
	put(t, s, "bronze/claims/2024/01/claims.csv", want)
	if got := get(t, s, "bronze/claims/2024/01/claims.csv"); !bytes.Equal(got, want) {
		t.Fatalf("Get returned %d bytes that differ from the %d put", len(got), len(want))
	}
}

func testPutReplaces(t *testing.T, s lake.Storage) {
	put(t, s, "k", []byte("first version, longer"))
	put(t, s, "k", []byte("second"))
	if got := string(get(t, s, "k")); got != "second" {
		t.Fatalf("after two Puts Get = %q, want %q", got, "second")
	}
	info, err := s.Stat(ctx(t), "k")
	if err != nil {
		t.Fatal(err)
	}
	if info.Size != int64(len("second")) {
		t.Fatalf("Stat size after replace = %d, want %d", info.Size, len("second"))
	}
}

func testEmptyObject(t *testing.T, s lake.Storage) {
	put(t, s, "empty", nil)
	if got := get(t, s, "empty"); len(got) != 0 {
		t.Fatalf("empty object read back as %d bytes", len(got))
	}
	if err := s.PutIfAbsent(ctx(t), "empty2", nil); err != nil {
		t.Fatalf("PutIfAbsent of an empty object: %v", err)
	}
	info, err := s.Stat(ctx(t), "empty2")
	if err != nil || info.Size != 0 {
		t.Fatalf("Stat(empty2) = %+v, %v; want size 0", info, err)
	}
}

// testSpecialKeys covers the keys Delta tables really have: Hive partition folders with
// '=' and Spark's %-escapes, spaces, '+', and non-ASCII values.
func testSpecialKeys(t *testing.T, s lake.Storage) {
	keys := []string{
		"t/date=2024-01-01 10%3A00%3A00/part-00000-a.snappy.parquet",
		"t/payer=Blue Cross+Blue Shield/x.parquet",
		"t/city=São Paulo/ünïcode ключ.parquet",
		"t/q=a?b#c&d/x.parquet",
		"t/pct=100%25/x.parquet",
	}
	for i, k := range keys {
		put(t, s, k, []byte(fmt.Sprint(i)))
	}
	for i, k := range keys {
		if got := string(get(t, s, k)); got != fmt.Sprint(i) {
			t.Errorf("Get(%q) = %q, want %q", k, got, fmt.Sprint(i))
		}
		info, err := s.Stat(ctx(t), k)
		if err != nil {
			t.Errorf("Stat(%q): %v", k, err)
		} else if info.Key != k {
			t.Errorf("Stat(%q).Key = %q", k, info.Key)
		}
	}
	list, err := s.List(ctx(t), "t/")
	if err != nil {
		t.Fatal(err)
	}
	want := append([]string(nil), keys...)
	sort.Strings(want)
	if got := keysOf(list); !equal(got, want) {
		t.Fatalf("List(t/) = %q, want %q", got, want)
	}
	// A prefix that ends inside an escaped partition value.
	list, err = s.List(ctx(t), "t/date=2024-01-01 10%3A")
	if err != nil {
		t.Fatal(err)
	}
	if got := keysOf(list); !equal(got, keys[:1]) {
		t.Fatalf("List with a %%-escaped prefix = %q, want %q", got, keys[:1])
	}
}

func testStat(t *testing.T, s lake.Storage) {
	before := time.Now().Add(-time.Hour)
	data := randomBytes(2, 1234)
	put(t, s, "a/b/c.bin", data)
	info, err := s.Stat(ctx(t), "a/b/c.bin")
	if err != nil {
		t.Fatal(err)
	}
	if info.Key != "a/b/c.bin" || info.Size != int64(len(data)) {
		t.Fatalf("Stat = %+v, want key a/b/c.bin size %d", info, len(data))
	}
	if info.ModTime.Before(before) || info.ModTime.After(time.Now().Add(time.Hour)) {
		t.Fatalf("Stat ModTime %v is not near now", info.ModTime)
	}
}

func testNotExist(t *testing.T, s lake.Storage) {
	put(t, s, "dir/present", []byte("x"))
	for _, key := range []string{"missing", "dir/missing", "dir", "nodir/missing"} {
		if _, err := s.Get(ctx(t), key); !errors.Is(err, lake.ErrNotExist) {
			t.Errorf("Get(%q) error = %v, want ErrNotExist", key, err)
		} else if !strings.Contains(err.Error(), key) {
			t.Errorf("Get(%q) error %q does not name the key", key, err)
		}
		if _, err := s.Stat(ctx(t), key); !errors.Is(err, lake.ErrNotExist) {
			t.Errorf("Stat(%q) error = %v, want ErrNotExist", key, err)
		}
	}
	list, err := s.List(ctx(t), "nothing/here/")
	if err != nil || len(list) != 0 {
		t.Errorf("List of a missing prefix = %v, %v; want empty, nil", list, err)
	}
}

func testInvalidKey(t *testing.T, s lake.Storage) {
	c := ctx(t)
	if err := s.Put(c, "", strings.NewReader("x")); err == nil {
		t.Error("Put with an empty key succeeded")
	}
	if err := s.PutIfAbsent(c, "", []byte("x")); err == nil {
		t.Error("PutIfAbsent with an empty key succeeded")
	}
	if _, err := s.Get(c, ""); err == nil || errors.Is(err, lake.ErrNotExist) {
		t.Errorf("Get with an empty key: %v, want an invalid-key error", err)
	}
}

func testListPrefix(t *testing.T, s lake.Storage) {
	keys := []string{
		"tbl/_delta_log/00000000000000000000.json",
		"tbl/_delta_log/00000000000000000001.json",
		"tbl/_delta_log/00000000000000000010.checkpoint.parquet",
		"tbl/_delta_log/_last_checkpoint",
		"tbl/part-0001.parquet",
		"tbl/sub/deeper/part-0002.parquet",
		"tbl2/part-0003.parquet",
		"tb",
		"other/x",
	}
	// Put in a shuffled order so sorting is the backend's work.
	order := rand.Perm(len(keys))
	for _, i := range order {
		put(t, s, keys[i], []byte(keys[i]))
	}
	cases := []struct {
		prefix string
		want   []string
	}{
		{"", keys},
		{"tbl/_delta_log/", keys[:4]},
		{"tbl/_delta_log/0000000000000000000", keys[:2]},
		{"tbl/_delta_log/00000000000000000010.", keys[2:3]},
		{"tbl/", keys[:6]},
		{"tbl", keys[:7]}, // a plain string prefix, not a folder
		{"tb", keys[:8]},
		{"tbl/sub", keys[5:6]},
		{"tbl/part-0001.parquet", keys[4:5]}, // a whole key is its own prefix
		{"tbl/part-0001.parquet/", nil},
		{"zzz", nil},
	}
	for _, tc := range cases {
		list, err := s.List(ctx(t), tc.prefix)
		if err != nil {
			t.Errorf("List(%q): %v", tc.prefix, err)
			continue
		}
		want := append([]string(nil), tc.want...)
		sort.Strings(want)
		if got := keysOf(list); !equal(got, want) {
			t.Errorf("List(%q) = %q, want %q", tc.prefix, got, want)
		}
		for _, info := range list {
			if info.Size != int64(len(info.Key)) {
				t.Errorf("List(%q): %s has size %d, want %d", tc.prefix, info.Key, info.Size, len(info.Key))
			}
			if info.ModTime.IsZero() {
				t.Errorf("List(%q): %s has no ModTime", tc.prefix, info.Key)
			}
		}
	}
}

// testListMany lists 150 keys with mixed case and punctuation, written concurrently in
// reverse order, to catch a backend that drops keys or does not sort by byte order.
// (Filling a real 1,000-key listing page would make the emulator runs slow; backends
// test their paging with a small page size themselves.)
func testListMany(t *testing.T, s lake.Storage) {
	c := ctx(t)
	const n = 150
	var want []string
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 8)
	for i := range n {
		key := fmt.Sprintf("log/%s%03d.json", string(rune("aAbB_-"[i%6])), n-i)
		want = append(want, key)
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			if err := s.Put(c, key, strings.NewReader(key)); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	sort.Strings(want)
	list, err := s.List(c, "log/")
	if err != nil {
		t.Fatal(err)
	}
	if got := keysOf(list); !equal(got, want) {
		t.Fatalf("List returned %d keys, want %d sorted:\n got %q\nwant %q", len(got), len(want), got, want)
	}
}

func testPutIfAbsent(t *testing.T, s lake.Storage) {
	c := ctx(t)
	key := "tbl/_delta_log/00000000000000000000.json"
	if err := s.PutIfAbsent(c, key, []byte("winner")); err != nil {
		t.Fatalf("first PutIfAbsent: %v", err)
	}
	err := s.PutIfAbsent(c, key, []byte("loser"))
	if !errors.Is(err, lake.ErrExists) {
		t.Fatalf("second PutIfAbsent error = %v, want ErrExists", err)
	}
	if !strings.Contains(err.Error(), key) {
		t.Errorf("ErrExists error %q does not name the key", err)
	}
	if got := string(get(t, s, key)); got != "winner" {
		t.Fatalf("after a refused PutIfAbsent the object is %q, want %q", got, "winner")
	}
	// An object written by Put counts as present too.
	put(t, s, "plain", []byte("p"))
	if err := s.PutIfAbsent(c, "plain", []byte("q")); !errors.Is(err, lake.ErrExists) {
		t.Fatalf("PutIfAbsent over a Put object: %v, want ErrExists", err)
	}
	// After a delete the key is free again.
	if err := s.Delete(c, "plain"); err != nil {
		t.Fatal(err)
	}
	if err := s.PutIfAbsent(c, "plain", []byte("again")); err != nil {
		t.Fatalf("PutIfAbsent after Delete: %v", err)
	}
}

// race makes Racers goroutines call PutIfAbsent for key at once and checks that exactly
// one wins, the others get ErrExists, and the stored content is the winner's.
func race(t *testing.T, s lake.Storage, key string) {
	c := ctx(t)
	start := make(chan struct{})
	errs := make([]error, Racers)
	payloads := make([][]byte, Racers)
	var wg sync.WaitGroup
	for i := range Racers {
		// Different sizes, so a torn or mixed write cannot look like a winner's payload.
		payloads[i] = append([]byte(fmt.Sprintf("writer %d of %s:", i, key)), randomBytes(uint64(i+100), 100+i*37)...)
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = s.PutIfAbsent(c, key, payloads[i])
		}()
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil:
			if winner >= 0 {
				t.Errorf("%s: writers %d and %d both won PutIfAbsent", key, winner, i)
			}
			winner = i
		case errors.Is(err, lake.ErrExists):
		default:
			t.Errorf("%s: writer %d failed with %v, want nil or ErrExists", key, i, err)
		}
	}
	if winner < 0 {
		t.Fatalf("%s: no writer won PutIfAbsent", key)
	}
	if got := get(t, s, key); !bytes.Equal(got, payloads[winner]) {
		t.Fatalf("%s: stored content (%d bytes) is not the winner's (writer %d, %d bytes)", key, len(got), winner, len(payloads[winner]))
	}
}

func testPutIfAbsentRace(t *testing.T, s lake.Storage) {
	for v := range 5 {
		race(t, s, fmt.Sprintf("tbl/_delta_log/%020d.json", v))
	}
}

// testPutIfAbsentRaceManyKeys races several keys at the same time, as several tables
// committing at once would.
func testPutIfAbsentRaceManyKeys(t *testing.T, s lake.Storage) {
	var wg sync.WaitGroup
	for tbl := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			race(t, s, fmt.Sprintf("t%d/_delta_log/%020d.json", tbl, 0))
		}()
	}
	wg.Wait()
}

func testDelete(t *testing.T, s lake.Storage) {
	c := ctx(t)
	put(t, s, "d/a", []byte("a"))
	put(t, s, "d/b", []byte("b"))
	if err := s.Delete(c, "d/a"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := s.Stat(c, "d/a"); !errors.Is(err, lake.ErrNotExist) {
		t.Fatalf("Stat after Delete = %v, want ErrNotExist", err)
	}
	if err := s.Delete(c, "d/a"); err != nil {
		t.Fatalf("Delete of a missing object: %v, want nil", err)
	}
	if err := s.Delete(c, "never/was"); err != nil {
		t.Fatalf("Delete of a never-written object: %v, want nil", err)
	}
	list, err := s.List(c, "d/")
	if err != nil {
		t.Fatal(err)
	}
	if got := keysOf(list); !equal(got, []string{"d/b"}) {
		t.Fatalf("List after Delete = %q, want [d/b]", got)
	}
}

// patternReader yields n pseudo-random bytes without holding them, in reads of odd sizes,
// and hashes what it yields.
type patternReader struct {
	r    *rand.Rand
	left int64
	h    io.Writer
}

func (p *patternReader) Read(b []byte) (int, error) {
	if p.left == 0 {
		return 0, io.EOF
	}
	if len(b) > 7919 {
		b = b[:7919]
	}
	if int64(len(b)) > p.left {
		b = b[:p.left]
	}
	for i := range b {
		b[i] = byte(p.r.Uint32())
	}
	p.left -= int64(len(b))
	p.h.Write(b)
	return len(b), nil
}

func testLarge(t *testing.T, s lake.Storage) {
	c := ctx(t)
	h := sha256.New()
	src := &patternReader{r: rand.New(rand.NewPCG(7, 11)), left: LargeObjectSize, h: h}
	if err := s.Put(c, "big/object.parquet", src); err != nil {
		t.Fatalf("Put of %d bytes: %v", LargeObjectSize, err)
	}
	want := h.Sum(nil)
	info, err := s.Stat(c, "big/object.parquet")
	if err != nil {
		t.Fatal(err)
	}
	if info.Size != LargeObjectSize {
		t.Fatalf("Stat size = %d, want %d", info.Size, LargeObjectSize)
	}
	rc, err := s.Get(c, "big/object.parquet")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	gh := sha256.New()
	n, err := io.Copy(gh, rc)
	if err != nil {
		t.Fatalf("reading the large object back after %d bytes: %v", n, err)
	}
	if n != LargeObjectSize || !bytes.Equal(gh.Sum(nil), want) {
		t.Fatalf("large object read back as %d bytes with a different hash (want %d bytes)", n, LargeObjectSize)
	}
}

type failingReader struct{ n int }

func (f *failingReader) Read(b []byte) (int, error) {
	if f.n <= 0 {
		return 0, errors.New("source broke")
	}
	if len(b) > f.n {
		b = b[:f.n]
	}
	for i := range b {
		b[i] = 'x'
	}
	f.n -= len(b)
	return len(b), nil
}

// testReaderError: a Put whose source fails must fail, and must not leave a partial
// object where a reader would take it for a whole one.
func testReaderError(t *testing.T, s lake.Storage) {
	c := ctx(t)
	for _, n := range []int{10, 9 << 20} {
		key := fmt.Sprintf("broken/%d", n)
		err := s.Put(c, key, &failingReader{n: n})
		if err == nil {
			t.Fatalf("Put from a reader that fails after %d bytes succeeded", n)
		}
		if _, err := s.Stat(c, key); !errors.Is(err, lake.ErrNotExist) {
			t.Fatalf("after a failed Put of %d bytes Stat = %v, want ErrNotExist", n, err)
		}
	}
	// A failed replace leaves the old object.
	put(t, s, "broken/keep", []byte("old"))
	if err := s.Put(c, "broken/keep", &failingReader{n: 5}); err == nil {
		t.Fatal("Put from a failing reader succeeded")
	}
	if got := string(get(t, s, "broken/keep")); got != "old" {
		t.Fatalf("a failed Put replaced the object with %q", got)
	}
}

func testURL(t *testing.T, s lake.Storage) {
	u := s.URL()
	if !strings.Contains(u, "://") {
		t.Fatalf("URL() = %q, want a scheme://… location", u)
	}
	for _, secret := range []string{"sig=", "AccountKey=", "SharedAccessSignature", "X-Amz-Credential", "@:"} {
		if strings.Contains(u, secret) {
			t.Fatalf("URL() %q contains credentials (%s)", u, secret)
		}
	}
}

func keysOf(list []lake.ObjectInfo) []string {
	out := make([]string, len(list))
	for i, info := range list {
		out[i] = info.Key
	}
	return out
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
