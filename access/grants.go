package access

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/rcmlake/rcmlake/lake"
)

// PHIGrant is the stored grant that lets a role see PHI unmasked.
const PHIGrant = "read phi"

// Grants are the grants added with `rcmlake grants add`, on top of the config's.
type Grants struct {
	Entries []GrantEntry `json:"entries"`
}

// GrantEntry is one stored grant.
type GrantEntry struct {
	Role    string    `json:"role"`
	Grant   string    `json:"grant"` // "select on gold.*" or "read phi"
	By      string    `json:"by,omitempty"`
	Granted time.Time `json:"granted"`
}

func grantDocs(store lake.Storage) docs { return docs{store, governanceDir + "/grants"} }

// LoadGrants reads the stored grants (none yet is not an error).
func LoadGrants(ctx context.Context, store lake.Storage) (*Grants, error) {
	var g Grants
	if _, err := grantDocs(store).latest(ctx, &g); err != nil {
		return nil, fmt.Errorf("stored grants: %w", err)
	}
	return &g, nil
}

// normalizeGrant checks a grant and returns its canonical text.
func normalizeGrant(s string) (string, error) {
	if s == PHIGrant || s == "phi" {
		return PHIGrant, nil
	}
	g, err := ParseGrant(s)
	if err != nil {
		return "", fmt.Errorf("%w, or %q", err, PHIGrant)
	}
	return g.String(), nil
}

// AddGrant stores a grant for a role; adding one that exists changes nothing.
func AddGrant(ctx context.Context, store lake.Storage, role, grant, by string) error {
	g, err := normalizeGrant(grant)
	if err != nil {
		return err
	}
	return update(ctx, grantDocs(store), func(gs *Grants) error {
		for _, e := range gs.Entries {
			if e.Role == role && e.Grant == g {
				return nil
			}
		}
		gs.Entries = append(gs.Entries, GrantEntry{Role: role, Grant: g, By: by, Granted: time.Now().UTC()})
		return nil
	})
}

// RevokeGrant removes a stored grant. Grants declared in the config are changed there.
func RevokeGrant(ctx context.Context, store lake.Storage, role, grant string) error {
	g, err := normalizeGrant(grant)
	if err != nil {
		return err
	}
	return update(ctx, grantDocs(store), func(gs *Grants) error {
		n := len(gs.Entries)
		gs.Entries = slices.DeleteFunc(gs.Entries, func(e GrantEntry) bool { return e.Role == role && e.Grant == g })
		if len(gs.Entries) == n {
			return fmt.Errorf("role %s has no stored grant %q (grants declared in rcmlake.yaml are changed there)", role, g)
		}
		return nil
	})
}
