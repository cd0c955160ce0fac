package kycvsapi

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"time"

	"github.com/kycvs/kycvs/secrets"
	"github.com/kycvs/kycvs/store"
)

// An API key is "kycvs_" + 16 hex digits (its public ID, stored in the
// clear) + "_" + 43 base64url characters (256 random bits). The ID lets a
// key be listed, revoked and logged without the secret part.
const (
	keyPrefix    = "kycvs_"
	keyIDHexLen  = 16
	keySecretLen = 43 // base64url, unpadded, of 32 bytes
	keyIDLen     = len(keyPrefix) + keyIDHexLen
	keyLen       = keyIDLen + 1 + keySecretLen
)

// ErrInvalidAPIKey is Authenticate's answer for a key that is malformed,
// unknown, wrong or revoked, or whose client is disabled or gone: all one
// answer, so a caller learns nothing about which.
var ErrInvalidAPIKey = errors.New("kycvsapi: invalid API key")

// APIKeys issues, lists, revokes and checks API keys. A key is 256 random
// bits made by the server, so, like a client secret, it is stored as a
// keyed SHA-256 (HMAC with a key derived from the server secret), never a
// slow KDF: a check costs a microsecond. It is safe for concurrent use.
type APIKeys struct {
	st  *store.Store
	key []byte
	now func() time.Time
}

// NewAPIKeys returns the key service over st, hashing with a key derived
// from the server secret (its own label, so it keys nothing else).
func NewAPIKeys(st *store.Store, secret []byte) *APIKeys {
	return &APIKeys{st: st, key: secrets.Derive(secret, secrets.APIKeyHash), now: time.Now}
}

// WithClock makes the service read time from now (when a key was made or
// revoked); it returns k.
func (k *APIKeys) WithClock(now func() time.Time) *APIKeys {
	k.now = now
	return k
}

// Create issues a key for the client and returns it, to be shown once, with
// its stored record. It returns store.ErrNotFound for an unknown client.
// The CLI (kycvs clients api-keys create) calls it.
func (k *APIKeys) Create(ctx context.Context, clientID string) (string, *store.APIKey, error) {
	var id [keyIDHexLen / 2]byte
	var secret [32]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", nil, err
	}
	if _, err := rand.Read(secret[:]); err != nil {
		return "", nil, err
	}
	rec := &store.APIKey{ID: keyPrefix + hex.EncodeToString(id[:]), ClientID: clientID, CreatedAt: k.now().UTC()}
	full := rec.ID + "_" + base64.RawURLEncoding.EncodeToString(secret[:])
	rec.Hash = k.hash(full)
	if err := k.st.CreateAPIKey(ctx, rec); err != nil {
		return "", nil, err
	}
	return full, rec, nil
}

// List returns the keys of clientID (every client's when ""), revoked ones
// included, without their secrets.
func (k *APIKeys) List(ctx context.Context, clientID string) ([]store.APIKey, error) {
	return k.st.ListAPIKeys(ctx, clientID)
}

// Revoke stops the key with id (its public part, e.g. kycvs_0123456789abcdef;
// the whole key is accepted too) at once: it authenticates no more calls,
// and the status tokens of transactions it started stop working. It returns
// store.ErrNotFound for an unknown key and store.ErrConflict for one already
// revoked.
func (k *APIKeys) Revoke(ctx context.Context, id string) error {
	return k.st.RevokeAPIKey(ctx, PublicID(id), k.now())
}

// PublicID returns the public part of a whole key (kycvs_0123456789abcdef
// of kycvs_0123456789abcdef_<secret>), and anything else as it is, so a
// key may be named by either.
func PublicID(id string) string {
	if len(id) == keyLen && id[keyIDLen] == '_' {
		return id[:keyIDLen]
	}
	return id
}

// Authenticate checks a presented key and returns its record and its
// client. ErrInvalidAPIKey covers every bad key (see there); store errors,
// such as store.ErrUnavailable, come back as they are.
func (k *APIKeys) Authenticate(ctx context.Context, presented string) (*store.APIKey, *store.Client, error) {
	if !wellFormed(presented) {
		return nil, nil, ErrInvalidAPIKey
	}
	want := k.hash(presented)
	rec, err := k.st.GetAPIKey(ctx, presented[:keyIDLen])
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, nil, ErrInvalidAPIKey
	case err != nil:
		return nil, nil, err
	}
	if !hmac.Equal(rec.Hash, want) || rec.RevokedAt != nil {
		return nil, nil, ErrInvalidAPIKey
	}
	client, err := k.st.GetClient(ctx, rec.ClientID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, nil, ErrInvalidAPIKey
	case err != nil:
		return nil, nil, err
	case client.Disabled:
		return nil, nil, ErrInvalidAPIKey
	}
	return rec, client, nil
}

func (k *APIKeys) hash(full string) []byte {
	m := hmac.New(sha256.New, k.key)
	m.Write([]byte(full))
	return m.Sum(nil)
}

// wellFormed checks the shape of a key before any database read.
func wellFormed(s string) bool {
	if len(s) != keyLen || s[:len(keyPrefix)] != keyPrefix || s[keyIDLen] != '_' {
		return false
	}
	for _, c := range s[len(keyPrefix):keyIDLen] {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	b, err := base64.RawURLEncoding.DecodeString(s[keyIDLen+1:])
	return err == nil && len(b) == 32
}
