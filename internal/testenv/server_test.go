package testenv

import (
	"net/http"
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	code := m.Run()
	StopServers()
	os.Exit(code)
}

func TestStartAzurite(t *testing.T) {
	a := StartAzurite(t)
	// An unauthenticated request reaches the emulator and is refused by it.
	resp, err := http.Get(a.BlobEndpoint + "?comp=list")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("anonymous list of %s: HTTP %d, want 401/403 from Azurite", a.BlobEndpoint, resp.StatusCode)
	}
	if StartAzurite(t) != a {
		t.Fatal("a second StartAzurite started another server")
	}
}

func TestStartMoto(t *testing.T) {
	m := StartMoto(t)
	resp, err := http.Get(m.Endpoint + "/moto-api/data.json")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s/moto-api/data.json: HTTP %d, want 200", m.Endpoint, resp.StatusCode)
	}
	if StartMoto(t) != m {
		t.Fatal("a second StartMoto started another server")
	}
}
