package serve

import (
	"context"
	"fmt"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/rcmlake/rcmlake/access"
	"github.com/rcmlake/rcmlake/config"
)

// OIDC verifies bearer JWTs from an identity provider: signature against the issuer's JWKS
// (fetched from its discovery document and cached, refetched when keys rotate), issuer,
// audience and expiry. The user's role comes from a claim.
type OIDC struct {
	verifier *oidc.IDTokenVerifier
	cfg      config.OIDC
	policy   *access.Policy
}

// NewOIDC discovers an issuer.
func NewOIDC(ctx context.Context, cfg config.OIDC, policy *access.Policy) (*OIDC, error) {
	provider, err := oidc.NewProvider(ctx, cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("oidc issuer %s: %w", cfg.Issuer, err)
	}
	if cfg.RoleClaim == "" {
		cfg.RoleClaim = "roles"
	}
	// The background context keeps the key set usable after ctx (start-up) ends.
	v := provider.Verifier(&oidc.Config{ClientID: cfg.Audience})
	return &OIDC{verifier: v, cfg: cfg, policy: policy}, nil
}

func (o *OIDC) verify(ctx context.Context, raw string) (access.Principal, error) {
	tok, err := o.verifier.Verify(ctx, raw)
	if err != nil {
		return access.Principal{}, access.ErrBadToken
	}
	var claims map[string]any
	if err := tok.Claims(&claims); err != nil {
		return access.Principal{}, access.ErrBadToken
	}
	name := tok.Subject
	for _, k := range []string{"preferred_username", "email", "upn"} {
		if v, ok := claims[k].(string); ok && v != "" {
			name = v
			break
		}
	}
	var roles []string
	switch v := claims[o.cfg.RoleClaim].(type) {
	case string:
		roles = []string{v}
	case []any:
		for _, x := range v {
			if s, ok := x.(string); ok {
				roles = append(roles, s)
			}
		}
	}
	for _, r := range roles {
		if m, ok := o.cfg.RoleMap[r]; ok {
			r = m
		}
		if _, ok := o.policy.Role(r); ok {
			return access.Principal{Name: name, Role: r}, nil
		}
	}
	return access.Principal{Name: name}, fmt.Errorf("%w: no role of the token's %q claim is configured", access.ErrBadToken, o.cfg.RoleClaim)
}
