package open

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rcmlake/rcmlake/internal/testenv"
	"github.com/rcmlake/rcmlake/lake"
	"github.com/rcmlake/rcmlake/lake/azure"
	"github.com/rcmlake/rcmlake/lake/file"
	"github.com/rcmlake/rcmlake/lake/s3"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.StopServers()
	os.Exit(code)
}

// roundTrip proves the opened storage works end to end and returns its type.
func roundTrip(t *testing.T, s lake.Storage) {
	t.Helper()
	ctx := context.Background()
	if err := s.PutIfAbsent(ctx, "t/_delta_log/00000000000000000000.json", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	if b, err := lake.ReadAll(ctx, s, "t/_delta_log/00000000000000000000.json"); err != nil || string(b) != "{}" {
		t.Fatalf("read back %q, %v", b, err)
	}
}

func TestOpenLocal(t *testing.T) {
	dir := t.TempDir()
	for _, loc := range []string{dir, "file://" + filepath.ToSlash(dir)} {
		s, err := Open(context.Background(), loc, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := s.(*file.Storage); !ok {
			t.Fatalf("Open(%q) = %T, want *file.Storage", loc, s)
		}
		if _, ok := s.(lake.LocalPather); !ok {
			t.Fatalf("local storage is not a LocalPather")
		}
	}
	s, _ := Open(context.Background(), dir, Options{})
	roundTrip(t, s)
}

func TestOpenAzurite(t *testing.T) {
	a := testenv.StartAzurite(t)
	container := fmt.Sprintf("open-%d", time.Now().UnixNano()%1e9)
	opts := Options{Endpoint: a.BlobEndpoint, Create: true, AzureAccount: a.Account, Azure: azure.Credentials{AccountKey: a.Key}}
	for _, loc := range []string{
		"az://" + container + "/lake1",
		"abfss://" + container + "@" + a.Account + ".dfs.core.windows.net/lake2",
	} {
		s, err := Open(context.Background(), loc, opts)
		if err != nil {
			t.Fatalf("Open(%q): %v", loc, err)
		}
		if _, ok := s.(*azure.Storage); !ok {
			t.Fatalf("Open(%q) = %T", loc, s)
		}
		roundTrip(t, s)
		opts.Create = false
	}
}

func TestOpenMoto(t *testing.T) {
	m := testenv.StartMoto(t)
	bucket := fmt.Sprintf("open-%d", time.Now().UnixNano()%1e9)
	s, err := Open(context.Background(), "s3://"+bucket+"/lake", Options{
		Endpoint: m.Endpoint, Create: true, S3Region: m.Region,
		S3: s3.Credentials{AccessKeyID: m.AccessKeyID, SecretAccessKey: m.SecretAccessKey},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.(*s3.Storage); !ok {
		t.Fatalf("Open = %T", s)
	}
	roundTrip(t, s)
	if err := s.PutIfAbsent(context.Background(), "t/_delta_log/00000000000000000000.json", []byte("x")); !errors.Is(err, lake.ErrExists) {
		t.Fatalf("second commit: %v", err)
	}
}

func TestOpenRejects(t *testing.T) {
	for _, loc := range []string{"gs://bucket/x", "https://acct.blob.core.windows.net/c", "s3://", "abfss://acct.dfs.core.windows.net/"} {
		if _, err := Open(context.Background(), loc, Options{}); err == nil {
			t.Errorf("Open(%q) succeeded, want an error", loc)
		} else if !strings.Contains(err.Error(), strings.SplitN(loc, "/", 2)[0]) {
			t.Errorf("Open(%q) error %q does not quote the location", loc, err)
		}
	}
}
