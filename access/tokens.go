package access

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rcmlake/rcmlake/lake"
)

// TokenPrefix starts every API token, so secret scanners can recognise a leaked one.
const TokenPrefix = "rcm_"

// Token is a stored API token. Only the SHA-256 of its secret is kept: a token is shown once,
// when it is created, and cannot be read back from the lake.
type Token struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"` // who or what holds it
	Role    string    `json:"role"`
	Hash    string    `json:"sha256"`
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires,omitempty"`
	Revoked time.Time `json:"revoked,omitempty"`
}

// Active reports whether the token may be used at t.
func (t Token) Active(at time.Time) bool {
	return t.Revoked.IsZero() && (t.Expires.IsZero() || at.Before(t.Expires))
}

// Tokens is the stored token list.
type Tokens struct {
	Entries []Token `json:"tokens"`
}

func tokenDocs(store lake.Storage) docs { return docs{store, governanceDir + "/tokens"} }

// LoadTokens reads the stored tokens.
func LoadTokens(ctx context.Context, store lake.Storage) (*Tokens, error) {
	var ts Tokens
	if _, err := tokenDocs(store).latest(ctx, &ts); err != nil {
		return nil, fmt.Errorf("stored tokens: %w", err)
	}
	return &ts, nil
}

// CreateToken makes a token for a role and returns its one-time text.
func CreateToken(ctx context.Context, store lake.Storage, name, role string, ttl time.Duration) (Token, string, error) {
	id := make([]byte, 6)
	secret := make([]byte, 32)
	if _, err := rand.Read(id); err != nil {
		return Token{}, "", err
	}
	if _, err := rand.Read(secret); err != nil {
		return Token{}, "", err
	}
	sec := base64.RawURLEncoding.EncodeToString(secret)
	t := Token{ID: hex.EncodeToString(id), Name: name, Role: role, Hash: hashSecret(sec), Created: time.Now().UTC()}
	if ttl > 0 {
		t.Expires = t.Created.Add(ttl)
	}
	err := update(ctx, tokenDocs(store), func(ts *Tokens) error {
		ts.Entries = append(ts.Entries, t)
		return nil
	})
	return t, TokenPrefix + t.ID + "_" + sec, err
}

// RevokeToken revokes a token by id (or by name, when one token has it).
func RevokeToken(ctx context.Context, store lake.Storage, idOrName string) (Token, error) {
	var out Token
	err := update(ctx, tokenDocs(store), func(ts *Tokens) error {
		hit := -1
		for i, t := range ts.Entries {
			if t.ID == idOrName || t.Name == idOrName && t.Revoked.IsZero() {
				if hit >= 0 && ts.Entries[hit].ID != t.ID {
					return fmt.Errorf("several tokens are named %q; revoke one by id", idOrName)
				}
				hit = i
			}
		}
		if hit < 0 {
			return fmt.Errorf("no token %q", idOrName)
		}
		if ts.Entries[hit].Revoked.IsZero() {
			ts.Entries[hit].Revoked = time.Now().UTC()
		}
		out = ts.Entries[hit]
		return nil
	})
	return out, err
}

// ErrBadToken is any token that does not authenticate; callers never learn why.
var ErrBadToken = errors.New("invalid or expired token")

// Verify finds the active token a presented text belongs to.
func (ts *Tokens) Verify(text string, now time.Time) (Token, error) {
	rest, ok := strings.CutPrefix(text, TokenPrefix)
	if !ok {
		return Token{}, ErrBadToken
	}
	id, sec, ok := strings.Cut(rest, "_")
	if !ok {
		return Token{}, ErrBadToken
	}
	h := hashSecret(sec)
	for _, t := range ts.Entries {
		if t.ID == id && subtle.ConstantTimeCompare([]byte(t.Hash), []byte(h)) == 1 && t.Active(now) {
			return t, nil
		}
	}
	return Token{}, ErrBadToken
}

func hashSecret(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
