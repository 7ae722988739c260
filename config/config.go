// Package config is the metadata-driven pipeline configuration (rcmlake.yaml): which source
// tables to load, how (full or incremental on a watermark), whether they are active, and where
// they go; the lake location; the engine's limits.
//
// It replaces the seed project's load_config.csv (see ImportSeed) with one YAML file that is
// validated as a whole: Validate reports every problem with its file and line.
package config

import (
	"fmt"
	"strings"
)

// Config is the whole rcmlake.yaml.
type Config struct {
	Version int     `yaml:"version"`
	Project string  `yaml:"project,omitempty"`
	Lake    Lake    `yaml:"lake,omitempty"`
	Engine  Engine  `yaml:"engine,omitempty"`
	Ingest  Ingest  `yaml:"ingest,omitempty"`
	Sources Sources `yaml:"sources,omitempty"`
	Silver  Silver  `yaml:"silver,omitempty"`
	Roles   []Role  `yaml:"roles,omitempty"`
	Run     Run     `yaml:"run,omitempty"`
	// Governance says which columns are PHI and how they are masked.
	Governance Governance `yaml:"governance,omitempty"`
	Serve      Serve      `yaml:"serve,omitempty"`
	// Secrets chooses the providers of ${secret:...} references.
	Secrets Secrets `yaml:"secrets,omitempty"`
	// Schedules and LandingTrigger drive `rcmlake schedule`.
	Schedules      []Schedule     `yaml:"schedules,omitempty"`
	LandingTrigger LandingTrigger `yaml:"landing_trigger,omitempty"`
	file           string         // where it was loaded from, for messages
}

// Lake says where the lakehouse lives.
type Lake struct {
	Pos `yaml:"-"`
	// Root is a local path, file://, abfss://container@account.dfs.core.windows.net/path,
	// az://container/path or s3://bucket/path.
	Root string `yaml:"root,omitempty"`
	// Endpoint overrides the storage service endpoint (Azurite, MinIO, moto).
	Endpoint string `yaml:"endpoint,omitempty"`
	// Credentials are secret references (${secret:...} or ${env:...}), never literals.
	Credentials map[string]string `yaml:"credentials,omitempty"`
	// CacheDir holds local copies of remote data files for the embedded engine.
	CacheDir string `yaml:"cache_dir,omitempty"`
}

// Engine selects and bounds the SQL engine.
type Engine struct {
	Pos         `yaml:"-"`
	Name        string `yaml:"name,omitempty"`         // duckdb (default) or spark
	MemoryLimit string `yaml:"memory_limit,omitempty"` // e.g. 2GB
	Threads     int    `yaml:"threads,omitempty"`
	TempDir     string `yaml:"temp_dir,omitempty"`
	// Remote is the Spark Connect endpoint (sc://host:port) when Name is spark.
	Remote string `yaml:"remote,omitempty"`
}

// Run holds the settings of `rcmlake run`: how tasks are executed and where lineage goes.
type Run struct {
	Pos     `yaml:"-"`
	Workers int `yaml:"workers,omitempty"` // tasks at once; default 4
	// SilverWorkers is how many silver entities are built at once, within Workers. On the
	// embedded engine they share one DuckDB and its memory limit, so building them together
	// adds spilling more than it adds speed.
	SilverWorkers int    `yaml:"silver_workers,omitempty"`
	Retries       int    `yaml:"retries,omitempty"`     // attempts after a failure; default 2
	Backoff       string `yaml:"backoff,omitempty"`     // first retry delay, doubling; default 2s
	Timeout       string `yaml:"timeout,omitempty"`     // per task attempt; default none
	LineageDir    string `yaml:"lineage_dir,omitempty"` // OpenLineage events as JSON files here
	LineageURL    string `yaml:"lineage_url,omitempty"` // and/or POSTed to this OpenLineage endpoint
}

// Ingest holds settings for the bronze layer as a whole.
type Ingest struct {
	Pos `yaml:"-"`
	// Parallelism is how many tables load at once (the seed's ADF ForEach batch count was 5).
	Parallelism int `yaml:"parallelism,omitempty"`
	// Retries is how many times a failed table load is retried.
	Retries int `yaml:"retries,omitempty"`
}

// Sources lists everything rcmlake reads.
type Sources struct {
	EMR     []Database `yaml:"emr,omitempty"`
	Landing *Landing   `yaml:"landing,omitempty"`
	APIs    APIs       `yaml:"apis,omitempty"`
}

// Database is one hospital's EMR database.
type Database struct {
	Pos        `yaml:"-"`
	Name       string  `yaml:"name,omitempty"`       // e.g. trendytech-hospital-a
	Datasource string  `yaml:"datasource,omitempty"` // short code stamped on every row, e.g. hos-a
	Driver     string  `yaml:"driver,omitempty"`     // sqlite, postgres or sqlserver
	DSN        string  `yaml:"dsn,omitempty"`        // a path for sqlite; otherwise a ${secret:...} reference
	Schema     string  `yaml:"schema,omitempty"`     // default schema for its tables (dbo, public, ...)
	Tables     []Table `yaml:"tables,omitempty"`
}

// Load types.
const (
	LoadFull        = "full"
	LoadIncremental = "incremental"
)

// Table is one source table and how it loads, like a row of the seed's load_config.csv.
type Table struct {
	Pos        `yaml:"-"`
	Name       string   `yaml:"name,omitempty"`        // table name in the source, optionally schema-qualified
	Load       string   `yaml:"load,omitempty"`        // full or incremental
	Watermark  string   `yaml:"watermark,omitempty"`   // column whose growth marks new rows (incremental)
	PrimaryKey []string `yaml:"primary_key,omitempty"` // the source's key; ties on the watermark are ordered by it
	Active     *bool    `yaml:"active,omitempty"`      // false skips the table; default true
	Target     string   `yaml:"target,omitempty"`      // bronze table name; default the table name
	// TrackDeletes makes an incremental load also take the source's full primary key list,
	// so silver can apply the entity's deletes policy; full loads always show deletes.
	TrackDeletes bool `yaml:"track_deletes,omitempty"`
}

// IsActive reports whether the table loads; a missing flag means yes.
func (t Table) IsActive() bool { return t.Active == nil || *t.Active }

// TargetName is the bronze table name.
func (t Table) TargetName() string {
	if t.Target != "" {
		return t.Target
	}
	n := t.Name
	if i := strings.LastIndex(n, "."); i >= 0 {
		n = n[i+1:]
	}
	return strings.ToLower(n)
}

// Landing is the folder where claims and code files arrive.
type Landing struct {
	Pos     `yaml:"-"`
	Root    string        `yaml:"root,omitempty"`    // local path or storage URL
	Archive string        `yaml:"archive,omitempty"` // where processed files move, relative to Root; default "archive"
	Files   []LandingFile `yaml:"files,omitempty"`
}

// LandingFile maps files matching a pattern to a bronze table and a datasource.
type LandingFile struct {
	Pos        `yaml:"-"`
	Pattern    string           `yaml:"pattern,omitempty"`    // glob relative to the landing root, e.g. claims/hospital1_*.csv
	Datasource string           `yaml:"datasource,omitempty"` // e.g. hos-a
	Table      string           `yaml:"table,omitempty"`      // bronze table, e.g. claims
	Format     string           `yaml:"format,omitempty"`     // csv (default)
	Columns    []ExpectedColumn `yaml:"columns,omitempty"`    // the file's columns, by name in any order
	// ExtraColumns says what happens to a column that Columns does not name: rescue (the
	// default) keeps its values in the _rescued_data JSON column; keep lands it as a column.
	// A rule without Columns keeps every column.
	ExtraColumns string `yaml:"extra_columns,omitempty"`
	Active       *bool  `yaml:"active,omitempty"`
}

// IsActive reports whether the files load; a missing flag means yes.
func (f LandingFile) IsActive() bool { return f.Active == nil || *f.Active }

// ExpectedColumn is a column a landing file should have.
type ExpectedColumn struct {
	Name     string `yaml:"name,omitempty"`
	Required bool   `yaml:"required,omitempty"`
}

// APIs configures the public reference APIs.
type APIs struct {
	NPI *API `yaml:"npi,omitempty"`
	ICD *API `yaml:"icd,omitempty"`
}

// API is one reference API client's settings.
type API struct {
	Pos          `yaml:"-"`
	Enabled      *bool   `yaml:"enabled,omitempty"`
	Kind         string  `yaml:"kind,omitempty"`     // npi: api (default) or bulk; icd: who, nlm or cms-file
	BaseURL      string  `yaml:"base_url,omitempty"` // override for tests, mirrors and offline replay
	TokenURL     string  `yaml:"token_url,omitempty"`
	ClientID     string  `yaml:"client_id,omitempty"`     // ${secret:...}
	ClientSecret string  `yaml:"client_secret,omitempty"` // ${secret:...}
	RatePerSec   float64 `yaml:"rate_per_sec,omitempty"`
	Workers      int     `yaml:"workers,omitempty"`
	// Root is what the source reads: the WHO entity to walk (default the ICD-10 2019 release),
	// NLM search terms, the path of the CMS order file, or the NPPES bulk file (.csv or the
	// monthly .zip); paths are relative to the config file.
	Root string `yaml:"root,omitempty"`
	// Scope of an NPPES bulk import: providers (default) keeps the NPIs the providers tables
	// name; all keeps every row of the file.
	Scope       string `yaml:"scope,omitempty"`
	Timeout     string `yaml:"timeout,omitempty"`      // per request attempt, e.g. 30s
	MaxAttempts int    `yaml:"max_attempts,omitempty"` // per request, first included; default 5
	Language    string `yaml:"language,omitempty"`     // icd who: Accept-Language; default en
	Release     string `yaml:"release,omitempty"`      // icd cms-file: the fiscal year kept on each code
}

// IsEnabled reports whether the API is used; a missing flag means yes.
func (a *API) IsEnabled() bool { return a != nil && (a.Enabled == nil || *a.Enabled) }

// Silver holds the silver layer's settings: the common data model's column mappings and the
// quality rules. The SQL models themselves are files (models/silver/*.sql).
type Silver struct {
	Entities []Entity `yaml:"entities,omitempty"`
}

// Entity is one CDM entity (patients, providers, ...).
type Entity struct {
	Pos     `yaml:"-"`
	Name    string         `yaml:"name,omitempty"`
	Key     []string       `yaml:"key,omitempty"`     // CDM business key columns
	History string         `yaml:"history,omitempty"` // scd2 (default) or none
	Deletes string         `yaml:"deletes,omitempty"` // ignore (default), close or marker
	Sources []EntitySource `yaml:"sources,omitempty"`
	Rules   []Rule         `yaml:"rules,omitempty"`
}

// EntitySource maps one bronze table's columns onto the entity's CDM columns, by name.
type EntitySource struct {
	Pos        `yaml:"-"`
	Datasource string `yaml:"datasource,omitempty"`
	Table      string `yaml:"table,omitempty"` // bronze table
	// Columns maps each CDM column to a SQL expression over the bronze row, usually just the
	// source column name; e.g. provider_id: "'H1-' || ProviderID".
	Columns map[string]string `yaml:"columns,omitempty"`
}

// Rule is a data-quality rule, in the spirit of dbt tests.
type Rule struct {
	Pos      `yaml:"-"`
	Name     string   `yaml:"name,omitempty"`
	Type     string   `yaml:"type,omitempty"` // not_null, unique, accepted_values, regex, range, relationships, expression, freshness
	Columns  []string `yaml:"columns,omitempty"`
	Values   []string `yaml:"values,omitempty"`   // accepted_values; the literal strings that count as null for not_null
	Pattern  string   `yaml:"pattern,omitempty"`  // regex
	Min      *float64 `yaml:"min,omitempty"`      // range
	Max      *float64 `yaml:"max,omitempty"`      // range
	To       string   `yaml:"to,omitempty"`       // relationships: entity.column
	Expr     string   `yaml:"expr,omitempty"`     // expression: SQL that is true for good rows
	MaxAge   string   `yaml:"max_age,omitempty"`  // freshness
	Severity string   `yaml:"severity,omitempty"` // warn, quarantine, drop or fail
}

// Role is a named set of grants.
type Role struct {
	Pos    `yaml:"-"`
	Name   string   `yaml:"name,omitempty"`
	Grants []string `yaml:"grants,omitempty"` // e.g. "select on gold.*"
	PHI    bool     `yaml:"phi,omitempty"`    // may see PHI columns unmasked
}

// Governance marks PHI columns and keys their masks.
type Governance struct {
	Pos `yaml:"-"`
	// PHI lists the PHI columns as [layer.]table.column patterns, matched case-insensitively
	// with * wildcards: "patients.ssn" is that column in every layer, "*.medicaid_id" that
	// column in every table. Empty means DefaultPHI.
	PHI []string `yaml:"phi,omitempty"`
	// MaskKey keys the hash that tokenises masked values (${secret:...}). Without it, a random
	// key is created once in the lake (_governance/mask_key): whoever can read the lake's files
	// can read unmasked data anyway.
	MaskKey string `yaml:"mask_key,omitempty"`
}

// Serve configures `rcmlake serve`, the dashboard and its API.
type Serve struct {
	Pos    `yaml:"-"`
	Listen string `yaml:"listen,omitempty"` // default 127.0.0.1:8080
	// TLSCert and TLSKey are PEM files; with both, the server speaks HTTPS only.
	TLSCert string `yaml:"tls_cert,omitempty"`
	TLSKey  string `yaml:"tls_key,omitempty"`
	// MaxRows caps the rows one API or SQL read returns (default 10000).
	MaxRows int `yaml:"max_rows,omitempty"`
	// QueryTimeout bounds one SQL endpoint query (default 30s).
	QueryTimeout string `yaml:"query_timeout,omitempty"`
	OIDC         *OIDC  `yaml:"oidc,omitempty"`
}

// OIDC lets bearer JWTs from an identity provider (Entra ID, Okta, Keycloak) sign in.
type OIDC struct {
	Pos      `yaml:"-"`
	Issuer   string `yaml:"issuer,omitempty"`   // its discovery document is Issuer/.well-known/openid-configuration
	Audience string `yaml:"audience,omitempty"` // the client id the tokens are issued to
	// RoleClaim names the claim that lists the user's roles (default "roles"); the first one
	// that names a configured role is used.
	RoleClaim string `yaml:"role_claim,omitempty"`
	// RoleMap maps an identity provider's role or group names onto configured roles.
	RoleMap map[string]string `yaml:"role_map,omitempty"`
}

// Pos is where a YAML mapping began, for error messages.
type Pos struct {
	Line   int
	Column int
}

// Position returns "file:line".
func (c *Config) Position(p Pos) string {
	if p.Line == 0 {
		return c.file
	}
	return fmt.Sprintf("%s:%d", c.file, p.Line)
}

// File is the path the config was loaded from.
func (c *Config) File() string { return c.file }

// Database returns the EMR database with the given datasource code.
func (c *Config) Database(datasource string) (*Database, bool) {
	for i := range c.Sources.EMR {
		if c.Sources.EMR[i].Datasource == datasource {
			return &c.Sources.EMR[i], true
		}
	}
	return nil, false
}

// applyDefaults fills in what an empty field means.
func (c *Config) applyDefaults() {
	if c.Version == 0 {
		c.Version = 1
	}
	if c.Engine.Name == "" {
		c.Engine.Name = "duckdb"
	}
	if c.Ingest.Parallelism == 0 {
		c.Ingest.Parallelism = 5
	}
	if c.Lake.Root == "" {
		c.Lake.Root = "lake"
	}
	for i := range c.Sources.EMR {
		db := &c.Sources.EMR[i]
		for j := range db.Tables {
			t := &db.Tables[j]
			t.Load = strings.ToLower(t.Load)
			if t.Load == "" {
				t.Load = LoadFull
			}
		}
	}
	if l := c.Sources.Landing; l != nil {
		if l.Archive == "" {
			l.Archive = "archive"
		}
		for i := range l.Files {
			if l.Files[i].Format == "" {
				l.Files[i].Format = "csv"
			}
		}
	}
	for i := range c.Silver.Entities {
		e := &c.Silver.Entities[i]
		if e.History == "" {
			e.History = "scd2"
		}
		if e.Deletes == "" {
			e.Deletes = "ignore"
		}
	}
}
