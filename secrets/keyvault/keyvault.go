// Package keyvault is the Azure Key Vault secret provider: ${secret:emr-hospital-a-dsn} is the
// latest version of the secret emr-hospital-a-dsn in the configured vault, read with the Azure
// SDK's azsecrets client and DefaultAzureCredential (environment, workload identity, managed
// identity, Azure CLI), the way the seed project's Data Factory linked services read theirs.
//
// Key Vault secret names may only contain letters, digits and hyphens (1 to 127 characters,
// case-insensitive). rcmlake names follow that rule already (emr-hospital-a-dsn). A name with
// underscores or dots is looked up with those turned into hyphens (emr_hospital_a.dsn becomes
// emr-hospital-a-dsn), because Key Vault could never hold it as written; any other character
// (a slash, a space, anything not ASCII) makes the name unusable here, and the lookup reports
// it as not found in this vault so the next provider in the chain can answer.
package keyvault

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"

	"github.com/rcmlake/rcmlake/secrets"
)

// DefaultTTL is how long a value read from the vault is reused before it is read again, so a
// run with many tables of one database asks the vault once, yet a rotated secret is picked up
// within minutes by a long-running scheduler.
const DefaultTTL = 5 * time.Minute

// Options configure a Provider. The zero value uses DefaultAzureCredential and DefaultTTL.
type Options struct {
	// Credential authenticates to the vault; nil means azidentity's DefaultAzureCredential.
	Credential azcore.TokenCredential
	// TTL is how long values are cached; 0 means DefaultTTL, negative disables the cache.
	TTL time.Duration
	// Client tunes the azsecrets client (transport, retries); tests point it at a local server.
	Client *azsecrets.ClientOptions
	// Now is the clock of the cache (tests).
	Now func() time.Time
}

// Provider reads secrets from one Azure Key Vault.
type Provider struct {
	client *azsecrets.Client
	vault  string
	ttl    time.Duration
	now    func() time.Time

	mu    sync.Mutex
	cache map[string]cached
}

type cached struct {
	value   string
	expires time.Time
}

// New returns a provider for the vault at vaultURL (https://NAME.vault.azure.net/).
func New(vaultURL string, o Options) (*Provider, error) {
	if !strings.HasPrefix(vaultURL, "https://") {
		return nil, fmt.Errorf("azure key vault url %q: want https://NAME.vault.azure.net/", vaultURL)
	}
	cred := o.Credential
	if cred == nil {
		c, err := azidentity.NewDefaultAzureCredential(nil)
		if err != nil {
			return nil, fmt.Errorf("azure key vault %s: no Azure credential (sign in with az login, or set AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET, or run with a managed identity): %w", vaultURL, err)
		}
		cred = c
	}
	client, err := azsecrets.NewClient(vaultURL, cred, o.Client)
	if err != nil {
		return nil, fmt.Errorf("azure key vault %s: %w", vaultURL, err)
	}
	p := &Provider{client: client, vault: vaultURL, ttl: o.TTL, now: o.Now, cache: map[string]cached{}}
	if p.ttl == 0 {
		p.ttl = DefaultTTL
	}
	if p.now == nil {
		p.now = time.Now
	}
	return p, nil
}

// Name implements secrets.Provider.
func (p *Provider) Name() string { return "azure key vault " + p.vault }

var validName = regexp.MustCompile(`^[0-9A-Za-z-]{1,127}$`)

// SecretName is the Key Vault name a ${secret:NAME} is looked up as, or an error saying why
// the name cannot exist in a Key Vault.
func SecretName(name string) (string, error) {
	kv := strings.NewReplacer("_", "-", ".", "-").Replace(name)
	if !validName.MatchString(kv) {
		return "", fmt.Errorf("%q cannot be a Key Vault secret name (1-127 letters, digits and hyphens)", name)
	}
	return strings.ToLower(kv), nil
}

// Lookup implements secrets.Provider: it returns the secret's current value, from the cache
// while it is fresh. A missing secret wraps secrets.ErrNotFound; a refused or failed request
// is an error that says what to fix, and never carries a value.
func (p *Provider) Lookup(ctx context.Context, name string) (string, error) {
	kvName, err := SecretName(name)
	if err != nil {
		return "", fmt.Errorf("%v: %w", err, secrets.ErrNotFound)
	}
	p.mu.Lock()
	c, ok := p.cache[kvName]
	p.mu.Unlock()
	if ok && p.now().Before(c.expires) {
		return c.value, nil
	}
	resp, err := p.client.GetSecret(ctx, kvName, "", nil)
	if err != nil {
		return "", p.explain(kvName, err)
	}
	if resp.Value == nil {
		return "", fmt.Errorf("key vault secret %s has no value: %w", kvName, secrets.ErrNotFound)
	}
	if resp.Attributes != nil && resp.Attributes.Enabled != nil && !*resp.Attributes.Enabled {
		return "", fmt.Errorf("key vault secret %s is disabled; enable it or set another version current", kvName)
	}
	if p.ttl > 0 {
		p.mu.Lock()
		p.cache[kvName] = cached{value: *resp.Value, expires: p.now().Add(p.ttl)}
		p.mu.Unlock()
	}
	return *resp.Value, nil
}

// explain turns an SDK error into a short message that names the secret and the vault and says
// what to do. The SDK's own message is long (it repeats the whole response), so only its
// status and error code are kept.
func (p *Provider) explain(kvName string, err error) error {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		switch {
		case re.StatusCode == http.StatusNotFound:
			return fmt.Errorf("key vault secret %s not in %s (%s): %w", kvName, p.vault, re.ErrorCode, secrets.ErrNotFound)
		case re.StatusCode == http.StatusForbidden:
			return fmt.Errorf("key vault %s refused to read secret %s (%d %s): grant this identity the Key Vault Secrets User role, or a get-secret access policy",
				p.vault, kvName, re.StatusCode, re.ErrorCode)
		case re.StatusCode == http.StatusUnauthorized:
			return fmt.Errorf("key vault %s did not accept the credential for secret %s (%d %s): check the tenant and the identity rcmlake runs as",
				p.vault, kvName, re.StatusCode, re.ErrorCode)
		}
		return fmt.Errorf("key vault %s: reading secret %s failed with %d %s", p.vault, kvName, re.StatusCode, re.ErrorCode)
	}
	var cerr *azidentity.AuthenticationFailedError
	if errors.As(err, &cerr) {
		return fmt.Errorf("key vault %s: could not get a token for secret %s: %w", p.vault, kvName, err)
	}
	return fmt.Errorf("key vault %s: reading secret %s: %w", p.vault, kvName, err)
}
