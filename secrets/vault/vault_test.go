package vault

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rcmlake/rcmlake/secrets"
	"github.com/rcmlake/rcmlake/secrets/secretstest"
)

const testToken = secretstest.VaultToken

func startVault(t *testing.T) (*secretstest.Vault, string) {
	v := secretstest.StartVault(t, "kv-prod", map[string]map[string]any{
		"rcmlake":        {"emr-hospital-a-dsn": "postgres://emr:Vault-Pa55-A@db-a:5432/emr", "npi-client-secret": "vault-npi-s3cret-42", "port": json.Number("5432")},
		"emr/hospital-b": {"dsn": "sqlserver://emr:Vault-Pa55-B@db-b:1433?database=emr"},
	})
	v.Deleted["old/retired"] = true
	v.Denied["payroll"] = true
	return v, v.URL
}

func TestVaultProvider(t *testing.T) {
	v, addr := startVault(t)
	t.Setenv("VAULT_TOKEN", testToken)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p, err := New(Options{Address: addr, Mount: "kv-prod", Path: "rcmlake", TTL: time.Minute, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for name, want := range map[string]string{
		"emr-hospital-a-dsn":   "postgres://emr:Vault-Pa55-A@db-a:5432/emr",
		"npi-client-secret":    "vault-npi-s3cret-42",
		"emr/hospital-b#dsn":   "sqlserver://emr:Vault-Pa55-B@db-b:1433?database=emr",
		"/emr/hospital-b/#dsn": "sqlserver://emr:Vault-Pa55-B@db-b:1433?database=emr",
	} {
		if got, err := p.Lookup(ctx, name); err != nil || got != want {
			t.Errorf("Lookup(%q) = %q, %v", name, got, err)
		}
	}
	if v.Reads["rcmlake"] != 1 || v.Reads["emr/hospital-b"] != 1 {
		t.Errorf("reads %v: each KV secret should be read once within the TTL", v.Reads)
	}
	now = now.Add(2 * time.Minute)
	p.Lookup(ctx, "npi-client-secret")
	if v.Reads["rcmlake"] != 2 {
		t.Errorf("after the TTL the secret was read %d times, want 2", v.Reads["rcmlake"])
	}

	for name, want := range map[string]string{
		"no-such-field":   `no field "no-such-field"`,
		"nothing/here#x":  "no secret at kv-prod/data/nothing/here",
		"old/retired#dsn": "deleted",
		"bad#":            "PATH#FIELD",
		"../sys/policy#x": "PATH#FIELD",
	} {
		_, err := p.Lookup(ctx, name)
		if !errors.Is(err, secrets.ErrNotFound) || !strings.Contains(err.Error(), want) {
			t.Errorf("Lookup(%q): %v, want not found mentioning %q", name, err, want)
		}
	}
	_, err = p.Lookup(ctx, "payroll#dsn")
	if err == nil || errors.Is(err, secrets.ErrNotFound) || !strings.Contains(err.Error(), "policy") {
		t.Errorf("denied path: %v, want an error about the token's policy", err)
	}
	if _, err := p.Lookup(ctx, "port"); err == nil || !strings.Contains(err.Error(), "not a string") {
		t.Errorf("non-string field: %v", err)
	}
	for _, tok := range v.Tokens {
		if tok != testToken {
			t.Fatalf("request with token %q", tok)
		}
	}
}

func TestVaultToken(t *testing.T) {
	_, addr := startVault(t)
	ctx := context.Background()
	t.Setenv("VAULT_TOKEN", "")
	t.Setenv("HOME", t.TempDir())

	if _, err := New(Options{Address: addr}); err == nil || !strings.Contains(err.Error(), "no token") {
		t.Fatalf("without a token: %v", err)
	}
	file := filepath.Join(t.TempDir(), "token")
	os.WriteFile(file, []byte(testToken+"\n"), 0o600)
	p, err := New(Options{Address: addr, Mount: "kv-prod", TokenFile: file})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := p.Lookup(ctx, "npi-client-secret"); err != nil || got != "vault-npi-s3cret-42" {
		t.Fatalf("token from file: %q %v", got, err)
	}
	// ~/.vault-token as the vault CLI leaves it.
	os.WriteFile(filepath.Join(os.Getenv("HOME"), ".vault-token"), []byte(testToken), 0o600)
	if p, err = New(Options{Address: addr, Mount: "kv-prod"}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Lookup(ctx, "npi-client-secret"); err != nil {
		t.Fatalf("token from ~/.vault-token: %v", err)
	}
	// A wrong token: 403 everywhere, an error that names neither token nor value.
	p, err = New(Options{Address: addr, Mount: "kv-prod", Token: "hvs.wrong-token"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Lookup(ctx, "npi-client-secret")
	if err == nil || errors.Is(err, secrets.ErrNotFound) || strings.Contains(err.Error(), "hvs.") {
		t.Fatalf("wrong token: %v", err)
	}
	if _, err := New(Options{Token: testToken}); err == nil && os.Getenv("VAULT_ADDR") == "" {
		t.Fatal("no address accepted")
	}
}

// TestNoSecretInAnyOutput greps the log lines and errors of working and failing resolutions
// through a chain with Vault in it for the secret values and the token.
func TestNoSecretInAnyOutput(t *testing.T) {
	v, addr := startVault(t)
	t.Setenv("VAULT_TOKEN", testToken)
	p, err := New(Options{Address: addr, Mount: "kv-prod"})
	if err != nil {
		t.Fatal(err)
	}
	r := secrets.NewResolver(secrets.Env{}, p)
	var out strings.Builder
	log := slog.New(secrets.RedactingHandler(slog.NewTextHandler(&out, nil), r))
	var errs []string
	for _, ref := range []string{"${secret:emr-hospital-a-dsn}", "${secret:emr/hospital-b#dsn}", "${secret:npi-client-secret} ${secret:payroll#x}", "${secret:missing}"} {
		val, err := r.Resolve(context.Background(), ref)
		if err != nil {
			log.Error("not resolved", "ref", ref, "err", err)
			errs = append(errs, r.Redact(err.Error()))
			continue
		}
		log.Info("opening "+val, "dsn", val)
		errs = append(errs, r.Redact(errors.New("login failed for "+val).Error()))
	}
	all := out.String() + strings.Join(errs, "\n")
	for _, kv := range v.KV {
		for _, val := range kv {
			if s, ok := val.(string); ok && len(s) > 4 && strings.Contains(all, s) {
				t.Errorf("secret value %q in output:\n%s", s, all)
			}
		}
	}
	if strings.Contains(all, testToken) {
		t.Errorf("vault token in output:\n%s", all)
	}
	if strings.Count(all, "[REDACTED]") < 4 {
		t.Errorf("expected redactions in:\n%s", all)
	}
}
