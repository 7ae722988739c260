// Package secretsconfig builds the chain of secret providers a config asks for
// (secrets.providers: env, file, keyvault, vault). It sits apart from package secrets so that
// the Azure and Vault clients are linked only where a config can choose them.
package secretsconfig

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/rcmlake/rcmlake/config"
	"github.com/rcmlake/rcmlake/secrets"
	"github.com/rcmlake/rcmlake/secrets/keyvault"
	"github.com/rcmlake/rcmlake/secrets/vault"
)

// DefaultProviders are asked when the config names none.
var DefaultProviders = []string{"env", "file"}

// Options carry what tests need to reach local servers instead of Azure and Vault.
type Options struct {
	KeyVault keyvault.Options
	Vault    vault.Options
}

// Providers returns the config's providers, in its order.
func Providers(ctx context.Context, cfg *config.Config, o Options) ([]secrets.Provider, error) {
	sc := cfg.Secrets
	names := sc.Providers
	if len(names) == 0 {
		names = DefaultProviders
	}
	var ttl time.Duration
	if sc.CacheTTL != "" {
		d, err := time.ParseDuration(sc.CacheTTL)
		if err != nil {
			return nil, fmt.Errorf("%s: secrets.cache_ttl %q: %w", cfg.Position(sc.Pos), sc.CacheTTL, err)
		}
		ttl = d
		if d == 0 {
			ttl = -1 // off
		}
	}
	var out []secrets.Provider
	for _, name := range names {
		switch name {
		case "env":
			out = append(out, secrets.Env{})
		case "file":
			out = append(out, secrets.Dir(FileDir(cfg)))
		case "keyvault":
			if sc.KeyVault == nil {
				return nil, fmt.Errorf("%s: secrets.providers lists keyvault but secrets.keyvault.url is not set", cfg.Position(sc.Pos))
			}
			ko := o.KeyVault
			if ko.TTL == 0 {
				ko.TTL = ttl
			}
			p, err := keyvault.New(sc.KeyVault.URL, ko)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", cfg.Position(sc.KeyVault.Pos), err)
			}
			out = append(out, p)
		case "vault":
			vo := o.Vault
			if v := sc.Vault; v != nil {
				vo.Address, vo.Mount, vo.Path, vo.Namespace = first(vo.Address, v.Address), first(vo.Mount, v.Mount), first(vo.Path, v.Path), first(vo.Namespace, v.Namespace)
				vo.TokenFile = first(vo.TokenFile, cfg.ResolvePath(v.TokenFile))
			}
			if vo.TTL == 0 {
				vo.TTL = ttl
			}
			p, err := vault.New(vo)
			if err != nil {
				at := sc.Pos
				if sc.Vault != nil {
					at = sc.Vault.Pos
				}
				return nil, fmt.Errorf("%s: %w", cfg.Position(at), err)
			}
			out = append(out, p)
		default:
			return nil, fmt.Errorf("%s: secrets.providers: unknown provider %q", cfg.Position(sc.Pos), name)
		}
	}
	return out, nil
}

// FileDir is the file provider's folder: secrets.dir, else $RCMLAKE_SECRETS_DIR, else
// /run/secrets.
func FileDir(cfg *config.Config) string {
	if cfg != nil && cfg.Secrets.Dir != "" {
		return cfg.ResolvePath(cfg.Secrets.Dir)
	}
	if d := os.Getenv("RCMLAKE_SECRETS_DIR"); d != "" {
		return d
	}
	return "/run/secrets"
}

// FromConfig returns a resolver over the config's providers.
func FromConfig(ctx context.Context, cfg *config.Config) (*secrets.Resolver, error) {
	ps, err := Providers(ctx, cfg, Options{})
	if err != nil {
		return nil, err
	}
	return secrets.NewResolver(ps...), nil
}

// Configure switches an existing resolver (the one the CLI's log handler redacts with) to
// the config's providers.
func Configure(ctx context.Context, r *secrets.Resolver, cfg *config.Config, o Options) error {
	ps, err := Providers(ctx, cfg, o)
	if err != nil {
		return err
	}
	r.SetProviders(ps...)
	return nil
}

func first(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
