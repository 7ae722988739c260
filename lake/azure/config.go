package azure

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
)

// DefaultEndpointSuffix is the public Azure cloud's storage suffix.
const DefaultEndpointSuffix = "core.windows.net"

// Config says where a lake lives in Azure Blob Storage and how to authenticate.
type Config struct {
	Account   string // storage account name
	Container string // container (an ADLS Gen2 "file system")
	Prefix    string // folder inside the container that is the lake root; may be empty

	// Endpoint overrides the blob service endpoint, e.g. Azurite's
	// http://127.0.0.1:10000/devstoreaccount1 (path-style, account in the path). Without
	// it the endpoint is https://<Account>.blob.<EndpointSuffix>.
	Endpoint string
	// EndpointSuffix selects a sovereign cloud (core.chinacloudapi.cn, …); default
	// core.windows.net.
	EndpointSuffix string

	Credentials Credentials

	// CreateContainer creates the container when it does not exist yet (for a new lake,
	// or an emulator). Without it a missing container is an error at New.
	CreateContainer bool

	// BlockSize is the size of the blocks a large Put stages (default 8 MiB); an object
	// smaller than one block is written with a single request. Concurrency is how many
	// blocks are uploaded at once (default 4). A Put buffers BlockSize*Concurrency bytes.
	BlockSize   int64
	Concurrency int

	// listPageSize, when set, bounds listing pages (tests use it to exercise paging).
	listPageSize int32
	// httpClient, when set, carries the requests (tests inject faults with it).
	httpClient *http.Client
}

// Credentials authenticate to the storage account. The first one set wins, in the order
// of the fields. When none is set, the environment is read (see FromEnv), and when that has
// none either, DefaultAzureCredential is used (managed identity, workload identity, Azure
// CLI login, …). Values come from the environment or from secret references the caller
// resolved, never from a literal in a config file. String and LogValue redact them.
type Credentials struct {
	ConnectionString string // "DefaultEndpointsProtocol=…;AccountName=…;AccountKey=…" or with SharedAccessSignature
	AccountKey       string // shared key
	SASToken         string // a SAS query string, with or without the leading '?'
	// Token is an Entra ID credential the caller built (e.g. a specific managed identity).
	Token azcore.TokenCredential
}

func (c Credentials) empty() bool {
	return c.ConnectionString == "" && c.AccountKey == "" && c.SASToken == "" && c.Token == nil
}

// kind names the credential in use, for messages; it never reveals the value.
func (c Credentials) kind() string {
	switch {
	case c.ConnectionString != "":
		return "connection string"
	case c.AccountKey != "":
		return "shared key"
	case c.SASToken != "":
		return "SAS token"
	case c.Token != nil:
		return "token credential"
	}
	return "DefaultAzureCredential"
}

// String redacts the credentials, so they never reach a log or an error by accident.
func (c Credentials) String() string { return "azure credentials (" + c.kind() + ", redacted)" }

// GoString redacts the credentials for %#v too.
func (c Credentials) GoString() string { return c.String() }

// LogValue redacts the credentials for log/slog.
func (c Credentials) LogValue() slog.Value { return slog.StringValue(c.String()) }

// Environment variables read by FromEnv, the same the Azure CLI and azcopy use.
const (
	EnvAccount          = "AZURE_STORAGE_ACCOUNT"
	EnvKey              = "AZURE_STORAGE_KEY"
	EnvSASToken         = "AZURE_STORAGE_SAS_TOKEN"
	EnvConnectionString = "AZURE_STORAGE_CONNECTION_STRING"
)

// FromEnv fills what the caller left empty from the environment: the account from
// AZURE_STORAGE_ACCOUNT, and, only if no credential was given at all, a credential from
// AZURE_STORAGE_CONNECTION_STRING, AZURE_STORAGE_KEY or AZURE_STORAGE_SAS_TOKEN.
func (c *Config) FromEnv() {
	if c.Account == "" {
		c.Account = os.Getenv(EnvAccount)
	}
	if c.Credentials.empty() {
		c.Credentials.ConnectionString = os.Getenv(EnvConnectionString)
		if c.Credentials.ConnectionString == "" {
			c.Credentials.AccountKey = os.Getenv(EnvKey)
		}
		if c.Credentials.ConnectionString == "" && c.Credentials.AccountKey == "" {
			c.Credentials.SASToken = os.Getenv(EnvSASToken)
		}
	}
}

// ParseURL reads a lake location:
//
//	abfss://container@account.dfs.core.windows.net/path   (ADLS Gen2, as Spark writes it)
//	abfs://…, wasbs://container@account.blob.core.windows.net/path
//	az://container/path  or  azure://container/path       (account from Config or env)
//	az://account.blob.core.windows.net/container/path
//
// The result has no credentials; add them, or call FromEnv.
func ParseURL(raw string) (Config, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Config{}, fmt.Errorf("azure lake url %q: %w", raw, err)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return Config{}, fmt.Errorf("azure lake url %q: a query or fragment is not allowed (pass a SAS token as a credential, not in the URL)", redactURL(u))
	}
	if u.User != nil && u.Host == "" {
		return Config{}, fmt.Errorf("azure lake url %q: no host", redactURL(u))
	}
	var cfg Config
	path := strings.Trim(u.Path, "/")
	switch strings.ToLower(u.Scheme) {
	case "abfss", "abfs", "wasbs", "wasb":
		if u.User == nil || u.User.Username() == "" {
			return Config{}, fmt.Errorf("azure lake url %q: want %s://container@account.dfs.core.windows.net/path", raw, u.Scheme)
		}
		if _, hasPassword := u.User.Password(); hasPassword {
			return Config{}, fmt.Errorf("azure lake url %q: credentials are not allowed in the URL", redactURL(u))
		}
		cfg.Container = u.User.Username()
		cfg.Account, cfg.EndpointSuffix, err = splitHost(u.Host)
		if err != nil {
			return Config{}, fmt.Errorf("azure lake url %q: %w", raw, err)
		}
		cfg.Prefix = path
	case "az", "azure":
		if u.User != nil {
			return Config{}, fmt.Errorf("azure lake url %q: use az://container/path or abfss://container@account.dfs.core.windows.net/path", redactURL(u))
		}
		if strings.Contains(u.Host, ".") {
			// az://account.blob.core.windows.net/container/path
			cfg.Account, cfg.EndpointSuffix, err = splitHost(u.Host)
			if err != nil {
				return Config{}, fmt.Errorf("azure lake url %q: %w", raw, err)
			}
			cfg.Container, cfg.Prefix, _ = strings.Cut(path, "/")
		} else {
			cfg.Container, cfg.Prefix = u.Host, path
		}
	default:
		return Config{}, fmt.Errorf("azure lake url %q: scheme %q is not abfss, abfs, wasbs, az or azure", raw, u.Scheme)
	}
	if cfg.Container == "" {
		return Config{}, fmt.Errorf("azure lake url %q: no container", raw)
	}
	return cfg, nil
}

// splitHost splits "account.dfs.core.windows.net" into the account and the endpoint suffix.
func splitHost(host string) (account, suffix string, err error) {
	account, rest, ok := strings.Cut(host, ".")
	if !ok || account == "" {
		return "", "", fmt.Errorf("host %q is not <account>.dfs.<suffix> or <account>.blob.<suffix>", host)
	}
	service, suffix, ok := strings.Cut(rest, ".")
	if !ok || (service != "dfs" && service != "blob") || suffix == "" {
		return "", "", fmt.Errorf("host %q is not <account>.dfs.<suffix> or <account>.blob.<suffix>", host)
	}
	return account, suffix, nil
}

func redactURL(u *url.URL) string {
	c := *u
	if c.User != nil {
		c.User = url.User(c.User.Username())
	}
	c.RawQuery, c.Fragment = "", ""
	return c.String()
}

// Azurite's documented development account, which "UseDevelopmentStorage=true" means.
const (
	devAccount  = "devstoreaccount1"
	devKey      = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
	devEndpoint = "http://127.0.0.1:10000/devstoreaccount1"
)

// connectionString is what rcmlake takes from a storage connection string.
type connectionString struct {
	account, key, sas, blobEndpoint string
}

// parseConnectionString reads a storage connection string into an account, a key or SAS
// and the blob endpoint, so that it takes the same path as the other credentials (and an
// endpoint override can still apply). Its errors never quote the string.
func parseConnectionString(cs string) (connectionString, error) {
	var c connectionString
	protocol, suffix := "https", DefaultEndpointSuffix
	dev := false
	for _, part := range strings.Split(cs, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		switch strings.ToLower(k) {
		case "accountname":
			c.account = v
		case "accountkey":
			c.key = v
		case "sharedaccesssignature":
			c.sas = v
		case "blobendpoint":
			c.blobEndpoint = strings.TrimRight(v, "/")
		case "endpointsuffix":
			suffix = v
		case "defaultendpointsprotocol":
			protocol = v
		case "usedevelopmentstorage":
			dev = strings.EqualFold(v, "true")
		}
	}
	if dev {
		return connectionString{account: devAccount, key: devKey, blobEndpoint: devEndpoint}, nil
	}
	if c.key == "" && c.sas == "" {
		return c, errors.New("the connection string has neither AccountKey nor SharedAccessSignature")
	}
	if c.key != "" && c.account == "" {
		return c, errors.New("the connection string has an AccountKey but no AccountName")
	}
	if c.blobEndpoint == "" {
		if c.account == "" {
			return c, errors.New("the connection string has neither AccountName nor BlobEndpoint")
		}
		c.blobEndpoint = protocol + "://" + c.account + ".blob." + suffix
	}
	return c, nil
}
