package access

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/rcmlake/rcmlake/config"
	"github.com/rcmlake/rcmlake/lake"
	"github.com/rcmlake/rcmlake/secrets"
)

// MaskFunc is the SQL name of the masking function the Reader registers on its engine.
const MaskFunc = "rcm_mask"

// Masker tokenises PHI values with a keyed hash (HMAC-SHA256): the same value always gives
// the same token, so analysts can still count and join on a masked column, but without the
// key a token cannot be turned back into the value, nor guessed from a list of candidates.
type Masker struct{ key []byte }

// Mask returns the token of a value.
func (m Masker) Mask(v string) string {
	h := hmac.New(sha256.New, m.key)
	h.Write([]byte(v))
	return "tok_" + hex.EncodeToString(h.Sum(nil))[:16]
}

const maskKeyObject = governanceDir + "/mask_key"

// LoadMasker resolves the config's mask key, or reads (and first creates) the lake's own.
func LoadMasker(ctx context.Context, cfg *config.Config, r *secrets.Resolver, store lake.Storage) (Masker, error) {
	if ref := cfg.Governance.MaskKey; ref != "" {
		v, err := r.Resolve(ctx, ref)
		if err != nil {
			return Masker{}, fmt.Errorf("governance.mask_key: %w", err)
		}
		if len(v) < 16 {
			return Masker{}, fmt.Errorf("governance.mask_key: the key must be at least 16 characters")
		}
		return Masker{key: []byte(v)}, nil
	}
	data, err := lake.ReadAll(ctx, store, maskKeyObject)
	if errors.Is(err, lake.ErrNotExist) {
		k := make([]byte, 32)
		if _, err := rand.Read(k); err != nil {
			return Masker{}, err
		}
		err = store.PutIfAbsent(ctx, maskKeyObject, []byte(hex.EncodeToString(k)))
		if err != nil && !errors.Is(err, lake.ErrExists) {
			return Masker{}, err
		}
		data, err = lake.ReadAll(ctx, store, maskKeyObject) // whoever created it first wins
	}
	if err != nil {
		return Masker{}, fmt.Errorf("mask key: %w", err)
	}
	key := strings.TrimSpace(string(data))
	if r != nil {
		r.Remember(key)
	}
	return Masker{key: []byte(key)}, nil
}
