package azure

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestParseURL(t *testing.T) {
	cases := []struct {
		in                                 string
		account, container, prefix, suffix string
	}{
		{"abfss://lake@rcmprod.dfs.core.windows.net/silver/patients", "rcmprod", "lake", "silver/patients", "core.windows.net"},
		{"abfss://lake@rcmprod.dfs.core.windows.net", "rcmprod", "lake", "", "core.windows.net"},
		{"abfs://lake@rcmprod.dfs.core.chinacloudapi.cn/x/", "rcmprod", "lake", "x", "core.chinacloudapi.cn"},
		{"wasbs://lake@rcmprod.blob.core.windows.net/a", "rcmprod", "lake", "a", "core.windows.net"},
		{"az://lake/silver", "", "lake", "silver", ""},
		{"azure://lake", "", "lake", "", ""},
		{"az://rcmprod.blob.core.windows.net/lake/gold/kpis", "rcmprod", "lake", "gold/kpis", "core.windows.net"},
	}
	for _, c := range cases {
		cfg, err := ParseURL(c.in)
		if err != nil {
			t.Errorf("ParseURL(%q): %v", c.in, err)
			continue
		}
		if cfg.Account != c.account || cfg.Container != c.container || cfg.Prefix != c.prefix || cfg.EndpointSuffix != c.suffix {
			t.Errorf("ParseURL(%q) = account %q container %q prefix %q suffix %q; want %q %q %q %q",
				c.in, cfg.Account, cfg.Container, cfg.Prefix, cfg.EndpointSuffix, c.account, c.container, c.prefix, c.suffix)
		}
	}
	bad := []string{
		"s3://bucket/x",
		"abfss://rcmprod.dfs.core.windows.net/x",            // no container
		"abfss://lake@rcmprod.example.com/x",                // not dfs/blob
		"abfss://lake:secret@rcmprod.dfs.core.windows.net/", // password in URL
		"az://lake/x?sig=abc",                               // SAS in URL
		"az:///x",
	}
	for _, in := range bad {
		_, err := ParseURL(in)
		if err == nil {
			t.Errorf("ParseURL(%q) succeeded, want an error", in)
			continue
		}
		if strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), "sig=abc") {
			t.Errorf("ParseURL(%q) error %q repeats the credential", in, err)
		}
	}
}

func TestDisplayURL(t *testing.T) {
	cfg := Config{Account: "rcmprod", Container: "lake", Prefix: "silver", EndpointSuffix: DefaultEndpointSuffix}
	if got, want := displayURL(cfg, "https://rcmprod.blob.core.windows.net"), "abfss://lake@rcmprod.dfs.core.windows.net/silver"; got != want {
		t.Errorf("displayURL = %q, want %q", got, want)
	}
	if got, want := displayURL(cfg, "http://127.0.0.1:10000/devstoreaccount1"), "http://127.0.0.1:10000/devstoreaccount1/lake/silver"; got != want {
		t.Errorf("displayURL with an emulator = %q, want %q", got, want)
	}
}

func TestCredentialsRedacted(t *testing.T) {
	c := Credentials{AccountKey: "SUPERSECRETKEY==", SASToken: "sig=SUPERSECRET"}
	var b strings.Builder
	slog.New(slog.NewTextHandler(&b, nil)).Info("open", "creds", c)
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%v %+v %#v %s", c, c, c, c), b.String(), fmt.Sprintf("%+v", Config{Credentials: c})} {
		if strings.Contains(s, "SUPERSECRET") {
			t.Fatalf("credentials leaked: %s", s)
		}
	}
}

func TestFromEnv(t *testing.T) {
	t.Setenv(EnvAccount, "envacct")
	t.Setenv(EnvKey, "envkey")
	t.Setenv(EnvConnectionString, "")
	t.Setenv(EnvSASToken, "envsas")
	var cfg Config
	cfg.FromEnv()
	if cfg.Account != "envacct" || cfg.Credentials.AccountKey != "envkey" || cfg.Credentials.SASToken != "" {
		t.Fatalf("FromEnv: account %q, key set %v, sas set %v; want envacct, key only",
			cfg.Account, cfg.Credentials.AccountKey != "", cfg.Credentials.SASToken != "")
	}
	// A credential the caller passed is never mixed with one from the environment.
	cfg = Config{Account: "mine", Credentials: Credentials{SASToken: "mine"}}
	cfg.FromEnv()
	if cfg.Account != "mine" || cfg.Credentials.AccountKey != "" {
		t.Fatalf("FromEnv overrode the caller's values")
	}
}

func TestParseConnectionString(t *testing.T) {
	cs, err := parseConnectionString("DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=k==;EndpointSuffix=core.usgovcloudapi.net")
	if err != nil {
		t.Fatal(err)
	}
	if cs.account != "acct" || cs.key != "k==" || cs.blobEndpoint != "https://acct.blob.core.usgovcloudapi.net" {
		t.Fatalf("parsed %+v", cs)
	}
	cs, err = parseConnectionString("UseDevelopmentStorage=true")
	if err != nil || cs.blobEndpoint != devEndpoint || cs.account != devAccount {
		t.Fatalf("UseDevelopmentStorage: %+v, %v", cs, err)
	}
	if _, err := parseConnectionString("AccountName=acct;AccountKey=SECRET"); err != nil {
		t.Fatal(err)
	}
	_, err = parseConnectionString("AccountName=acct;Password=SECRET")
	if err == nil || strings.Contains(err.Error(), "SECRET") {
		t.Fatalf("bad connection string: %v", err)
	}
}
