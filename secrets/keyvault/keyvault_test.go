package keyvault

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/rcmlake/rcmlake/secrets"
	"github.com/rcmlake/rcmlake/secrets/secretstest"
)

func newVault(t *testing.T) *secretstest.KeyVault {
	return secretstest.StartKeyVault(t, map[string]string{
		"emr-hospital-a-dsn": "postgres://emr_reader:Kv-Pa55w0rd-A@db-a.internal:5432/emr",
		"npi-client-secret":  "kv-npi-client-s3cret-7731",
	}, "payroll-db-dsn")
}

func TestKeyVaultProvider(t *testing.T) {
	v := newVault(t)
	opts, cred := v.Options, v.Credential
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p, err := New(secretstest.KeyVaultURL, Options{Credential: cred, Client: opts, TTL: time.Minute, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	got, err := p.Lookup(ctx, "emr-hospital-a-dsn")
	if err != nil || got != v.Secrets["emr-hospital-a-dsn"] {
		t.Fatalf("Lookup: %q, %v", got, err)
	}
	// The SDK answered the challenge: the token was asked for the vault resource and tenant.
	if len(cred.Reqs) == 0 || cred.Reqs[0].TenantID != secretstest.KeyVaultTenant || len(cred.Reqs[0].Scopes) != 1 || cred.Reqs[0].Scopes[0] != "https://vault.azure.net/.default" {
		t.Fatalf("token requests %+v, want the challenge's tenant and https://vault.azure.net/.default", cred.Reqs)
	}
	if v.Unauth != 1 || len(v.BadAPI) != 0 {
		t.Fatalf("%d unauthenticated requests (want 1 challenge), requests without api-version: %v", v.Unauth, v.BadAPI)
	}

	// Underscores and dots map to hyphens; the cache answers within the TTL.
	if got, err := p.Lookup(ctx, "emr_hospital_a.dsn"); err != nil || got != v.Secrets["emr-hospital-a-dsn"] {
		t.Fatalf("mapped name: %q, %v", got, err)
	}
	if v.Gets["emr-hospital-a-dsn"] != 1 {
		t.Fatalf("vault asked %d times within the TTL, want 1", v.Gets["emr-hospital-a-dsn"])
	}
	// A rotated secret is read again once the TTL has passed.
	v.Set("emr-hospital-a-dsn", "postgres://emr_reader:Kv-R0tated-B@db-a.internal:5432/emr")
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
	before := len(v.Gets)
	if _, err := p.Lookup(ctx, "emr/hospital-a"); !errors.Is(err, secrets.ErrNotFound) || !strings.Contains(err.Error(), "cannot be a Key Vault secret name") {
		t.Fatalf("invalid name: %v", err)
	}
	if len(v.Gets) != before {
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
	v := newVault(t)
	p, err := New(secretstest.KeyVaultURL, Options{Credential: v.Credential, Client: v.Options})
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
	for _, val := range v.Secrets {
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
