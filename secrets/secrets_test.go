package secrets

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestResolveProvidersAndRedact(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "pg-password"), []byte("s3cr3t-from-file\n"), 0o600)
	t.Setenv(EnvName("emr-hospital-a-dsn"), "postgres://u:envpass99@h/db")
	t.Setenv("PLAIN_VAR", "plainvalue")
	r := NewResolver(Env{}, Dir(dir))
	ctx := context.Background()

	got, err := r.Resolve(ctx, "${secret:emr-hospital-a-dsn}")
	if err != nil || got != "postgres://u:envpass99@h/db" {
		t.Fatalf("env provider: %q %v", got, err)
	}
	got, err = r.Resolve(ctx, "host=h password=${secret:pg-password} user=${env:PLAIN_VAR}")
	if err != nil || got != "host=h password=s3cr3t-from-file user=plainvalue" {
		t.Fatalf("mixed: %q %v", got, err)
	}
	_, err = r.Resolve(ctx, "${secret:missing-one}")
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "missing-one") {
		t.Fatalf("missing secret: %v", err)
	}
	if _, err := r.Resolve(ctx, "${secret:../etc/passwd}"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("path traversal not refused: %v", err)
	}
	msg := r.Redact("connect postgres://u:envpass99@h/db failed; pw s3cr3t-from-file")
	for _, v := range []string{"envpass99", "s3cr3t-from-file"} {
		if strings.Contains(msg, v) {
			t.Errorf("Redact left %q in %q", v, msg)
		}
	}
}

func TestRedactingHandler(t *testing.T) {
	t.Setenv(EnvName("db"), "postgres://svc:Tr0ub4dor@db/emr")
	r := NewResolver(Env{})
	dsn, err := r.Resolve(context.Background(), "${secret:db}")
	if err != nil {
		t.Fatal(err)
	}
	var buf strings.Builder
	log := slog.New(RedactingHandler(slog.NewJSONHandler(&buf, nil), r))
	log.With("dsn", dsn).Info("connecting to "+dsn, "err", errors.New("dial "+dsn+": refused"), slog.Group("src", "dsn", dsn))
	if strings.Contains(buf.String(), "Tr0ub4dor") {
		t.Fatalf("secret in log output: %s", buf.String())
	}
	if !strings.Contains(buf.String(), "[REDACTED]") {
		t.Fatalf("nothing redacted: %s", buf.String())
	}
}

type mapProvider map[string]string

func (m mapProvider) Name() string { return "map" }
func (m mapProvider) Lookup(_ context.Context, name string) (string, error) {
	if v, ok := m[name]; ok {
		return v, nil
	}
	return "", ErrNotFound
}

func TestSetProvidersKeepsRedactionAndEscapedForms(t *testing.T) {
	r := NewResolver(mapProvider{"a": "pa ss/w0rd&x=1"})
	ctx := context.Background()
	if _, err := r.Resolve(ctx, "${secret:a}"); err != nil {
		t.Fatal(err)
	}
	r.SetProviders(mapProvider{"b": "second-s3cret"})
	if got := r.ProviderNames(); len(got) != 1 || got[0] != "map" {
		t.Fatalf("providers %v", got)
	}
	if _, err := r.Resolve(ctx, "${secret:a}"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("old provider still asked: %v", err)
	}
	if _, err := r.Resolve(ctx, "${secret:b}"); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"pa ss/w0rd&x=1", "pa+ss%2Fw0rd%26x%3D1", "pa%20ss%2Fw0rd&x=1", "postgres://u:pa%20ss%2Fw0rd&x=1@h/db", "second-s3cret"} {
		if got := r.Redact("err: " + s); strings.Contains(got, "w0rd") || strings.Contains(got, "s3cret") {
			t.Errorf("Redact(%q) = %q", s, got)
		}
	}
}
