package s3

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rcmlake/rcmlake/internal/faulty"
	"github.com/rcmlake/rcmlake/internal/testenv"
	"github.com/rcmlake/rcmlake/lake"
	"github.com/rcmlake/rcmlake/lake/laketest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.StopServers()
	os.Exit(code)
}

var bucketSeq atomic.Int64

func newBucketName() string {
	return fmt.Sprintf("rcm-%d-%d", time.Now().UnixNano()%1e9, bucketSeq.Add(1))
}

func motoConfig(t testing.TB, prefix string) Config {
	m := testenv.StartMoto(t)
	return Config{
		Bucket:       newBucketName(),
		Prefix:       prefix,
		Region:       m.Region,
		Endpoint:     m.Endpoint,
		Credentials:  Credentials{AccessKeyID: m.AccessKeyID, SecretAccessKey: m.SecretAccessKey},
		CreateBucket: true,
	}
}

func newMoto(t testing.TB, prefix string) *Storage {
	t.Helper()
	s, err := New(context.Background(), motoConfig(t, prefix))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformanceMoto(t *testing.T) {
	laketest.Run(t, func(t *testing.T) lake.Storage { return newMoto(t, "lakes/rcm") })
}

func TestConformanceMotoBucketRoot(t *testing.T) {
	laketest.Run(t, func(t *testing.T) lake.Storage { return newMoto(t, "") })
}

func BenchmarkMoto(b *testing.B) {
	laketest.Bench(b, func(b *testing.B) lake.Storage { return newMoto(b, "bench") })
}

func TestListPaging(t *testing.T) {
	cfg := motoConfig(t, "root")
	cfg.listPageSize = 2
	s, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, k := range []string{"a/5", "a/3", "a/1", "a/4", "a/2", "b/1"} {
		if err := s.Put(ctx, k, strings.NewReader(k)); err != nil {
			t.Fatal(err)
		}
	}
	list, err := s.List(ctx, "a/")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range list {
		got = append(got, o.Key)
	}
	if want := "a/1,a/2,a/3,a/4,a/5"; strings.Join(got, ",") != want {
		t.Fatalf("paged List = %v, want %s", got, want)
	}
}

// TestMultipartPartCount checks that a Put larger than one part really went up as a
// multipart upload: S3 ETags of multipart objects end in -<parts>.
func TestMultipartPartCount(t *testing.T) {
	cfg := motoConfig(t, "")
	cfg.PartSize = minPartSize
	cfg.Concurrency = 2
	s, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	size := 3*minPartSize + 1
	if err := s.Put(ctx, "big", strings.NewReader(strings.Repeat("x", size))); err != nil {
		t.Fatal(err)
	}
	head, err := s.client.HeadObject(ctx, headInput(s, "big"))
	if err != nil {
		t.Fatal(err)
	}
	if etag := strings.Trim(*head.ETag, `"`); !strings.HasSuffix(etag, "-4") {
		t.Fatalf("ETag %s: want a 4-part multipart upload", etag)
	}
	if *head.ContentLength != int64(size) {
		t.Fatalf("size %d, want %d", *head.ContentLength, size)
	}
	// No upload is left open after a failed one either.
	if err := s.Put(ctx, "broken", &failAfter{n: 2*minPartSize + 10}); err == nil {
		t.Fatal("Put from a failing reader succeeded")
	}
	ups, err := s.client.ListMultipartUploads(ctx, listUploadsInput(s))
	if err != nil {
		t.Fatal(err)
	}
	if len(ups.Uploads) != 0 {
		t.Fatalf("%d multipart uploads left open after a failed Put, want 0", len(ups.Uploads))
	}
}

type failAfter struct{ n int }

func (f *failAfter) Read(b []byte) (int, error) {
	if f.n <= 0 {
		return 0, errors.New("source broke")
	}
	if len(b) > f.n {
		b = b[:f.n]
	}
	f.n -= len(b)
	return len(b), nil
}

func TestWrongBucketAndCredentials(t *testing.T) {
	cfg := motoConfig(t, "")
	cfg.CreateBucket = false
	_, err := New(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "NoSuchBucket") || !strings.Contains(err.Error(), cfg.Bucket) {
		t.Fatalf("New on a missing bucket: %v, want a NoSuchBucket error naming %s", err, cfg.Bucket)
	}
}

func TestOpenURL(t *testing.T) {
	m := testenv.StartMoto(t)
	t.Setenv("AWS_REGION", m.Region)
	t.Setenv("AWS_ACCESS_KEY_ID", m.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", m.SecretAccessKey)
	t.Setenv("AWS_ENDPOINT_URL_S3", m.Endpoint)
	ctx := context.Background()
	// The bucket exists: made through a storage with CreateBucket.
	cfg := motoConfig(t, "")
	if _, err := New(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	// Credentials and endpoint from the environment only.
	s, err := Open(ctx, "s3://"+cfg.Bucket+"/silver/", Credentials{}, "")
	if err != nil {
		t.Fatal(err)
	}
	if s.URL() != "s3://"+cfg.Bucket+"/silver" {
		t.Fatalf("URL = %q", s.URL())
	}
	if err := s.PutIfAbsent(ctx, "x", []byte("1")); err != nil {
		t.Fatal(err)
	}
}

func TestParseURL(t *testing.T) {
	for in, want := range map[string]Config{
		"s3://lake":                 {Bucket: "lake"},
		"s3://lake/silver/patients": {Bucket: "lake", Prefix: "silver/patients"},
		"s3a://lake/x/":             {Bucket: "lake", Prefix: "x"},
	} {
		got, err := ParseURL(in)
		if err != nil || got.Bucket != want.Bucket || got.Prefix != want.Prefix {
			t.Errorf("ParseURL(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"s3:///x", "gs://b/x", "s3://AKIA:SECRET@lake/x", "s3://lake/x?X-Amz-Signature=SECRET"} {
		_, err := ParseURL(in)
		if err == nil {
			t.Errorf("ParseURL(%q) succeeded", in)
		} else if strings.Contains(err.Error(), "SECRET") {
			t.Errorf("ParseURL(%q) error %q repeats the credential", in, err)
		}
	}
}

func TestCredentialsRedacted(t *testing.T) {
	c := Credentials{AccessKeyID: "AKIASUPERSECRET", SecretAccessKey: "SUPERSECRET", SessionToken: "SUPERSECRET"}
	var b strings.Builder
	slog.New(slog.NewTextHandler(&b, nil)).Info("open", "creds", c)
	for _, s := range []string{fmt.Sprintf("%v %+v %#v %s", c, c, c, c), b.String(), fmt.Sprintf("%+v", Config{Credentials: c})} {
		if strings.Contains(s, "SUPERSECRET") {
			t.Fatalf("credentials leaked: %s", s)
		}
	}
}

// TestPutIfAbsentLostResponse: S3 applied the conditional write but the answer was lost;
// the retry gets 412, and PutIfAbsent must recognise its own bytes and succeed.
func TestPutIfAbsentLostResponse(t *testing.T) {
	cfg := motoConfig(t, "")
	fault := &faulty.LostResponse{Times: 1, Match: func(r *http.Request) bool {
		return r.Method == http.MethodPut && r.Header.Get("If-None-Match") == "*"
	}}
	cfg.httpClient = fault.Client()
	s, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.PutIfAbsent(ctx, "_delta_log/0.json", []byte("mine")); err != nil {
		t.Fatalf("PutIfAbsent after a lost response: %v, want success", err)
	}
	if fault.Lost() < 1 {
		t.Fatal("the fault was never injected")
	}
	if err := s.Put(ctx, "_delta_log/1.json", strings.NewReader("theirs")); err != nil {
		t.Fatal(err)
	}
	fault.Times = 2 // lose the next response too
	if err := s.PutIfAbsent(ctx, "_delta_log/1.json", []byte("mine")); !errors.Is(err, lake.ErrExists) {
		t.Fatalf("PutIfAbsent over another writer's object: %v, want ErrExists", err)
	}
}
