package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestSecretsAndSchedulesConfig(t *testing.T) {
	src := `version: 1
sources:
  landing:
    root: landing
    files:
      - pattern: claims/hospital1_*.csv
        datasource: hos-a
        table: claims
secrets:
  providers: [env, keyvault, vault, file]
  dir: /var/run/rcmlake
  cache_ttl: 2m
  keyvault:
    url: https://rcmlake-prod.vault.azure.net/
  vault:
    address: https://vault.internal:8200
    mount: kv
    path: rcmlake/prod
schedules:
  - name: emr-daily
    cron: "0 2 * * *"
    select: "bronze.hos-a.*+"
  - name: claims-monthly
    cron: "@monthly"
    select: "bronze.claims*+"
    catch_up: false
  - name: apis
    cron: "30 0 */6 * * *"
landing_trigger:
  enabled: true
  poll: 45s
  select: "bronze.claims*+"
`
	cfg, err := Parse("ok.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Secrets
	if strings.Join(s.Providers, ",") != "env,keyvault,vault,file" || s.KeyVault.URL != "https://rcmlake-prod.vault.azure.net/" || s.Vault.Mount != "kv" || s.Vault.Pos.Line != 16 {
		t.Errorf("secrets: %+v vault %+v", s, s.Vault)
	}
	if len(cfg.Schedules) != 3 || !cfg.Schedules[0].CatchesUp() || cfg.Schedules[1].CatchesUp() || cfg.Schedules[1].Pos.Line != 23 {
		t.Errorf("schedules: %+v", cfg.Schedules)
	}
	if lt := cfg.LandingTrigger; !lt.Enabled || lt.PollInterval() != 45*time.Second || lt.Select != "bronze.claims*+" {
		t.Errorf("landing trigger: %+v", lt)
	}
	if (LandingTrigger{}).PollInterval() != 30*time.Second {
		t.Error("default poll is not 30s")
	}
}

func TestSecretsAndSchedulesProblems(t *testing.T) {
	src := `version: 1
secrets:
  providers: [env, keyvault, onepassword, env]
  cache_ttl: soon
  vault:
    address: vault.internal:8200
    token: hvs.literal
schedules:
  - name: EMR Daily
    cron: "0 2 * * *"
  - name: claims
    cron: "0 25 * * *"
  - name: claims
  - name: landing
    cron: "@daily"
landing_trigger:
  enabled: true
  poll: 10ms
`
	_, err := Parse("bad.yaml", []byte(src))
	var probs Problems
	if !errors.As(err, &probs) {
		t.Fatalf("want Problems, got %v", err)
	}
	want := []struct {
		line int
		text string
	}{
		{3, `"onepassword" is not a provider`},
		{3, `lists "env" twice`},
		{3, "no secrets.keyvault"},
		{3, `cache_ttl "soon"`},
		{6, `secrets.vault.address "vault.internal:8200"`},
		{6, "vault is not in secrets.providers"},
		{7, `unknown key "token"`},
		{9, `schedule name "EMR Daily"`},
		{11, `cron "0 25 * * *"`},
		{13, `"claims" is defined twice`},
		{13, "needs a cron expression"},
		{14, `schedule name "landing"`},
		{17, "no files to watch"},
		{17, `landing_trigger.poll "10ms"`},
	}
	for _, w := range want {
		found := false
		for _, p := range probs {
			if p.Line == w.line && strings.Contains(p.Message, w.text) && p.File == "bad.yaml" {
				found = true
			}
		}
		if !found {
			t.Errorf("missing problem at line %d containing %q; got:\n%v", w.line, w.text, probs)
		}
	}
}
