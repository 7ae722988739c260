package config

import (
	"fmt"
	"net/url"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"
)

var (
	datasourceRe = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,62}$`)
	identRe      = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	tableNameRe  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$`)
	langRe       = regexp.MustCompile(`^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$`)
	memoryRe     = regexp.MustCompile(`^(?i)\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$`)
	// refRe matches a secret reference: ${secret:name}, ${env:NAME} or ${file:/path}.
	refRe = regexp.MustCompile(`\$\{(secret|env|file):[^}]+\}`)
	// passwordKV finds a password in a key=value DSN (PostgreSQL and SQL Server styles).
	passwordKV = regexp.MustCompile(`(?i)(^|[\s;])(password|pwd)\s*=\s*([^;\s]*)`)
)

// IsSecretRef reports whether s is exactly one secret reference.
func IsSecretRef(s string) bool {
	loc := refRe.FindStringIndex(s)
	return loc != nil && loc[0] == 0 && loc[1] == len(s)
}

// Rule types and severities.
var (
	RuleTypes  = []string{"not_null", "unique", "accepted_values", "regex", "range", "relationships", "expression", "freshness"}
	Severities = []string{"warn", "quarantine", "drop", "fail"}
)

type checker struct {
	c     *Config
	probs Problems
}

func (k *checker) at(p Pos, format string, args ...any) {
	k.probs = append(k.probs, Problem{File: k.c.file, Line: p.Line, Message: fmt.Sprintf(format, args...)})
}

func oneOf(v string, allowed ...string) bool {
	for _, a := range allowed {
		if v == a {
			return true
		}
	}
	return false
}

// Validate checks a loaded config again (after a program changed it) and returns every problem.
func (c *Config) Validate() error {
	if p := c.validate(); len(p) > 0 {
		return p
	}
	return nil
}

func (c *Config) validate() Problems {
	k := &checker{c: c}
	top := Pos{Line: 1}
	if c.Version != 1 {
		k.at(top, "version %d is not supported; this rcmlake reads version 1", c.Version)
	}
	k.lake()
	k.engine()
	if c.Ingest.Parallelism < 1 || c.Ingest.Parallelism > 64 {
		k.at(c.Ingest.Pos, "ingest.parallelism %d must be between 1 and 64", c.Ingest.Parallelism)
	}
	if c.Run.Workers < 0 || c.Run.Workers > 64 {
		k.at(c.Run.Pos, "run.workers %d must be between 1 and 64", c.Run.Workers)
	}
	if c.Run.SilverWorkers < 0 || c.Run.SilverWorkers > 64 {
		k.at(c.Run.Pos, "run.silver_workers %d must be between 1 and 64", c.Run.SilverWorkers)
	}
	if c.Run.Retries < 0 {
		k.at(c.Run.Pos, "run.retries must not be negative")
	}
	for _, kv := range [][2]string{{"run.backoff", c.Run.Backoff}, {"run.timeout", c.Run.Timeout}} {
		name, v := kv[0], kv[1]
		if v == "" {
			continue
		}
		if d, err := time.ParseDuration(v); err != nil || d <= 0 {
			k.at(c.Run.Pos, "%s %q: want a positive duration such as 30s or 10m", name, v)
		}
	}
	if c.Ingest.Retries < 0 {
		k.at(c.Ingest.Pos, "ingest.retries must not be negative")
	}
	datasources := k.emr()
	k.landing(datasources)
	k.apis()
	k.silver(datasources)
	k.roles()
	k.governance()
	k.secrets()
	k.schedules()
	return k.probs
}

func (k *checker) lake() {
	l := k.c.Lake
	p := l.Pos
	if u, err := url.Parse(l.Root); err == nil && strings.Contains(l.Root, "://") {
		if !oneOf(u.Scheme, "file", "abfss", "abfs", "az", "s3") {
			k.at(p, "lake.root %q: scheme %q is not supported; use a path, file://, abfss://, az:// or s3://", l.Root, u.Scheme)
		}
		if u.User != nil {
			k.at(p, "lake.root must not contain credentials; put them in lake.credentials as ${secret:...} references")
		}
	}
	for name, v := range l.Credentials {
		if !IsSecretRef(v) {
			k.at(p, "lake.credentials.%s is a literal value; use a reference such as ${secret:%s} or ${env:NAME}", name, name)
		}
	}
}

func (k *checker) engine() {
	e := k.c.Engine
	p := e.Pos
	if !oneOf(e.Name, "duckdb", "spark") {
		k.at(p, "engine.name %q: want duckdb or spark", e.Name)
	}
	if e.MemoryLimit != "" && !memoryRe.MatchString(e.MemoryLimit) {
		k.at(p, "engine.memory_limit %q: want a size such as 2GB or 512MB", e.MemoryLimit)
	}
	if e.Threads < 0 {
		k.at(p, "engine.threads must not be negative")
	}
	if e.Name == "spark" && e.Remote == "" {
		k.at(p, "engine.remote is required for engine spark (a Spark Connect URL such as sc://127.0.0.1:15002)")
	}
	// A Databricks token sits in the secret store, never in the file: the connection
	// string's token must be a reference, resolved when the engine opens.
	for _, param := range strings.Split(e.Remote, ";") {
		key, val, ok := strings.Cut(param, "=")
		if ok && strings.EqualFold(strings.TrimSpace(key), "token") && !IsSecretRef(strings.TrimSpace(val)) {
			k.at(p, "engine.remote holds a literal token; use a reference such as token=${secret:databricks-token}")
		}
	}
}

// emr checks the EMR databases and returns every known datasource code.
func (k *checker) emr() map[string]bool {
	ds := map[string]bool{}
	names := map[string]bool{}
	for _, db := range k.c.Sources.EMR {
		if db.Name == "" {
			k.at(db.Pos, "emr database: name is required")
		} else if names[db.Name] {
			k.at(db.Pos, "emr database %q is declared twice", db.Name)
		}
		names[db.Name] = true
		switch {
		case db.Datasource == "":
			k.at(db.Pos, "emr database %q: datasource is required (a short code such as hos-a)", db.Name)
		case !datasourceRe.MatchString(db.Datasource):
			k.at(db.Pos, "emr database %q: datasource %q must be lower case letters, digits, - or _", db.Name, db.Datasource)
		case ds[db.Datasource]:
			k.at(db.Pos, "datasource %q is used by two databases", db.Datasource)
		}
		ds[db.Datasource] = true
		if !oneOf(db.Driver, "sqlite", "postgres", "sqlserver") {
			k.at(db.Pos, "emr database %q: driver %q: want sqlite, postgres or sqlserver", db.Name, db.Driver)
		}
		if db.DSN == "" {
			k.at(db.Pos, "emr database %q: dsn is required", db.Name)
		} else if msg := literalCredential(db.DSN); msg != "" {
			k.at(db.Pos, "emr database %q: %s; put the DSN, or its password, in a secret and write ${secret:NAME}", db.Name, msg)
		}
		k.tables(db)
	}
	return ds
}

// literalCredential says what is wrong if a DSN holds a password that is not a reference.
func literalCredential(dsn string) string {
	if IsSecretRef(dsn) {
		return ""
	}
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok && pw != "" && !refRe.MatchString(pw) {
			return "the dsn contains a literal password"
		}
	}
	for _, m := range passwordKV.FindAllStringSubmatch(dsn, -1) {
		if m[3] != "" && !refRe.MatchString(m[3]) {
			return "the dsn contains a literal password"
		}
	}
	return ""
}

func (k *checker) tables(db Database) {
	seen := map[string]bool{}
	targets := map[string]bool{}
	for _, t := range db.Tables {
		where := fmt.Sprintf("emr database %q table %q", db.Name, t.Name)
		if t.Name == "" {
			k.at(t.Pos, "emr database %q: a table has no name", db.Name)
			continue
		}
		if !tableNameRe.MatchString(t.Name) {
			k.at(t.Pos, "%s: the name must be table or schema.table", where)
		}
		if seen[strings.ToLower(t.Name)] {
			k.at(t.Pos, "%s is declared twice", where)
		}
		seen[strings.ToLower(t.Name)] = true
		switch t.Load {
		case LoadFull:
		case LoadIncremental:
			if t.Watermark == "" {
				k.at(t.Pos, "%s: an incremental load needs a watermark column", where)
			}
		default:
			k.at(t.Pos, "%s: load %q: want full or incremental", where, t.Load)
		}
		if t.Watermark != "" && !identRe.MatchString(t.Watermark) {
			k.at(t.Pos, "%s: watermark %q is not a column name", where, t.Watermark)
		}
		for _, c := range t.PrimaryKey {
			if !identRe.MatchString(c) {
				k.at(t.Pos, "%s: primary_key column %q is not a column name", where, c)
			}
		}
		if t.TrackDeletes && len(t.PrimaryKey) == 0 {
			k.at(t.Pos, "%s: track_deletes needs the table's primary_key", where)
		}
		if !identRe.MatchString(t.TargetName()) {
			k.at(t.Pos, "%s: target %q must be a simple name (letters, digits, _)", where, t.TargetName())
		}
		if targets[t.TargetName()] {
			k.at(t.Pos, "%s: target %q is used by another table of datasource %q", where, t.TargetName(), db.Datasource)
		}
		targets[t.TargetName()] = true
	}
}

func (k *checker) landing(ds map[string]bool) {
	l := k.c.Sources.Landing
	if l == nil {
		return
	}
	if l.Root == "" {
		k.at(l.Pos, "sources.landing.root is required")
	}
	for _, f := range l.Files {
		if f.Pattern == "" {
			k.at(f.Pos, "landing file: pattern is required (e.g. claims/hospital1_*.csv)")
		} else if _, err := path.Match(f.Pattern, ""); err != nil {
			k.at(f.Pos, "landing pattern %q is not a valid glob: %v", f.Pattern, err)
		}
		if f.Datasource == "" {
			k.at(f.Pos, "landing pattern %q: datasource is required", f.Pattern)
		} else if !datasourceRe.MatchString(f.Datasource) {
			k.at(f.Pos, "landing pattern %q: datasource %q must be lower case letters, digits, - or _", f.Pattern, f.Datasource)
		}
		ds[f.Datasource] = true
		if f.Table == "" || !identRe.MatchString(f.Table) {
			k.at(f.Pos, "landing pattern %q: table %q must be a simple name", f.Pattern, f.Table)
		}
		if f.Format != "csv" {
			k.at(f.Pos, "landing pattern %q: format %q: only csv is supported", f.Pattern, f.Format)
		}
		if !oneOf(f.ExtraColumns, "", "rescue", "keep") {
			k.at(f.Pos, "landing pattern %q: extra_columns %q: want rescue or keep", f.Pattern, f.ExtraColumns)
		}
		for _, c := range f.Columns {
			if c.Name == "" {
				k.at(f.Pos, "landing pattern %q: a column has no name", f.Pattern)
			}
		}
	}
}

func (k *checker) apis() {
	for name, a := range map[string]*API{"npi": k.c.Sources.APIs.NPI, "icd": k.c.Sources.APIs.ICD} {
		if a == nil {
			continue
		}
		for field, v := range map[string]string{"base_url": a.BaseURL, "token_url": a.TokenURL} {
			if v == "" {
				continue
			}
			if u, err := url.Parse(v); err != nil || !oneOf(u.Scheme, "http", "https", "file") {
				k.at(a.Pos, "apis.%s.%s %q: want an http(s):// or file:// URL", name, field, v)
			}
		}
		if a.ClientSecret != "" && !IsSecretRef(a.ClientSecret) {
			k.at(a.Pos, "apis.%s.client_secret is a literal; use ${secret:NAME}", name)
		}
		if name == "npi" && a.Kind != "" && !oneOf(a.Kind, "api", "bulk") {
			k.at(a.Pos, "apis.npi.kind %q: want api or bulk", a.Kind)
		}
		if name == "npi" && a.Kind == "bulk" && a.IsEnabled() && a.Root == "" {
			k.at(a.Pos, "apis.npi: kind bulk needs root: the path of the NPPES dissemination file (npidata_pfile_*.csv, or the monthly .zip)")
		}
		if a.Scope != "" && (name != "npi" || !oneOf(a.Scope, "providers", "all")) {
			k.at(a.Pos, "apis.%s.scope %q: only apis.npi takes a scope, providers or all", name, a.Scope)
		}
		if name == "icd" && a.Kind != "" && !oneOf(a.Kind, "who", "nlm", "cms-file") {
			k.at(a.Pos, "apis.icd.kind %q: want who, nlm or cms-file", a.Kind)
		}
		if a.RatePerSec < 0 || a.Workers < 0 || a.MaxAttempts < 0 {
			k.at(a.Pos, "apis.%s: rate_per_sec, workers and max_attempts must not be negative", name)
		}
		if a.Timeout != "" {
			if d, err := time.ParseDuration(a.Timeout); err != nil || d <= 0 {
				k.at(a.Pos, "apis.%s.timeout %q: want a positive duration such as 30s", name, a.Timeout)
			}
		}
		if a.Language != "" && !langRe.MatchString(a.Language) {
			k.at(a.Pos, "apis.%s.language %q: want a language tag such as en or fr", name, a.Language)
		}
		if name == "icd" && a.Kind == "who" && a.IsEnabled() && (a.ClientID == "" || a.ClientSecret == "") {
			k.at(a.Pos, "apis.icd: kind who needs client_id and client_secret (register at https://icd.who.int/icdapi, store them as secrets, reference them as ${secret:NAME})")
		}
		if name == "icd" && a.Kind == "cms-file" && a.IsEnabled() && a.Root == "" {
			k.at(a.Pos, "apis.icd: kind cms-file needs root: the path of the ICD-10-CM order file (icd10cm-order-YYYY.txt)")
		}
	}
}

func (k *checker) silver(ds map[string]bool) {
	names := map[string]bool{}
	for _, e := range k.c.Silver.Entities {
		if e.Name == "" || !identRe.MatchString(e.Name) {
			k.at(e.Pos, "silver entity %q: name must be a simple name", e.Name)
		}
		if names[e.Name] {
			k.at(e.Pos, "silver entity %q is declared twice", e.Name)
		}
		names[e.Name] = true
		if len(e.Key) == 0 {
			k.at(e.Pos, "silver entity %q: key is required", e.Name)
		}
		if !oneOf(e.History, "scd2", "none") {
			k.at(e.Pos, "silver entity %q: history %q: want scd2 or none", e.Name, e.History)
		}
		if !oneOf(e.Deletes, "ignore", "close", "marker") {
			k.at(e.Pos, "silver entity %q: deletes %q: want ignore, close or marker", e.Name, e.Deletes)
		}
		for _, s := range e.Sources {
			if !ds[s.Datasource] {
				k.at(s.Pos, "silver entity %q: datasource %q is not declared in sources", e.Name, s.Datasource)
			}
			if s.Table == "" {
				k.at(s.Pos, "silver entity %q: source table is required", e.Name)
			}
			for cdm := range s.Columns {
				if !identRe.MatchString(cdm) {
					k.at(s.Pos, "silver entity %q: CDM column %q must be a simple name", e.Name, cdm)
				}
			}
		}
		for _, r := range e.Rules {
			k.rule(e, r, names)
		}
	}
}

func (k *checker) rule(e Entity, r Rule, _ map[string]bool) {
	where := fmt.Sprintf("silver entity %q rule %q", e.Name, r.Name)
	if r.Name == "" {
		k.at(r.Pos, "silver entity %q: a rule has no name", e.Name)
	}
	if !oneOf(r.Type, RuleTypes...) {
		k.at(r.Pos, "%s: type %q: want one of %s", where, r.Type, strings.Join(RuleTypes, ", "))
	}
	if !oneOf(r.Severity, Severities...) {
		k.at(r.Pos, "%s: severity %q: want one of %s", where, r.Severity, strings.Join(Severities, ", "))
	}
	needCols := !oneOf(r.Type, "expression")
	if needCols && len(r.Columns) == 0 {
		k.at(r.Pos, "%s: columns are required", where)
	}
	switch r.Type {
	case "accepted_values":
		if len(r.Values) == 0 {
			k.at(r.Pos, "%s: values are required", where)
		}
	case "regex":
		if _, err := regexp.Compile(r.Pattern); err != nil || r.Pattern == "" {
			k.at(r.Pos, "%s: pattern %q is not a valid regular expression", where, r.Pattern)
		}
	case "range":
		if r.Min == nil && r.Max == nil {
			k.at(r.Pos, "%s: min or max is required", where)
		}
	case "relationships":
		if strings.Count(r.To, ".") != 1 {
			k.at(r.Pos, "%s: to %q: want entity.column", where, r.To)
		}
	case "expression":
		if r.Expr == "" {
			k.at(r.Pos, "%s: expr is required", where)
		}
	case "freshness":
		if r.MaxAge == "" {
			k.at(r.Pos, "%s: max_age is required (e.g. 48h)", where)
		} else if _, err := ParseMaxAge(r.MaxAge); err != nil {
			k.at(r.Pos, "%s: %v", where, err)
		}
	}
}

var grantRe = regexp.MustCompile(`^(?i)(select|all)\s+on\s+(\*|catalog|(bronze|silver|gold|audit)(\.(\*|[A-Za-z_][A-Za-z0-9_]*))?)$`)

func (k *checker) roles() {
	names := map[string]bool{}
	for _, r := range k.c.Roles {
		if r.Name == "" || !identRe.MatchString(r.Name) {
			k.at(r.Pos, "role %q: name must be a simple name", r.Name)
		}
		if names[r.Name] {
			k.at(r.Pos, "role %q is declared twice", r.Name)
		}
		names[r.Name] = true
		for _, g := range r.Grants {
			if !grantRe.MatchString(strings.TrimSpace(g)) {
				k.at(r.Pos, "role %q: grant %q: want e.g. \"select on gold.*\", \"select on silver.patients\" or \"select on catalog\"", r.Name, g)
			}
		}
	}
}

var phiRe = regexp.MustCompile(`^(?i)((bronze|silver|gold|audit|\*)\.)?[A-Za-z0-9_*]+\.[A-Za-z0-9_*]+$`)

func (k *checker) governance() {
	g := k.c.Governance
	for _, p := range g.PHI {
		if !phiRe.MatchString(p) {
			k.at(g.Pos, "governance.phi %q: want [layer.]table.column, with * as a wildcard (e.g. patients.ssn, *.medicaid_id)", p)
		}
	}
	if g.MaskKey != "" && !IsSecretRef(g.MaskKey) {
		k.at(g.Pos, "governance.mask_key must be a ${secret:...} or ${env:...} reference, never the key itself")
	}
	s := k.c.Serve
	if (s.TLSCert == "") != (s.TLSKey == "") {
		k.at(s.Pos, "serve: give both tls_cert and tls_key, or neither")
	}
	if s.MaxRows < 0 {
		k.at(s.Pos, "serve.max_rows must not be negative")
	}
	if s.QueryTimeout != "" {
		if d, err := time.ParseDuration(s.QueryTimeout); err != nil || d <= 0 {
			k.at(s.Pos, "serve.query_timeout %q: want a positive duration such as 30s", s.QueryTimeout)
		}
	}
	if o := s.OIDC; o != nil {
		if u, err := url.Parse(o.Issuer); err != nil || u.Scheme == "" || u.Host == "" {
			k.at(o.Pos, "serve.oidc.issuer %q: want the issuer URL, e.g. https://login.microsoftonline.com/<tenant>/v2.0", o.Issuer)
		}
		if o.Audience == "" {
			k.at(o.Pos, "serve.oidc.audience is required: the client id the tokens are issued to")
		}
		roles := map[string]bool{}
		for _, r := range k.c.Roles {
			roles[r.Name] = true
		}
		for from, to := range o.RoleMap {
			if !roles[to] {
				k.at(o.Pos, "serve.oidc.role_map %q -> %q: no role %q is declared", from, to, to)
			}
		}
	}
}

// ParseMaxAge reads a freshness max_age: a Go duration ("36h", "90m") or whole days ("2d").
func ParseMaxAge(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(strings.TrimSpace(s), "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n <= 0 {
			return 0, fmt.Errorf("max_age %q: want a duration such as 36h or a number of days such as 2d", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("max_age %q: want a duration such as 36h or a number of days such as 2d", s)
	}
	return d, nil
}
