package access

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/rcmlake/rcmlake/catalog"
	"github.com/rcmlake/rcmlake/engine"
	"github.com/rcmlake/rcmlake/engine/duckdb"
	"github.com/rcmlake/rcmlake/lakehouse"
	"github.com/rcmlake/rcmlake/query"
)

// Principal is who is reading: a token's holder, an OIDC user or a CLI user with a role.
type Principal struct {
	Name   string
	Role   string
	Via    string // api, ui, sql, export, cli
	Client string // remote address, for the audit
}

// DeniedError is a read the principal's role has no grant for.
type DeniedError struct {
	Role  string
	Table string
}

func (e *DeniedError) Error() string {
	return fmt.Sprintf("role %s may not read %s (ask an admin: rcmlake grants add %s \"select on %s\")", e.Role, e.Table, e.Role, e.Table)
}

// IsDenied reports whether err is a grant or guard refusal (as opposed to a failure).
func IsDenied(err error) bool {
	var d *DeniedError
	var g *GuardError
	return errors.As(err, &d) || errors.As(err, &g)
}

// Reader is the one governed way to read the lake's data for a person: every table is
// checked against the role's grants, PHI columns are masked inside the engine for roles
// without the PHI permission, people's SQL passes the guard, and every read is audited.
type Reader struct {
	Lake    *lakehouse.Lakehouse
	Policy  *Policy
	Audit   *AuditLog // nil: reads are not recorded (tests only)
	MaxRows int       // cap on returned rows; 0 means 10000
	mu      sync.Mutex
}

// NewReader registers the masking function on the lake's engine and returns a reader.
func NewReader(ctx context.Context, lh *lakehouse.Lakehouse, p *Policy, m Masker, audit *AuditLog) (*Reader, error) {
	if err := lh.Engine.RegisterStringFunc(ctx, MaskFunc, m.Mask); err != nil {
		return nil, fmt.Errorf("registering the PHI mask: %w", err)
	}
	return &Reader{Lake: lh, Policy: p, Audit: audit}, nil
}

// Result is a governed read's outcome.
type Result struct {
	*engine.Result
	Tables    []string
	Masked    []string // columns masked, as table.column
	PHI       bool     // unmasked PHI columns were readable
	Truncated bool     // more rows than MaxRows matched
}

// Authorize checks that a principal may read tables (catalog names such as gold.fact_claim);
// a refusal is audited.
func (r *Reader) Authorize(p Principal, action string, tables ...string) error {
	for _, t := range tables {
		n, err := catalog.Parse(t)
		if err != nil {
			return err
		}
		if !r.Policy.CanRead(p.Role, n.Layer, n.Table) {
			r.record(p, action, tables, 0, false, "denied", "")
			return &DeniedError{Role: p.Role, Table: n.Layer + "." + n.Table}
		}
	}
	return nil
}

// Record audits a read made outside Query (e.g. a KPI read through the gold package).
func (r *Reader) Record(p Principal, action string, tables []string, rows int64) {
	r.record(p, action, tables, rows, false, "ok", "")
}

// Query runs a person's SELECT over catalog names (gold.x, silver.y@v3) under the guard.
func (r *Reader) Query(ctx context.Context, p Principal, action, sql string, asOf *time.Time) (*Result, error) {
	return r.run(ctx, p, action, sql, asOf, true)
}

// Trusted runs rcmlake's own SQL for a person: grants and masks apply, the guard does not
// (the text is the server's, with only validated values spliced in).
func (r *Reader) Trusted(ctx context.Context, p Principal, action, sql string) (*Result, error) {
	return r.run(ctx, p, action, sql, nil, false)
}

func (r *Reader) run(ctx context.Context, p Principal, action, sql string, asOf *time.Time, guarded bool) (*Result, error) {
	sql = strings.TrimRight(strings.TrimSpace(sql), "; \n\t")
	qh := ""
	if guarded {
		qh = HashQuery(sql)
	}
	refs, err := query.Refs(sql)
	if err != nil {
		r.record(p, action, nil, 0, false, "error", qh)
		return nil, err
	}
	var tables []string
	seen := map[string]bool{}
	for _, ref := range refs {
		t := ref.Name.Layer + "." + ref.Name.Table
		if !seen[t] {
			seen[t] = true
			tables = append(tables, t)
		}
	}
	sort.Strings(tables)
	for _, t := range tables {
		n, _ := catalog.Parse(t)
		if !r.Policy.CanRead(p.Role, n.Layer, n.Table) {
			r.record(p, action, tables, 0, false, "denied", qh)
			return nil, &DeniedError{Role: p.Role, Table: t}
		}
	}
	res := &Result{Tables: tables}
	seesPHI := r.Policy.SeesPHI(p.Role)
	cat := &query.Catalog{Lake: r.Lake, AsOf: asOf, Project: func(n catalog.Name, cols []string) (string, []string) {
		schema := n.Layer
		if !seesPHI {
			schema += "_masked"
		}
		exprs := make([]string, len(cols))
		for i, c := range cols {
			q := query.Quote(c)
			exprs[i] = q
			if r.Policy.IsPHI(n.Layer, n.Table, c) {
				if seesPHI {
					res.PHI = true
				} else {
					exprs[i] = fmt.Sprintf("%s(CAST(%s AS VARCHAR)) AS %s", MaskFunc, q, q)
					res.Masked = append(res.Masked, n.Layer+"."+n.Table+"."+c)
				}
			}
		}
		return schema, exprs
	}}
	max := r.MaxRows
	if max <= 0 {
		max = 10000
	}
	r.mu.Lock() // views are replaced per request on the one engine connection
	defer r.mu.Unlock()
	prep, err := cat.Prepare(ctx, sql)
	if err != nil {
		r.record(p, action, tables, 0, false, "error", qh)
		return nil, err
	}
	final := fmt.Sprintf("SELECT * FROM (%s\n) AS governed LIMIT %d", prep.SQL, max+1)
	if guarded { // the guard checks the very text that runs
		views := map[string]bool{}
		for _, v := range prep.Views {
			views[strings.ToLower(v.Schema+"."+v.Name)] = true
		}
		parsed, err := r.Lake.Engine.Query(ctx, "SELECT CAST(json_serialize_sql("+duckdb.Literal(final)+") AS VARCHAR)")
		if err != nil {
			r.record(p, action, tables, 0, false, "error", qh)
			return nil, err
		}
		if err := CheckParsed([]byte(fmt.Sprint(parsed.Rows[0][0])), views); err != nil {
			r.record(p, action, tables, 0, false, "denied", qh)
			return nil, err
		}
	}
	out, err := r.Lake.Engine.Query(ctx, final)
	if err != nil {
		r.record(p, action, tables, 0, false, "error", qh)
		return nil, err
	}
	if len(out.Rows) > max {
		out.Rows, res.Truncated = out.Rows[:max], true
	}
	res.Result = out
	r.record(p, action, tables, int64(len(out.Rows)), res.PHI, "ok", qh)
	return res, nil
}

func (r *Reader) record(p Principal, action string, tables []string, rows int64, phi bool, status, qh string) {
	if r.Audit == nil {
		return
	}
	r.Audit.Record(Entry{Principal: p.Name, Role: p.Role, Via: p.Via, Action: action, Tables: tables, Rows: rows,
		PHI: phi, Status: status, QueryHash: qh, Client: p.Client})
}
