// Package catalog names the lake's tables. A table is layer.name (silver.patients,
// gold.fact_transaction, audit.load_logs), optionally pinned to a version (silver.patients@v3)
// or a time (silver.patients@2024-06-01T00:00:00Z). Each name maps to one folder of the lake,
// so every engine finds the same table at the same place.
package catalog

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Layers of the lake, in the order data flows.
const (
	Bronze = "bronze"
	Silver = "silver"
	Gold   = "gold"
	Audit  = "audit"
)

// Layers lists the layers in flow order.
var Layers = []string{Bronze, Silver, Gold, Audit}

var nameRe = regexp.MustCompile(`^(bronze|silver|gold|audit)\.([A-Za-z_][A-Za-z0-9_]*)(?:@(.+))?$`)

// Name is a parsed table name.
type Name struct {
	Layer   string
	Table   string
	Version *int64     // @vN
	AsOf    *time.Time // @<RFC 3339 time or date>
}

// String renders the name as it was written (layer.table[@...]).
func (n Name) String() string {
	s := n.Layer + "." + n.Table
	switch {
	case n.Version != nil:
		s += "@v" + strconv.FormatInt(*n.Version, 10)
	case n.AsOf != nil:
		s += "@" + n.AsOf.UTC().Format(time.RFC3339)
	}
	return s
}

// Key is the folder of the table inside the lake, e.g. "silver/patients".
func (n Name) Key() string { return Key(n.Layer, n.Table) }

// Key is the folder of a table inside the lake.
func Key(layer, table string) string { return layer + "/" + table }

// IsName reports whether s looks like a catalog name rather than a path or URL.
func IsName(s string) bool { return nameRe.MatchString(s) }

// Parse reads layer.table, layer.table@vN or layer.table@TIME.
func Parse(s string) (Name, error) {
	m := nameRe.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return Name{}, fmt.Errorf("table %q: want layer.table with layer bronze, silver, gold or audit (e.g. silver.patients, gold.fact_claim@v3)", s)
	}
	n := Name{Layer: m[1], Table: strings.ToLower(m[2])}
	if at := m[3]; at != "" {
		if strings.HasPrefix(at, "v") {
			v, err := strconv.ParseInt(at[1:], 10, 64)
			if err != nil || v < 0 {
				return Name{}, fmt.Errorf("table %q: version %q: want @vN with N >= 0", s, at)
			}
			n.Version = &v
		} else {
			t, err := ParseTime(at)
			if err != nil {
				return Name{}, fmt.Errorf("table %q: %w", s, err)
			}
			n.AsOf = &t
		}
	}
	return n, nil
}

// ParseTime accepts RFC 3339 times and plain dates (midnight UTC).
func ParseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("time %q: want RFC 3339 (2024-06-01T12:00:00Z) or a date (2024-06-01)", s)
}
