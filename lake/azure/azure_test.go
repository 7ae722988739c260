package azure

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"

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

var containerSeq atomic.Int64

// newContainerName gives every test its own container on the shared Azurite.
func newContainerName() string {
	return fmt.Sprintf("t%d-%d", time.Now().UnixNano()%1e9, containerSeq.Add(1))
}

func azuriteConfig(t testing.TB, prefix string) Config {
	a := testenv.StartAzurite(t)
	return Config{
		Account:         a.Account,
		Container:       newContainerName(),
		Prefix:          prefix,
		Endpoint:        a.BlobEndpoint,
		Credentials:     Credentials{AccountKey: a.Key},
		CreateContainer: true,
	}
}

func newAzurite(t testing.TB, prefix string) *Storage {
	t.Helper()
	s, err := New(context.Background(), azuriteConfig(t, prefix))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformanceAzurite(t *testing.T) {
	laketest.Run(t, func(t *testing.T) lake.Storage { return newAzurite(t, "lakes/rcm") })
}

func TestConformanceAzuriteContainerRoot(t *testing.T) {
	laketest.Run(t, func(t *testing.T) lake.Storage { return newAzurite(t, "") })
}

func BenchmarkAzurite(b *testing.B) {
	laketest.Bench(b, func(b *testing.B) lake.Storage { return newAzurite(b, "bench") })
}

func TestListPaging(t *testing.T) {
	cfg := azuriteConfig(t, "root")
	cfg.listPageSize = 2
	s, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	want := []string{"a/1", "a/2", "a/3", "a/4", "a/5"}
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
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("paged List = %v, want %v", got, want)
	}
}

// TestPrefixIsolation: a lake rooted in a folder sees neither the objects beside it nor
// the folder name in its keys.
func TestPrefixIsolation(t *testing.T) {
	cfg := azuriteConfig(t, "lake")
	ctx := context.Background()
	inner, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Prefix = ""
	outer, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := outer.Put(ctx, "lake-other/x", strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	if err := inner.Put(ctx, "t/y", strings.NewReader("y")); err != nil {
		t.Fatal(err)
	}
	list, err := inner.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Key != "t/y" {
		t.Fatalf("inner List = %+v, want only t/y", list)
	}
	if _, err := outer.Stat(ctx, "lake/t/y"); err != nil {
		t.Fatalf("the inner object is not at lake/t/y in the container: %v", err)
	}
}

func TestSASToken(t *testing.T) {
	a := testenv.StartAzurite(t)
	cfg := azuriteConfig(t, "p")
	ctx := context.Background()
	if _, err := New(ctx, cfg); err != nil { // creates the container
		t.Fatal(err)
	}
	cred, err := azblob.NewSharedKeyCredential(a.Account, a.Key)
	if err != nil {
		t.Fatal(err)
	}
	perms := sas.ContainerPermissions{Read: true, Add: true, Create: true, Write: true, Delete: true, List: true}
	q, err := sas.BlobSignatureValues{
		Protocol:      sas.ProtocolHTTPSandHTTP,
		ExpiryTime:    time.Now().Add(time.Hour),
		Permissions:   perms.String(),
		ContainerName: cfg.Container,
	}.SignWithSharedKey(cred)
	if err != nil {
		t.Fatal(err)
	}
	cfg.CreateContainer = false
	cfg.Credentials = Credentials{SASToken: "?" + q.Encode()}
	s, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutIfAbsent(ctx, "v/0.json", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	if err := s.PutIfAbsent(ctx, "v/0.json", []byte("{}")); !errors.Is(err, lake.ErrExists) {
		t.Fatalf("second PutIfAbsent with SAS: %v, want ErrExists", err)
	}
	if strings.Contains(s.URL(), "sig") {
		t.Fatalf("URL %q leaks the SAS token", s.URL())
	}

	// A read-only SAS opens the lake but cannot write, and the error says to check the
	// credentials without quoting them.
	ro, err := sas.BlobSignatureValues{
		Protocol: sas.ProtocolHTTPSandHTTP, ExpiryTime: time.Now().Add(time.Hour),
		Permissions: (&sas.ContainerPermissions{Read: true, List: true}).String(), ContainerName: cfg.Container,
	}.SignWithSharedKey(cred)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Credentials = Credentials{SASToken: ro.Encode()}
	rs, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := lake.ReadAll(ctx, rs, "v/0.json"); err != nil || string(b) != "{}" {
		t.Fatalf("read with a read-only SAS: %q, %v", b, err)
	}
	err = rs.Put(ctx, "v/1.json", strings.NewReader("{}"))
	if err == nil {
		t.Fatal("Put with a read-only SAS succeeded")
	}
	if !strings.Contains(err.Error(), "403") || !strings.Contains(err.Error(), "credentials") {
		t.Fatalf("error %q does not say HTTP 403 and point at the credentials", err)
	}
	if strings.Contains(err.Error(), ro.Signature()) {
		t.Fatalf("error %q contains the SAS signature", err)
	}
}

func TestConnectionString(t *testing.T) {
	a := testenv.StartAzurite(t)
	ctx := context.Background()
	s, err := New(ctx, Config{
		Container:       newContainerName(),
		Credentials:     Credentials{ConnectionString: a.ConnectionString()},
		CreateContainer: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "x", strings.NewReader("hello")); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s.URL(), a.BlobEndpoint+"/") {
		t.Fatalf("URL %q is not under the connection string's endpoint %s", s.URL(), a.BlobEndpoint)
	}
}

func TestWrongKeyFailsAtOpen(t *testing.T) {
	cfg := azuriteConfig(t, "")
	cfg.Credentials.AccountKey = "d3Jvbmcga2V5IHdyb25nIGtleSB3cm9uZyBrZXkgd3Jvbmcga2V5IHdyb25nIGtleQ=="
	_, err := New(context.Background(), cfg)
	if err == nil {
		t.Fatal("New with a wrong account key succeeded")
	}
	if !strings.Contains(err.Error(), "403") || !strings.Contains(err.Error(), "shared key") {
		t.Fatalf("error %q should give the HTTP status and name the kind of credential", err)
	}
	if strings.Contains(err.Error(), cfg.Credentials.AccountKey) {
		t.Fatal("error contains the account key")
	}
}

func TestMissingContainer(t *testing.T) {
	cfg := azuriteConfig(t, "")
	cfg.CreateContainer = false
	_, err := New(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "ContainerNotFound") || !strings.Contains(err.Error(), cfg.Container) {
		t.Fatalf("New on a missing container: %v, want a ContainerNotFound error naming %s", err, cfg.Container)
	}
}

// TestPutIfAbsentLostResponse: the service applied the conditional write but the answer
// was lost. The retry is refused as "exists"; PutIfAbsent must see that the blob holds
// its own bytes and report success, not a conflict — else a Delta writer would think it
// lost a race it won.
func TestPutIfAbsentLostResponse(t *testing.T) {
	cfg := azuriteConfig(t, "")
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
	// Someone else's content under the key is still a conflict after a lost response.
	if err := s.Put(ctx, "_delta_log/1.json", strings.NewReader("theirs")); err != nil {
		t.Fatal(err)
	}
	fault2 := &faulty.LostResponse{Times: 1, Match: func(r *http.Request) bool { return r.Header.Get("If-None-Match") == "*" }}
	cfg.httpClient = fault2.Client()
	cfg.CreateContainer = false
	s2, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s2.PutIfAbsent(ctx, "_delta_log/1.json", []byte("mine")); !errors.Is(err, lake.ErrExists) {
		t.Fatalf("PutIfAbsent over another writer's object: %v, want ErrExists", err)
	}
}
