package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kycvs/kycvs/internal/kycvstest"
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

func (m *memKeys) UpdateSigningKeys(_ context.Context, alg string, update func([]store.SigningKey) (*store.SigningKey, error)) error {
	var ks []store.SigningKey
	var idx []int
	for i, r := range m.rows {
		if r.Alg == alg {
			ks = append(ks, r)
			idx = append(idx, i)
		}
	}
	added, err := update(ks)
	if err != nil {
		return err
	}
	for j, i := range idx {
		m.rows[i] = ks[j]
	}
	if added != nil {
		m.rows = append([]store.SigningKey{*added}, m.rows...)
	}
	return nil
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

func kidsOf(keys []*SigningKey) []string {
	var out []string
	for _, k := range keys {
		out = append(out, k.KID)
	}
	return out
}

// The lifecycle: a scheduled rotation publishes first and signs later; the
// old key signs until then and stays published for the grace period; a
// retired key verifies until it leaves the JWKS; a withdrawn key leaves at
// once; the last key of an algorithm cannot be retired.
func TestKeyLifecycle(t *testing.T) {
	ctx := context.Background()
	clock := kycvstest.NewClock(time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC))
	st := &memKeys{}
	keys, _ := NewKeys(st, []byte(strings.Repeat("s", 32)))
	keys.WithClock(clock.Now)
	if err := keys.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	old := keys.Current(RS256).KID
	var kid string
	var activates time.Time
	token, err := signJWT(keys, RS256, map[string]any{"sub": "x"})
	if err != nil {
		t.Fatal(err)
	}
	state := func(kid string) string {
		rows, _ := st.ListSigningKeys(ctx)
		for _, s := range KeyStates(rows, clock.Now()) {
			if s.KID == kid {
				return s.State
			}
		}
		return "missing"
	}

	// Retiring a scheduled key cancels the rotation: the old key signs on.
	cancelled, _, err := keys.RotateAfter(ctx, RS256, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := keys.Retire(ctx, cancelled, false); err != nil {
		t.Fatal(err)
	}
	if state(cancelled) != "retired" || state(old) != "signing" {
		t.Fatalf("after cancelling: %s %s", state(cancelled), state(old))
	}
	clock.Advance(time.Hour)
	if keys.Current(RS256) == nil || keys.Current(RS256).KID != old {
		t.Fatal("the old key stopped signing after a cancelled rotation")
	}
	clock.Advance(-time.Hour)
	kid, activates, err = keys.RotateAfter(ctx, RS256, DefaultActivationDelay)
	if err != nil {
		t.Fatal(err)
	}
	if !activates.Equal(clock.Now().Add(DefaultActivationDelay)) {
		t.Fatalf("activates %v", activates)
	}
	if keys.Current(RS256).KID != old || !slices.Contains(kidsOf(keys.Published()), kid) {
		t.Fatalf("before activation: signer %s, published %v", keys.Current(RS256).KID, kidsOf(keys.Published()))
	}
	if state(kid) != "scheduled" || state(old) != "signing" {
		t.Fatalf("states %s %s", state(kid), state(old))
	}

	clock.Advance(DefaultActivationDelay)
	if keys.Current(RS256).KID != kid || state(old) != "retiring" || state(kid) != "signing" {
		t.Fatalf("after activation: signer %s, old %s", keys.Current(RS256).KID, state(old))
	}
	if (&fositeSigner{keys: keys}).Validate(ctx, token); keys.ByKID(old) == nil {
		t.Fatal("the old key no longer verifies during its grace period")
	}
	clock.Advance(DefaultRetireGrace - time.Second)
	if keys.ByKID(old) == nil {
		t.Fatal("the old key left before the grace period ended")
	}
	clock.Advance(time.Second)
	if keys.ByKID(old) != nil || slices.Contains(kidsOf(keys.Published()), old) || state(old) != "retired" {
		t.Fatal("the old key is still published after the grace period")
	}
	if _, err := (&fositeSigner{keys: keys}).Decode(ctx, token); err == nil {
		t.Fatal("a token of a key that left the JWKS still verifies")
	}
	// A reload after the grace period does not bring it back.
	if err := keys.Load(ctx); err != nil || keys.ByKID(old) != nil {
		t.Fatalf("reload: %v", err)
	}

	if err := keys.Retire(ctx, kid, false); !errors.Is(err, ErrLastKey) {
		t.Fatalf("retire the last key: %v", err)
	}
	if err := keys.Retire(ctx, "nope", false); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("retire unknown: %v", err)
	}
	if err := keys.Retire(ctx, old, false); !errors.Is(err, ErrKeyRetired) {
		t.Fatalf("retire twice: %v", err)
	}

	// An immediate rotation, then a withdrawal: the key leaves at once.
	next, err := keys.Rotate(ctx, RS256)
	if err != nil || keys.Current(RS256).KID != next {
		t.Fatalf("immediate rotation: %v", err)
	}
	if state(kid) != "retiring" {
		t.Fatalf("previous key %s", state(kid))
	}
	if err := keys.Retire(ctx, kid, true); err != nil {
		t.Fatal(err)
	}
	if keys.ByKID(kid) != nil || state(kid) != "retired" {
		t.Fatal("a withdrawn key is still published")
	}
	if err := keys.Retire(ctx, kid, true); !errors.Is(err, ErrKeyRetired) {
		t.Fatalf("withdraw twice: %v", err)
	}
	if keys.Current(ES256) == nil {
		t.Fatal("rotating RS256 touched ES256")
	}
}

func TestRetireGraceFor(t *testing.T) {
	for _, tc := range []struct{ ttl, want time.Duration }{
		{15 * time.Minute, DefaultRetireGrace},
		{time.Minute, DefaultRetireGrace}, // never shorter than the defaults need
		{time.Hour, time.Hour + 2*time.Minute},
	} {
		if got := RetireGraceFor(tc.ttl); got != tc.want {
			t.Errorf("RetireGraceFor(%v) = %v, want %v", tc.ttl, got, tc.want)
		}
	}
}
