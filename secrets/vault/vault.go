// Package vault is the HashiCorp Vault (KV version 2) secret provider.
//
// By default all of rcmlake's secrets are fields of one KV secret: with mount "secret" and
// path "rcmlake", ${secret:emr-hospital-a-dsn} is the field emr-hospital-a-dsn of
// secret/data/rcmlake (vault kv put -mount=secret rcmlake emr-hospital-a-dsn=...). A name of
// the form PATH#FIELD reads FIELD of another KV secret under the same mount
// (${secret:emr/hospital-a#dsn} is field dsn of secret/data/emr/hospital-a).
//
// The token comes from the VAULT_TOKEN environment variable, else from a token file (a
// Kubernetes/agent sink, or ~/.vault-token as the vault CLI leaves it); it is never in the
// config.
package vault

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/rcmlake/rcmlake/secrets"
)

// DefaultTTL is how long a KV secret read from Vault is reused before it is read again.
const DefaultTTL = 5 * time.Minute

// Options configure a Provider.
type Options struct {
	Address   string // https://vault.example.org:8200; empty means VAULT_ADDR
	Mount     string // KV v2 mount; default "secret"
	Path      string // the KV secret that holds rcmlake's secrets as fields; default "rcmlake"
	Namespace string // Vault Enterprise / HCP namespace, if any
	// Token authenticates; empty means VAULT_TOKEN, then TokenFile, then ~/.vault-token.
	Token     string
	TokenFile string
	// TTL is how long values are cached; 0 means DefaultTTL, negative disables the cache.
	TTL time.Duration
	// HTTPClient overrides the transport (TLS settings, tests).
	HTTPClient *http.Client
	Now        func() time.Time
}

// Provider reads secrets from a Vault KV v2 mount.
type Provider struct {
	client *api.Client
	kv     *api.KVv2
	addr   string
	mount  string
	path   string
	ttl    time.Duration
	now    func() time.Time

	mu    sync.Mutex
	cache map[string]cachedSecret // by KV path
}

type cachedSecret struct {
	data    map[string]any
	expires time.Time
}

// New returns a provider; it fails when no address or no token can be found.
func New(o Options) (*Provider, error) {
	cfg := api.DefaultConfig() // reads VAULT_ADDR, VAULT_CACERT, VAULT_SKIP_VERIFY, ...
	if cfg.Error != nil {
		return nil, fmt.Errorf("vault: %w", cfg.Error)
	}
	if o.Address != "" {
		cfg.Address = o.Address
	} else if os.Getenv("VAULT_ADDR") == "" {
		return nil, errors.New("vault: no address: set secrets.vault.address in the config or VAULT_ADDR")
	}
	if o.HTTPClient != nil {
		cfg.HttpClient = o.HTTPClient
	}
	cfg.MaxRetries = 2
	client, err := api.NewClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("vault %s: %w", cfg.Address, err)
	}
	tok, err := token(o)
	if err != nil {
		return nil, fmt.Errorf("vault %s: %w", cfg.Address, err)
	}
	client.SetToken(tok)
	if o.Namespace != "" {
		client.SetNamespace(o.Namespace)
	}
	p := &Provider{client: client, addr: cfg.Address, mount: strings.Trim(o.Mount, "/"), path: strings.Trim(o.Path, "/"),
		ttl: o.TTL, now: o.Now, cache: map[string]cachedSecret{}}
	if p.mount == "" {
		p.mount = "secret"
	}
	if p.path == "" {
		p.path = "rcmlake"
	}
	if p.ttl == 0 {
		p.ttl = DefaultTTL
	}
	if p.now == nil {
		p.now = time.Now
	}
	p.kv = client.KVv2(p.mount)
	return p, nil
}

// token finds the Vault token: explicit, VAULT_TOKEN, the token file, ~/.vault-token.
func token(o Options) (string, error) {
	if o.Token != "" {
		return o.Token, nil
	}
	if t := os.Getenv("VAULT_TOKEN"); t != "" {
		return t, nil
	}
	files := []string{o.TokenFile}
	if o.TokenFile == "" {
		if home, err := os.UserHomeDir(); err == nil {
			files = []string{filepath.Join(home, ".vault-token")}
		}
	}
	for _, f := range files {
		if f == "" {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			if o.TokenFile != "" {
				return "", fmt.Errorf("token file %s: %w", f, err)
			}
			continue
		}
		if t := strings.TrimSpace(string(data)); t != "" {
			return t, nil
		}
		return "", fmt.Errorf("token file %s is empty", f)
	}
	return "", errors.New("no token: set VAULT_TOKEN or secrets.vault.token_file")
}

// Name implements secrets.Provider.
func (p *Provider) Name() string { return fmt.Sprintf("vault %s (%s/%s)", p.addr, p.mount, p.path) }

// Where maps a secret name to its KV path (under the mount) and field.
func (p *Provider) Where(name string) (kvPath, field string, err error) {
	kvPath, field = p.path, name
	if i := strings.LastIndex(name, "#"); i >= 0 {
		kvPath, field = strings.Trim(name[:i], "/"), name[i+1:]
	}
	if kvPath == "" || field == "" || strings.Contains(kvPath, "..") {
		return "", "", fmt.Errorf("secret name %q: want FIELD or PATH#FIELD", name)
	}
	return kvPath, field, nil
}

// Lookup implements secrets.Provider.
func (p *Provider) Lookup(ctx context.Context, name string) (string, error) {
	kvPath, field, err := p.Where(name)
	if err != nil {
		return "", fmt.Errorf("%v: %w", err, secrets.ErrNotFound)
	}
	data, err := p.read(ctx, kvPath)
	if err != nil {
		return "", err
	}
	v, ok := data[field]
	if !ok {
		return "", fmt.Errorf("vault %s/data/%s has no field %q: %w", p.mount, kvPath, field, secrets.ErrNotFound)
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("vault %s/data/%s field %q is a %T, not a string", p.mount, kvPath, field, v)
	}
	return s, nil
}

func (p *Provider) read(ctx context.Context, kvPath string) (map[string]any, error) {
	p.mu.Lock()
	c, ok := p.cache[kvPath]
	p.mu.Unlock()
	if ok && p.now().Before(c.expires) {
		return c.data, nil
	}
	where := p.mount + "/data/" + kvPath
	sec, err := p.kv.Get(ctx, kvPath)
	var re *api.ResponseError
	switch {
	case errors.Is(err, api.ErrSecretNotFound):
		return nil, fmt.Errorf("vault %s: no secret at %s: %w", p.addr, where, secrets.ErrNotFound)
	case errors.As(err, &re) && re.StatusCode == http.StatusForbidden:
		return nil, fmt.Errorf("vault %s refused to read %s (403 permission denied): the token's policy needs read on path %q, or the token has expired",
			p.addr, where, where)
	case errors.As(err, &re):
		return nil, fmt.Errorf("vault %s: reading %s failed with %d: %s", p.addr, where, re.StatusCode, strings.Join(re.Errors, "; "))
	case err != nil:
		return nil, fmt.Errorf("vault %s: reading %s: %w", p.addr, where, err)
	case sec == nil || sec.Data == nil:
		// Soft-deleted or destroyed current version.
		return nil, fmt.Errorf("vault %s: the current version of %s is deleted: %w", p.addr, where, secrets.ErrNotFound)
	}
	if p.ttl > 0 {
		p.mu.Lock()
		p.cache[kvPath] = cachedSecret{data: sec.Data, expires: p.now().Add(p.ttl)}
		p.mu.Unlock()
	}
	return sec.Data, nil
}
