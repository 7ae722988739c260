// Package secretstest runs local servers that speak the REST contracts of Azure Key Vault and
// HashiCorp Vault KV v2, for the tests of the secret providers and of whatever configures them.
// Nothing here can run the real services.
package secretstest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
)

// Key Vault contract constants.
const (
	KeyVaultHost   = "rcmlake-test.vault.azure.net"
	KeyVaultURL    = "https://" + KeyVaultHost + "/"
	KeyVaultTenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	KeyVaultToken  = "fake-access-token-for-tests"
)

// KeyVault speaks the part of the Key Vault REST contract that GetSecret uses: an
// unauthenticated request gets the 401 challenge that names the tenant and the resource, an
// authenticated GET /secrets/{name}/{version}?api-version=... gets the secret bundle, a
// missing secret gets 404 with a SecretNotFound error body, a denied one 403 Forbidden.
type KeyVault struct {
	Mu      sync.Mutex
	Secrets map[string]string // by lower-case name
	Denied  map[string]bool
	Gets    map[string]int
	Unauth  int      // requests without the token (the challenges)
	BadAPI  []string // requests without api-version
	// Options reach this server: a transport that sends KeyVaultHost here and trusts its
	// certificate, and a fake credential.
	Options    *azsecrets.ClientOptions
	Credential *Credential
}

// StartKeyVault serves a fake Key Vault over TLS with a certificate for KeyVaultHost.
func StartKeyVault(t testing.TB, secrets map[string]string, denied ...string) *KeyVault {
	t.Helper()
	v := &KeyVault{Secrets: secrets, Denied: map[string]bool{}, Gets: map[string]int{}, Credential: &Credential{}}
	for _, d := range denied {
		v.Denied[d] = true
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: KeyVaultHost}, DNSNames: []string{KeyVaultHost},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	srv := httptest.NewUnstartedServer(v)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	addr := srv.Listener.Addr().String()
	tr := &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}
	v.Options = &azsecrets.ClientOptions{ClientOptions: azcore.ClientOptions{
		Transport: &http.Client{Transport: tr},
		Retry:     policy.RetryOptions{MaxRetries: -1},
	}}
	return v
}

// Set changes a secret's value (rotation).
func (v *KeyVault) Set(name, value string) {
	v.Mu.Lock()
	v.Secrets[name] = value
	v.Mu.Unlock()
}

func (v *KeyVault) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	v.Mu.Lock()
	defer v.Mu.Unlock()
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	if r.Header.Get("Authorization") != "Bearer "+KeyVaultToken {
		v.Unauth++
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer authorization="https://login.microsoftonline.com/%s", resource="https://vault.azure.net"`, KeyVaultTenant))
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"error":{"code":"Unauthorized","message":"AKV10000: Request is missing a Bearer or PoP token."}}`)
		return
	}
	if r.URL.Query().Get("api-version") == "" {
		v.BadAPI = append(v.BadAPI, r.URL.String())
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"error":{"code":"BadParameter","message":"The 'api-version' query parameter is missing."}}`)
		return
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if r.Method != http.MethodGet || len(parts) < 2 || parts[0] != "secrets" {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"error":{"code":"BadParameter","message":"unsupported request"}}`)
		return
	}
	name := strings.ToLower(parts[1])
	v.Gets[name]++
	if v.Denied[name] {
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `{"error":{"code":"Forbidden","message":"The user, group or application does not have secrets get permission on key vault 'rcmlake-test'.","innererror":{"code":"AccessDenied"}}}`)
		return
	}
	val, ok := v.Secrets[name]
	if !ok {
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, `{"error":{"code":"SecretNotFound","message":"A secret with (name/id) %s was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command."}}`, name)
		return
	}
	json.NewEncoder(w).Encode(map[string]any{
		"value": val,
		"id":    fmt.Sprintf("https://%s/secrets/%s/4387e9f3d6e14c459867679a90fd0f79", KeyVaultHost, name),
		"attributes": map[string]any{"enabled": true, "created": 1700000000, "updated": 1700000000,
			"recoveryLevel": "Recoverable+Purgeable"},
	})
}

// Credential hands out KeyVaultToken and records what it was asked for.
type Credential struct {
	Mu   sync.Mutex
	Reqs []policy.TokenRequestOptions
}

// GetToken implements azcore.TokenCredential.
func (c *Credential) GetToken(_ context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.Mu.Lock()
	defer c.Mu.Unlock()
	c.Reqs = append(c.Reqs, o)
	return azcore.AccessToken{Token: KeyVaultToken, ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// VaultToken is the token the fake Vault accepts.
const VaultToken = "hvs.CAESIFakeTokenForRcmlakeTests0001"

// Vault speaks the KV v2 read contract: GET /v1/<mount>/data/<path> with X-Vault-Token; 200
// with data.data and data.metadata, 404 {"errors":[]} for a missing path, 404 with
// deletion_time for a deleted current version, 403 {"errors":["permission denied"]} for a bad
// token or a path outside the token's policy.
type Vault struct {
	Mu      sync.Mutex
	URL     string
	Mount   string
	KV      map[string]map[string]any // by path under the mount
	Deleted map[string]bool
	Denied  map[string]bool
	Reads   map[string]int
	Tokens  []string
}

// StartVault serves a fake Vault over plain HTTP on 127.0.0.1.
func StartVault(t testing.TB, mount string, kv map[string]map[string]any) *Vault {
	t.Helper()
	v := &Vault{Mount: mount, KV: kv, Deleted: map[string]bool{}, Denied: map[string]bool{}, Reads: map[string]int{}}
	srv := httptest.NewServer(v)
	t.Cleanup(srv.Close)
	v.URL = srv.URL
	return v
}

func (v *Vault) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	v.Mu.Lock()
	defer v.Mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	v.Tokens = append(v.Tokens, r.Header.Get("X-Vault-Token"))
	prefix := "/v1/" + v.Mount + "/data/"
	if r.Header.Get("X-Vault-Token") != VaultToken {
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `{"errors":["permission denied"]}`)
		return
	}
	if r.Method != http.MethodGet || !strings.HasPrefix(r.URL.Path, prefix) {
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, `{"errors":["no handler for route %q. route entry not found."]}`, r.URL.Path)
		return
	}
	p := strings.TrimPrefix(r.URL.Path, prefix)
	v.Reads[p]++
	switch {
	case v.Denied[p]:
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `{"errors":["1 error occurred:\n\t* permission denied\n\n"]}`)
	case v.Deleted[p]:
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"request_id":"d1","lease_id":"","renewable":false,"lease_duration":0,"data":{"data":null,"metadata":{"created_time":"2026-01-01T00:00:00Z","custom_metadata":null,"deletion_time":"2026-02-01T00:00:00Z","destroyed":false,"version":2}},"wrap_info":null,"warnings":null,"auth":null}`)
	case v.KV[p] != nil:
		json.NewEncoder(w).Encode(map[string]any{
			"request_id": "r1", "lease_id": "", "renewable": false, "lease_duration": 0,
			"data": map[string]any{"data": v.KV[p], "metadata": map[string]any{
				"created_time": "2026-01-01T00:00:00Z", "custom_metadata": nil, "deletion_time": "", "destroyed": false, "version": 3}},
			"wrap_info": nil, "warnings": nil, "auth": nil,
		})
	default:
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"errors":[]}`)
	}
}
