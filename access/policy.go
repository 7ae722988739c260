// Package access is rcmlake's governance: who may read which tables, which columns are PHI,
// how PHI is masked for those who may not see it, and the record of every read.
//
// It follows Unity Catalog's shape at the scale of one lake: roles are declared in the config
// with grants at catalog, layer and table level ("select on gold.*") and a PHI permission;
// grants added later with `rcmlake grants` live in the lake. Every path that reads data for a
// person (the dashboard, the API, the SQL endpoint, exports and `rcmlake query --role`) goes
// through a Reader, so a grant or a mask cannot be forgotten in one of them.
package access

import (
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/rcmlake/rcmlake/catalog"
	"github.com/rcmlake/rcmlake/config"
)

// Layers are the catalog's layers, in flow order.
var Layers = []string{catalog.Bronze, catalog.Silver, catalog.Gold, catalog.Audit}

// Grant is one privilege on one securable: "select on gold.*".
type Grant struct {
	Privilege string // select or all
	Layer     string // "" for the whole catalog
	Table     string // "" or "*" for the whole layer
}

var grantRe = regexp.MustCompile(`^(?i)(select|all)\s+on\s+(\*|catalog|(bronze|silver|gold|audit)(?:\.(\*|[A-Za-z_][A-Za-z0-9_]*))?)$`)

// ParseGrant reads "select on catalog", "select on gold", "select on gold.*" or
// "select on silver.patients"; "all" implies select.
func ParseGrant(s string) (Grant, error) {
	m := grantRe.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return Grant{}, fmt.Errorf("grant %q: want e.g. \"select on gold.*\", \"select on silver.patients\" or \"select on catalog\"", s)
	}
	g := Grant{Privilege: strings.ToLower(m[1]), Layer: strings.ToLower(m[3]), Table: strings.ToLower(m[4])}
	if g.Table == "*" {
		g.Table = ""
	}
	return g, nil
}

func (g Grant) String() string {
	switch {
	case g.Layer == "":
		return g.Privilege + " on catalog"
	case g.Table == "":
		return g.Privilege + " on " + g.Layer + ".*"
	}
	return g.Privilege + " on " + g.Layer + "." + g.Table
}

// covers reports whether the grant lets its holder read the table.
func (g Grant) covers(layer, table string) bool {
	return g.Layer == "" || g.Layer == layer && (g.Table == "" || g.Table == table)
}

// Role is a role's effective grants.
type Role struct {
	Name   string
	Grants []Grant
	PHI    bool
}

// Policy answers who may read what, and which columns are PHI.
type Policy struct {
	roles map[string]*Role
	phi   []phiPattern
}

type phiPattern struct{ layer, table, column string }

// NewPolicy builds the policy of a config, plus the grants stored in the lake (nil: none).
func NewPolicy(cfg *config.Config, stored *Grants) (*Policy, error) {
	p := &Policy{roles: map[string]*Role{}}
	for _, r := range cfg.Roles {
		role := &Role{Name: r.Name, PHI: r.PHI}
		for _, s := range r.Grants {
			g, err := ParseGrant(s)
			if err != nil {
				return nil, fmt.Errorf("role %s: %w", r.Name, err)
			}
			role.Grants = append(role.Grants, g)
		}
		p.roles[r.Name] = role
	}
	if stored != nil {
		for _, e := range stored.Entries {
			role, ok := p.roles[e.Role]
			if !ok {
				continue // the role was removed from the config; its stored grants lapse with it
			}
			if e.Grant == PHIGrant {
				role.PHI = true
				continue
			}
			g, err := ParseGrant(e.Grant)
			if err != nil {
				return nil, fmt.Errorf("stored grant for %s: %w", e.Role, err)
			}
			role.Grants = append(role.Grants, g)
		}
	}
	pats := cfg.Governance.PHI
	if len(pats) == 0 {
		pats = config.DefaultPHI()
	}
	for _, s := range pats {
		parts := strings.Split(strings.ToLower(strings.TrimSpace(s)), ".")
		switch len(parts) {
		case 2:
			p.phi = append(p.phi, phiPattern{"*", parts[0], parts[1]})
		case 3:
			p.phi = append(p.phi, phiPattern{parts[0], parts[1], parts[2]})
		default:
			return nil, fmt.Errorf("governance.phi %q: want [layer.]table.column", s)
		}
	}
	return p, nil
}

// Role returns a role by name.
func (p *Policy) Role(name string) (*Role, bool) {
	r, ok := p.roles[name]
	return r, ok
}

// Roles lists the roles by name.
func (p *Policy) Roles() []*Role {
	out := make([]*Role, 0, len(p.roles))
	for _, r := range p.roles {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// CanRead reports whether a role may select from a table; an unknown role may read nothing.
func (p *Policy) CanRead(role, layer, table string) bool {
	r, ok := p.roles[role]
	if !ok {
		return false
	}
	layer, table = strings.ToLower(layer), strings.ToLower(table)
	for _, g := range r.Grants {
		if g.covers(layer, table) {
			return true
		}
	}
	return false
}

// SeesPHI reports whether a role may see PHI unmasked.
func (p *Policy) SeesPHI(role string) bool {
	r, ok := p.roles[role]
	return ok && r.PHI
}

// IsPHI reports whether a column of a table holds PHI.
func (p *Policy) IsPHI(layer, table, column string) bool {
	layer, table, column = strings.ToLower(layer), strings.ToLower(table), strings.ToLower(column)
	for _, pt := range p.phi {
		if match(pt.layer, layer) && match(pt.table, table) && match(pt.column, column) {
			return true
		}
	}
	return false
}

func match(pattern, s string) bool {
	ok, err := path.Match(pattern, s)
	return err == nil && ok
}
