package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/kycvs/kycvs/store"
)

// memKeys is a KeyStore in memory.
type memKeys struct{ rows []store.SigningKey }

func (m *memKeys) CreateSigningKey(_ context.Context, k *store.SigningKey) error {
	m.rows = append([]store.SigningKey{*k}, m.rows...)
	return nil
}

func (m *memKeys) ListSigningKeys(context.Context) ([]store.SigningKey, error) {
	return append([]store.SigningKey(nil), m.rows...), nil
}

func TestKeysEncryptedAtRest(t *testing.T) {
	ctx := context.Background()
	st := &memKeys{}
	secret := []byte(strings.Repeat("s", 32))
	keys, err := NewKeys(st, secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := keys.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	if len(st.rows) != 2 || keys.Current(RS256) == nil || keys.Current(ES256) == nil {
		t.Fatalf("Ensure made %d keys", len(st.rows))
	}
	if err := keys.Ensure(ctx); err != nil || len(st.rows) != 2 {
		t.Fatalf("a second Ensure made more keys: %d %v", len(st.rows), err)
	}
	for _, row := range st.rows {
		if strings.Contains(string(row.Ciphertext), "PRIVATE") || len(row.Ciphertext) < 100 {
			t.Fatal("key stored in the clear")
		}
	}
	// Another process with the same secret reads the same keys.
	other, _ := NewKeys(st, secret)
	if err := other.Load(ctx); err != nil || other.Current(RS256).KID != keys.Current(RS256).KID {
		t.Fatalf("second process: %v", err)
	}
	// A wrong secret is a clear error, not garbage keys.
	wrong, _ := NewKeys(st, []byte(strings.Repeat("w", 32)))
	if err := wrong.Load(ctx); !errors.Is(err, ErrKeyDecrypt) {
		t.Fatalf("wrong secret: %v", err)
	}
	// A ciphertext moved to another key ID does not decrypt.
	st.rows[0].Ciphertext, st.rows[1].Ciphertext = st.rows[1].Ciphertext, st.rows[0].Ciphertext
	if err := other.Load(ctx); !errors.Is(err, ErrKeyDecrypt) {
		t.Fatalf("swapped ciphertexts: %v", err)
	}
}

func TestRotationKeepsOldKeysPublished(t *testing.T) {
	ctx := context.Background()
	st := &memKeys{}
	keys, _ := NewKeys(st, []byte(strings.Repeat("s", 32)))
	if err := keys.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	old := keys.Current(RS256).KID
	kid, err := keys.Rotate(ctx, RS256)
	if err != nil {
		t.Fatal(err)
	}
	if keys.Current(RS256).KID != kid || kid == old {
		t.Fatal("the new key does not sign")
	}
	body, err := jwksJSON(keys.Published())
	if err != nil {
		t.Fatal(err)
	}
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	json.Unmarshal(body, &set)
	kids := map[string]bool{}
	for _, k := range set.Keys {
		kids[k["kid"].(string)] = true
		if _, ok := k["d"]; ok {
			t.Fatal("private key material in the JWKS")
		}
		if k["use"] != "sig" || k["alg"] == nil {
			t.Fatalf("key without use/alg: %v", k)
		}
	}
	if len(set.Keys) != 3 || !kids[old] || !kids[kid] {
		t.Fatalf("JWKS after rotation: %v", kids)
	}
	if _, err := keys.Rotate(ctx, "HS256"); err == nil {
		t.Fatal("rotated an unsupported algorithm")
	}
}

func TestSignedTokensVerifyByKID(t *testing.T) {
	ctx := context.Background()
	keys, _ := NewKeys(&memKeys{}, []byte(strings.Repeat("s", 32)))
	keys.Ensure(ctx)
	for _, alg := range SupportedAlgs {
		t.Run(alg, func(t *testing.T) {
			tok, err := signJWT(keys, alg, map[string]any{"sub": "x"})
			if err != nil {
				t.Fatal(err)
			}
			s := &fositeSigner{keys: keys}
			decoded, err := s.Decode(ctx, tok)
			if err != nil || decoded.Claims["sub"] != "x" {
				t.Fatalf("decode: %v", err)
			}
			if _, err := s.Decode(ctx, tok[:len(tok)-4]+"AAAA"); err == nil {
				t.Fatal("a tampered token decoded")
			}
		})
	}
	if _, err := (&fositeSigner{keys: keys}).Decode(ctx, "not.a.token"); err == nil {
		t.Fatal("garbage decoded")
	}
}
