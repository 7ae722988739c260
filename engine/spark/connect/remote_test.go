package connect

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

func TestParseRemote(t *testing.T) {
	r, err := ParseRemote("sc://adb-123.azuredatabricks.net:443/;token=dapiSECRET;x-databricks-cluster-id=0123-456789-abc;user_id=etl")
	if err != nil {
		t.Fatal(err)
	}
	if r.Host != "adb-123.azuredatabricks.net" || r.Port != 443 || r.Token != "dapiSECRET" || r.UserID != "etl" {
		t.Errorf("parsed %+v", r)
	}
	if !r.UseSSL {
		t.Error("a token must turn TLS on")
	}
	md := r.Metadata()
	if md["authorization"] != "Bearer dapiSECRET" || md["x-databricks-cluster-id"] != "0123-456789-abc" {
		t.Errorf("metadata %v", md)
	}
	if strings.Contains(r.String(), "dapiSECRET") {
		t.Errorf("String leaks the token: %s", r)
	}

	r, err = ParseRemote("sc://localhost")
	if err != nil || r.Port != DefaultPort || r.UseSSL || len(r.Metadata()) != 0 {
		t.Errorf("defaults: %+v %v", r, err)
	}
	r, err = ParseRemote("sc://h:1/;token=t;use_ssl=false")
	if err != nil || r.UseSSL {
		t.Errorf("explicit use_ssl=false: %+v %v", r, err)
	}
	for _, bad := range []string{"http://h:1", "sc://", "sc://h:notaport", "sc://h:1/;use_ssl=maybe", "sc://h:1/;token"} {
		_, err := ParseRemote(bad + ";token=hunter2")
		if err == nil {
			t.Errorf("%q parsed", bad)
		} else if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("error leaks the token: %v", err)
		}
	}
}

// The token and the cluster id travel as gRPC headers on every call: a fake server records
// what it receives.
func TestHeadersSent(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan metadata.MD, 4)
	srv := grpc.NewServer(grpc.ForceServerCodec(rawCodec{}), grpc.UnknownServiceHandler(func(_ any, st grpc.ServerStream) error {
		md, _ := metadata.FromIncomingContext(st.Context())
		got <- md
		var req []byte
		if err := st.RecvMsg(&req); err != nil {
			return err
		}
		// An empty ConfigResponse is a valid answer to the Dial probe.
		return st.SendMsg(msg(nil).str(respSessionID, "s"))
	}))
	go srv.Serve(l)
	defer srv.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Dial(ctx, "sc://"+l.Addr().String()+"/;token=tok-42;use_ssl=false;x-databricks-cluster-id=c-1", Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	md := <-got
	if a := md.Get("authorization"); len(a) != 1 || a[0] != "Bearer tok-42" {
		t.Errorf("authorization header %v", a)
	}
	if id := md.Get("x-databricks-cluster-id"); len(id) != 1 || id[0] != "c-1" {
		t.Errorf("cluster id header %v", id)
	}
}
