package config

import (
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// Secrets chooses where ${secret:NAME} references are looked up, in order; the first
// provider that has the name answers.
type Secrets struct {
	Pos `yaml:"-"`
	// Providers, in the order asked: env (RCMLAKE_SECRET_<NAME>), file (a file per secret in
	// Dir, as Kubernetes and Docker mount them), keyvault, vault. Default: env, file.
	Providers []string `yaml:"providers,omitempty"`
	// Dir is the file provider's folder; default $RCMLAKE_SECRETS_DIR, else /run/secrets.
	Dir string `yaml:"dir,omitempty"`
	// CacheTTL is how long values from Key Vault and Vault are reused (default 5m).
	CacheTTL string    `yaml:"cache_ttl,omitempty"`
	KeyVault *KeyVault `yaml:"keyvault,omitempty"`
	Vault    *Vault    `yaml:"vault,omitempty"`
}

// Secret provider names.
var SecretProviders = []string{"env", "file", "keyvault", "vault"}

// KeyVault is an Azure Key Vault, reached with DefaultAzureCredential.
type KeyVault struct {
	Pos `yaml:"-"`
	URL string `yaml:"url,omitempty"` // https://NAME.vault.azure.net/
}

// Vault is a HashiCorp Vault KV v2 mount. The token is never in the config: it comes from
// VAULT_TOKEN or TokenFile.
type Vault struct {
	Pos       `yaml:"-"`
	Address   string `yaml:"address,omitempty"`    // default $VAULT_ADDR
	Mount     string `yaml:"mount,omitempty"`      // KV v2 mount; default secret
	Path      string `yaml:"path,omitempty"`       // the KV secret whose fields are rcmlake's secrets; default rcmlake
	Namespace string `yaml:"namespace,omitempty"`  // Vault Enterprise / HCP namespace
	TokenFile string `yaml:"token_file,omitempty"` // default ~/.vault-token when VAULT_TOKEN is unset
}

// Schedule is one cron-triggered run of `rcmlake schedule`.
type Schedule struct {
	Pos  `yaml:"-"`
	Name string `yaml:"name,omitempty"`
	// Cron is five fields (minute hour day month weekday), six with seconds first, or
	// @daily, @monthly, @every 6h; CRON_TZ=Europe/Berlin in front picks a time zone (default UTC).
	Cron   string `yaml:"cron,omitempty"`
	Select string `yaml:"select,omitempty"` // as rcmlake run --select; empty runs everything
	// CatchUp fires once after the scheduler was down over one or more of the schedule's
	// instants (default true).
	CatchUp *bool `yaml:"catch_up,omitempty"`
}

// CatchesUp reports whether missed fires are made up once after a restart; default yes.
func (s Schedule) CatchesUp() bool { return s.CatchUp == nil || *s.CatchUp }

// LandingTrigger starts a run when a new file matching sources.landing.files arrives.
type LandingTrigger struct {
	Pos     `yaml:"-"`
	Enabled bool   `yaml:"enabled,omitempty"`
	Poll    string `yaml:"poll,omitempty"`   // how often the folder is listed; default 30s
	Select  string `yaml:"select,omitempty"` // as rcmlake run --select; empty runs everything
}

// PollInterval is the landing folder's poll interval.
func (l LandingTrigger) PollInterval() time.Duration {
	if d, err := time.ParseDuration(l.Poll); err == nil && d > 0 {
		return d
	}
	return 30 * time.Second
}

// cronParser accepts what the scheduler accepts: seconds optional, descriptors.
var cronParser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

var scheduleNameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

func (k *checker) secrets() {
	s := k.c.Secrets
	seen := map[string]bool{}
	for _, p := range s.Providers {
		switch {
		case !oneOf(p, SecretProviders...):
			k.at(s.Pos, "secrets.providers: %q is not a provider; use env, file, keyvault or vault", p)
		case seen[p]:
			k.at(s.Pos, "secrets.providers lists %q twice", p)
		}
		seen[p] = true
	}
	if s.CacheTTL != "" {
		if d, err := time.ParseDuration(s.CacheTTL); err != nil || d < 0 {
			k.at(s.Pos, "secrets.cache_ttl %q: want a duration such as 5m (0s turns the cache off)", s.CacheTTL)
		}
	}
	switch kv := s.KeyVault; {
	case seen["keyvault"] && kv == nil:
		k.at(s.Pos, "secrets.providers lists keyvault but there is no secrets.keyvault with the vault's url")
	case kv != nil:
		u, err := url.Parse(kv.URL)
		if err != nil || u.Scheme != "https" || u.Host == "" || (u.Path != "" && u.Path != "/") {
			k.at(kv.Pos, "secrets.keyvault.url %q: want https://NAME.vault.azure.net/", kv.URL)
		}
		if !seen["keyvault"] {
			k.at(kv.Pos, "secrets.keyvault is set but keyvault is not in secrets.providers, so it is never asked")
		}
	}
	if v := s.Vault; v != nil {
		if v.Address != "" {
			if u, err := url.Parse(v.Address); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
				k.at(v.Pos, "secrets.vault.address %q: want https://HOST:8200", v.Address)
			}
		}
		if strings.Contains(v.Path, "..") || strings.Contains(v.Mount, "..") {
			k.at(v.Pos, "secrets.vault: mount and path may not contain ..")
		}
		if !seen["vault"] {
			k.at(v.Pos, "secrets.vault is set but vault is not in secrets.providers, so it is never asked")
		}
	}
}

func (k *checker) schedules() {
	names := map[string]bool{}
	for _, s := range k.c.Schedules {
		if !scheduleNameRe.MatchString(s.Name) || s.Name == "landing" {
			k.at(s.Pos, "schedule name %q: use lower-case letters, digits, - and _ (\"landing\" is taken by the landing trigger)", s.Name)
		}
		if names[s.Name] {
			k.at(s.Pos, "schedule %q is defined twice", s.Name)
		}
		names[s.Name] = true
		if s.Cron == "" {
			k.at(s.Pos, "schedule %q needs a cron expression, e.g. \"0 2 * * *\" (02:00 daily) or @monthly", s.Name)
		} else if _, err := cronParser.Parse(s.Cron); err != nil {
			k.at(s.Pos, "schedule %q: cron %q: %v", s.Name, s.Cron, err)
		}
	}
	lt := k.c.LandingTrigger
	if lt.Poll != "" {
		if d, err := time.ParseDuration(lt.Poll); err != nil || d < time.Second {
			k.at(lt.Pos, "landing_trigger.poll %q: want a duration of at least 1s, such as 30s", lt.Poll)
		}
	}
	if lt.Enabled {
		l := k.c.Sources.Landing
		if l == nil || len(l.Files) == 0 {
			k.at(lt.Pos, "landing_trigger is enabled but sources.landing has no files to watch")
		}
	}
}
