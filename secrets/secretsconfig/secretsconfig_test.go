package secretsconfig

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rcmlake/rcmlake/config"
	"github.com/rcmlake/rcmlake/secrets"
	"github.com/rcmlake/rcmlake/secrets/keyvault"
	"github.com/rcmlake/rcmlake/secrets/secretstest"
	"github.com/rcmlake/rcmlake/secrets/vault"
)

// TestChainFromConfig builds env, keyvault, vault and file providers from a config, against
// the local Key Vault and Vault contract servers, and checks the order, the errors and that no
// value reaches a log line or an error.
func TestChainFromConfig(t *testing.T) {
	kv := secretstest.StartKeyVault(t, map[string]string{
		"emr-hospital-a-dsn": "postgres://emr:Kv/Pa55 w0rd@db-a:5432/emr", // a value with URL-special characters
		"shadowed":           "from-keyvault-not-env",
	}, "payroll-dsn")
	vs := secretstest.StartVault(t, "kv", map[string]map[string]any{
		"rcmlake/prod": {"npi-client-secret": "vault-npi-s3cret-9", "shadowed": "from-vault"},
	})
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "icd-client-secret"), []byte("file-icd-s3cret-3\n"), 0o600)
	t.Setenv(secrets.EnvName("shadowed"), "env-wins-here")
	t.Setenv("VAULT_TOKEN", secretstest.VaultToken)
	src := fmt.Sprintf(`version: 1
secrets:
  providers: [env, keyvault, vault, file]
  dir: %s
  keyvault:
    url: %s
  vault:
    address: %s
    mount: kv
    path: rcmlake/prod
`, dir, secretstest.KeyVaultURL, vs.URL)
	cfg, err := config.Parse("rcmlake.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	r := secrets.NewResolver(secrets.Env{})
	t.Setenv(secrets.EnvName("early"), "resolved-before-config")
	if _, err := r.Resolve(context.Background(), "${secret:early}"); err != nil {
		t.Fatal(err)
	}
	err = Configure(context.Background(), r, cfg, Options{
		KeyVault: keyvault.Options{Credential: kv.Credential, Client: kv.Options},
	})
	if err != nil {
		t.Fatal(err)
	}
	names := strings.Join(r.ProviderNames(), " | ")
	for _, want := range []string{"env", "azure key vault " + secretstest.KeyVaultURL, "vault " + vs.URL + " (kv/rcmlake/prod)", "files in " + dir} {
		if !strings.Contains(names, want) {
			t.Errorf("providers %q lack %q", names, want)
		}
	}

	var logs strings.Builder
	log := slog.New(secrets.RedactingHandler(slog.NewJSONHandler(&logs, nil), r))
	ctx := context.Background()
	for ref, want := range map[string]string{
		"${secret:shadowed}":           "env-wins-here",
		"${secret:emr-hospital-a-dsn}": "postgres://emr:Kv/Pa55 w0rd@db-a:5432/emr",
		"${secret:npi-client-secret}":  "vault-npi-s3cret-9",
		"${secret:icd-client-secret}":  "file-icd-s3cret-3",
	} {
		got, err := r.Resolve(ctx, ref)
		if err != nil || got != want {
			t.Errorf("%s = %q, %v; want %q", ref, got, err, want)
			continue
		}
		// Values escape into logs and errors in the forms URLs and DSNs give them.
		log.Info("using "+got, "value", got, "url", "postgres://u:"+url.QueryEscape(got)+"@h/db",
			"err", fmt.Errorf("parse %q: %s", url.UserPassword("u", got).String(), "bad port"))
	}
	var errs []string
	_, err = r.Resolve(ctx, "${secret:nowhere-at-all}")
	if !errors.Is(err, secrets.ErrNotFound) || !strings.Contains(err.Error(), "azure key vault") || !strings.Contains(err.Error(), "vault "+vs.URL) || !strings.Contains(err.Error(), "files in") {
		t.Errorf("missing everywhere: %v", err)
	}
	errs = append(errs, err.Error())
	_, err = r.Resolve(ctx, "${secret:payroll-dsn}")
	if err == nil || errors.Is(err, secrets.ErrNotFound) || !strings.Contains(err.Error(), "Key Vault Secrets User") {
		t.Errorf("denied by Key Vault: %v (a refusal must stop the chain, not fall through)", err)
	}
	errs = append(errs, err.Error())
	log.Error("resolution failed", "errs", strings.Join(errs, "; "))

	all := r.Redact(logs.String()) + strings.Join(errs, "\n")
	for _, v := range []string{"env-wins-here", "Kv/Pa55 w0rd", "Kv%2FPa55", "Kv%2FPa55+w0rd", "vault-npi-s3cret-9", "file-icd-s3cret-3", "resolved-before-config", secretstest.VaultToken} {
		if strings.Contains(all, v) || strings.Contains(logs.String(), v) {
			t.Errorf("%q appears in the output:\n%s", v, logs.String())
		}
	}
	if kv.Gets["shadowed"] != 0 {
		t.Error("Key Vault was asked for a name the environment already had")
	}
}

func TestDefaultsAndErrors(t *testing.T) {
	cfg, err := config.Parse("rcmlake.yaml", []byte("version: 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("RCMLAKE_SECRETS_DIR", "/srv/secrets")
	ps, err := Providers(context.Background(), cfg, Options{})
	if err != nil || len(ps) != 2 || ps[0].Name() != "env" || ps[1].Name() != "files in /srv/secrets" {
		t.Fatalf("default providers: %v %v", ps, err)
	}
	cfg, err = config.Parse("rcmlake.yaml", []byte("version: 1\nsecrets:\n  providers: [vault]\n  vault:\n    mount: kv\n"))
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("VAULT_ADDR", "")
	t.Setenv("VAULT_TOKEN", "")
	_, err = Providers(context.Background(), cfg, Options{Vault: vault.Options{}})
	if err == nil || !strings.Contains(err.Error(), "rcmlake.yaml:5") || !strings.Contains(err.Error(), "address") {
		t.Fatalf("vault without an address: %v", err)
	}
}
