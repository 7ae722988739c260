package serve

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/rcmlake/rcmlake/access"
	"github.com/rcmlake/rcmlake/config"
)

// issuer is a local OpenID Connect provider: a discovery document and a JWKS, as Entra ID,
// Okta or Keycloak serve them.
type issuer struct {
	*httptest.Server
	key *rsa.PrivateKey
}

func newIssuer(t *testing.T) *issuer {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	is := &issuer{key: key}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"issuer": is.URL, "jwks_uri": is.URL + "/keys",
			"authorization_endpoint": is.URL + "/authorize", "token_endpoint": is.URL + "/token", "id_token_signing_alg_values_supported": []string{"RS256"}})
	})
	mux.HandleFunc("/keys", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	})
	is.Server = httptest.NewServer(mux)
	t.Cleanup(is.Close)
	return is
}

func (is *issuer) sign(t *testing.T, key *rsa.PrivateKey, claims map[string]any) string {
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "k1"))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(sig).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestOIDCBearerTokens(t *testing.T) {
	is := newIssuer(t)
	cfg := &config.Config{Roles: config.SeedRoles()}
	policy, err := access.NewPolicy(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	o, err := NewOIDC(context.Background(), config.OIDC{Issuer: is.URL, Audience: "rcmlake", RoleMap: map[string]string{"RCM.Analysts": "analyst"}}, policy)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer((&Server{Reader: &access.Reader{Policy: policy}, OIDC: o}).Handler())
	defer srv.Close()
	now := time.Now()
	base := func() map[string]any {
		return map[string]any{"iss": is.URL, "aud": "rcmlake", "sub": "u-123", "preferred_username": "dana@hospital.org",
			"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "roles": []string{"Everyone", "RCM.Analysts"}}
	}
	me := func(tok string) (int, string) {
		req, _ := http.NewRequest("GET", srv.URL+"/api/me", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := me(is.sign(t, is.key, base()))
	if code != 200 || !strings.Contains(body, `"role":"analyst"`) || !strings.Contains(body, "dana@hospital.org") {
		t.Fatalf("valid token: %d %s", code, body)
	}
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	bad := map[string]func(map[string]any) (map[string]any, *rsa.PrivateKey){
		"wrong audience": func(c map[string]any) (map[string]any, *rsa.PrivateKey) { c["aud"] = "someone-else"; return c, is.key },
		"expired": func(c map[string]any) (map[string]any, *rsa.PrivateKey) {
			c["exp"] = now.Add(-time.Minute).Unix()
			return c, is.key
		},
		"wrong issuer": func(c map[string]any) (map[string]any, *rsa.PrivateKey) {
			c["iss"] = "https://evil.example"
			return c, is.key
		},
		"foreign key": func(c map[string]any) (map[string]any, *rsa.PrivateKey) { return c, other },
		"no known role": func(c map[string]any) (map[string]any, *rsa.PrivateKey) {
			c["roles"] = []string{"Everyone"}
			return c, is.key
		},
	}
	for name, f := range bad {
		c, k := f(base())
		if code, body := me(is.sign(t, k, c)); code != http.StatusUnauthorized {
			t.Errorf("%s: %d %s", name, code, body)
		}
	}
	// Six failures from one address: the next attempt is rate limited, even a valid one.
	if code, _ := me("not.a.jwt"); code != http.StatusTooManyRequests {
		t.Errorf("after 6 failures: %d, want 429", code)
	}
}
