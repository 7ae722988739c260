package keyvault

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
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

	"github.com/rcmlake/rcmlake/secrets"
)

const (
	vaultHost = "rcmlake-test.vault.azure.net"
	tenant    = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	token     = "fake-access-token-for-tests"
)

// fakeVault speaks the part of the Key Vault REST contract that GetSecret uses: an
// unauthenticated request gets the 401 challenge that names the tenant and the resource, an
// authenticated GET /secrets/{name}/{version}?api-version=... gets the secret bundle, and a
// missing secret gets 404 with a SecretNotFound error body.
type fakeVault struct {
	mu      sync.Mutex
	secrets map[string]string
	denied  map[string]bool
	gets    map[string]int
	unauth  int
	badAPI  []string
}

func (v *fakeVault) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	v.mu.Lock()
	defer v.mu.Unlock()
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	if r.Header.Get("Authorization") != "Bearer "+token {
		v.unauth++
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer authorization="https://login.microsoftonline.com/%s", resource="https://vault.azure.net"`, tenant))
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"error":{"code":"Unauthorized","message":"AKV10000: Request is missing a Bearer or PoP token."}}`)
		return
	}
	if r.URL.Query().Get("api-version") == "" {
		v.badAPI = append(v.badAPI, r.URL.String())
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
	v.gets[name]++
	if v.denied[name] {
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintf(w, `{"error":{"code":"Forbidden","message":"The user, group or application does not have secrets get permission on key vault 'rcmlake-test'.","innererror":{"code":"AccessDenied"}}}`)
		return
	}
	val, ok := v.secrets[name]
	if !ok {
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, `{"error":{"code":"SecretNotFound","message":"A secret with (name/id) %s was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command."}}`, name)
		return
	}
	json.NewEncoder(w).Encode(map[string]any{
		"value": val,
		"id":    fmt.Sprintf("https://%s/secrets/%s/4387e9f3d6e14c459867679a90fd0f79", vaultHost, name),
		"attributes": map[string]any{"enabled": true, "created": 1700000000, "updated": 1700000000,
			"recoveryLevel": "Recoverable+Purgeable"},
	})
}

// fakeCredential hands out a fixed token and records what it was asked for.
type fakeCredential struct {
	mu   sync.Mutex
	reqs []policy.TokenRequestOptions
}

func (c *fakeCredential) GetToken(_ context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reqs = append(c.reqs, o)
	return azcore.AccessToken{Token: token, ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// startVault serves v over TLS with a certificate for vaultHost, and returns client options
// whose transport sends vaultHost to it and trusts that certificate, so the SDK talks to
// https://rcmlake-test.vault.azure.net/ as it would to Azure.
func startVault(t *testing.T, v *fakeVault) *azsecrets.ClientOptions {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: vaultHost}, DNSNames: []string{vaultHost},
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
	return &azsecrets.ClientOptions{ClientOptions: azcore.ClientOptions{
		Transport: &http.Client{Transport: tr},
		Retry:     policy.RetryOptions{MaxRetries: -1},
	}}
}

func newVault() *fakeVault {
	return &fakeVault{
		secrets: map[string]string{
			"emr-hospital-a-dsn": "postgres://emr_reader:Kv-Pa55w0rd-A@db-a.internal:5432/emr",
			"npi-client-secret":  "kv-npi-client-s3cret-7731",
		},
		denied: map[string]bool{"payroll-db-dsn": true},
		gets:   map[string]int{},
	}
}

func TestKeyVaultProvider(t *testing.T) {
	v := newVault()
	opts := startVault(t, v)
	cred := &fakeCredential{}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p, err := New("https://"+vaultHost+"/", Options{Credential: cred, Client: opts, TTL: time.Minute, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	got, err := p.Lookup(ctx, "emr-hospital-a-dsn")
	if err != nil || got != v.secrets["emr-hospital-a-dsn"] {
		t.Fatalf("Lookup: %q, %v", got, err)
	}
	// The SDK answered the challenge: the token was asked for the vault resource and tenant.
	if len(cred.reqs) == 0 || cred.reqs[0].TenantID != tenant || len(cred.reqs[0].Scopes) != 1 || cred.reqs[0].Scopes[0] != "https://vault.azure.net/.default" {
		t.Fatalf("token requests %+v, want the challenge's tenant and https://vault.azure.net/.default", cred.reqs)
	}
	if v.unauth != 1 || len(v.badAPI) != 0 {
		t.Fatalf("%d unauthenticated requests (want 1 challenge), requests without api-version: %v", v.unauth, v.badAPI)
	}

	// Underscores and dots map to hyphens; the cache answers within the TTL.
	if got, err := p.Lookup(ctx, "emr_hospital_a.dsn"); err != nil || got != v.secrets["emr-hospital-a-dsn"] {
		t.Fatalf("mapped name: %q, %v", got, err)
	}
	if v.gets["emr-hospital-a-dsn"] != 1 {
		t.Fatalf("vault asked %d times within the TTL, want 1", v.gets["emr-hospital-a-dsn"])
	}
	// A rotated secret is read again once the TTL has passed.
	v.mu.Lock()
	v.secrets["emr-hospital-a-dsn"] = "postgres://emr_reader:Kv-R0tated-B@db-a.internal:5432/emr"
	v.mu.Unlock()
	now = now.Add(59 * time.Second)
	if got, _ := p.Lookup(ctx, "emr-hospital-a-dsn"); !strings.Contains(got, "Kv-Pa55w0rd-A") {
		t.Fatalf("before the TTL: %q, want the cached value", got)
	}
	now = now.Add(2 * time.Second)
	if got, _ := p.Lookup(ctx, "emr-hospital-a-dsn"); !strings.Contains(got, "Kv-R0tated-B") {
		t.Fatalf("after the TTL: %q, want the rotated value", got)
	}

	// Missing: 404 SecretNotFound is ErrNotFound, so the next provider may answer.
	_, err = p.Lookup(ctx, "no-such-secret")
	if !errors.Is(err, secrets.ErrNotFound) || !strings.Contains(err.Error(), "SecretNotFound") || !strings.Contains(err.Error(), "no-such-secret") {
		t.Fatalf("missing secret: %v", err)
	}
	// Refused: 403 is a real error that says what to grant.
	_, err = p.Lookup(ctx, "payroll-db-dsn")
	if err == nil || errors.Is(err, secrets.ErrNotFound) || !strings.Contains(err.Error(), "Key Vault Secrets User") {
		t.Fatalf("forbidden secret: %v", err)
	}
	// Names Key Vault cannot hold are not sent at all.
	before := len(v.gets)
	if _, err := p.Lookup(ctx, "emr/hospital-a"); !errors.Is(err, secrets.ErrNotFound) || !strings.Contains(err.Error(), "cannot be a Key Vault secret name") {
		t.Fatalf("invalid name: %v", err)
	}
	if len(v.gets) != before {
		t.Fatal("an invalid name was sent to the vault")
	}
}

func TestSecretName(t *testing.T) {
	for in, want := range map[string]string{
		"emr-hospital-a-dsn": "emr-hospital-a-dsn", "EMR_Hospital_A.dsn": "emr-hospital-a-dsn", "a": "a",
		"x y": "", "a/b": "", "": "", "café": "", strings.Repeat("a", 128): "",
	} {
		got, err := SecretName(in)
		if got != want || (want == "") != (err != nil) {
			t.Errorf("SecretName(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// TestNoSecretInAnyOutput resolves config references through a chain with Key Vault in it and
// greps every log line and error, of resolutions that worked and of ones that failed, for the
// secret values.
func TestNoSecretInAnyOutput(t *testing.T) {
	v := newVault()
	p, err := New("https://"+vaultHost+"/", Options{Credential: &fakeCredential{}, Client: startVault(t, v)})
	if err != nil {
		t.Fatal(err)
	}
	r := secrets.NewResolver(secrets.Env{}, p)
	var out strings.Builder
	log := slog.New(secrets.RedactingHandler(slog.NewJSONHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}), r))
	ctx := context.Background()
	var errs []string
	for _, ref := range []string{
		"${secret:emr-hospital-a-dsn}",
		"client_id=abc client_secret=${secret:npi-client-secret}",
		"${secret:emr-hospital-a-dsn} and ${secret:no-such-secret}",
		"${secret:payroll-db-dsn}",
		"${secret:emr/hospital-a}",
	} {
		val, err := r.Resolve(ctx, ref)
		if err != nil {
			errs = append(errs, r.Redact(err.Error()))
			log.Error("secret not resolved", "ref", ref, "err", err)
			continue
		}
		// What a careless caller might do with a value: log it, wrap it in an error.
		log.Info("connecting with "+val, "dsn", val, slog.Group("source", "dsn", val))
		errs = append(errs, r.Redact(fmt.Errorf("dial %s: connection refused", val).Error()))
	}
	all := out.String() + strings.Join(errs, "\n")
	for _, val := range v.secrets {
		for _, frag := range []string{val, "Kv-Pa55w0rd-A", "kv-npi-client-s3cret"} {
			if strings.Contains(all, frag) && strings.Contains(val, frag) {
				t.Errorf("secret fragment %q in output:\n%s", frag, all)
			}
		}
	}
	if !strings.Contains(all, "[REDACTED]") || !strings.Contains(all, "payroll-db-dsn") {
		t.Fatalf("output does not look right:\n%s", all)
	}
}
