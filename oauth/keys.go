package oauth

import (
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
	"time"

	"github.com/kycvs/kycvs/store"
)

// Signing algorithms kycvs signs with. RSA 2048 keeps RS256 signatures near
// 1.7 ms; ES256 is the fast choice for clients that register it.
const (
	RS256 = "RS256"
	ES256 = "ES256"
)

// SupportedAlgs lists the signing algorithms in discovery order; RS256 first,
// the OIDC default when a client registers none.
var SupportedAlgs = []string{RS256, ES256}

// KeyStore is what Keys needs from the store.
type KeyStore interface {
	CreateSigningKey(ctx context.Context, k *store.SigningKey) error
	ListSigningKeys(ctx context.Context) ([]store.SigningKey, error)
}

// Keys holds the decrypted signing keys. They are read and decrypted once,
// then served from memory; Reload picks up keys another process rotated.
type Keys struct {
	st   KeyStore
	aead cipher.AEAD

	mu        sync.RWMutex
	published []*SigningKey          // every key not retired, newest first
	current   map[string]*SigningKey // alg -> newest key not retired
	byKID     map[string]*SigningKey
}

// SigningKey is one decrypted key.
type SigningKey struct {
	KID       string
	Alg       string
	Private   crypto.Signer
	CreatedAt time.Time
}

// NewKeys returns a key cache over st whose keys are encrypted with a key
// derived from secret. Call Load or Ensure before use.
func NewKeys(st KeyStore, secret []byte) (*Keys, error) {
	block, err := aes.NewCipher(deriveKey(secret, "signing-key-encryption"))
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Keys{st: st, aead: aead}, nil
}

// deriveKey returns a 32-byte key for one purpose, so the one server secret
// never keys two different things.
func deriveKey(secret []byte, label string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("kycvs/" + label))
	return m.Sum(nil)
}

// Ensure creates a key for every supported algorithm that has none, then
// loads them all. Several processes starting at once may each create one;
// that is harmless, the newest signs.
func (k *Keys) Ensure(ctx context.Context) error {
	if err := k.Load(ctx); err != nil {
		return err
	}
	created := false
	for _, alg := range SupportedAlgs {
		if k.Current(alg) == nil {
			if _, err := k.create(ctx, alg); err != nil {
				return err
			}
			created = true
		}
	}
	if created {
		return k.Load(ctx)
	}
	return nil
}

// Rotate creates a new key for alg, which signs from now on; older keys stay
// published so tokens they signed still verify. It returns the new key ID.
func (k *Keys) Rotate(ctx context.Context, alg string) (string, error) {
	kid, err := k.create(ctx, alg)
	if err != nil {
		return "", err
	}
	return kid, k.Load(ctx)
}

func (k *Keys) create(ctx context.Context, alg string) (string, error) {
	var priv crypto.Signer
	var err error
	switch alg {
	case RS256:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		return "", fmt.Errorf("unsupported signing algorithm %q", alg)
	}
	if err != nil {
		return "", err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return "", err
	}
	kid := newKID()
	nonce := make([]byte, k.aead.NonceSize())
	if _, err := io.ReadFull(rand.Reader, nonce); err != nil {
		return "", err
	}
	// The key ID is the additional data: a ciphertext moved to another row
	// does not decrypt.
	ct := k.aead.Seal(nonce, nonce, der, []byte(kid))
	row := &store.SigningKey{KID: kid, Alg: alg, Ciphertext: ct, CreatedAt: time.Now().UTC()}
	if err := k.st.CreateSigningKey(ctx, row); err != nil {
		return "", err
	}
	return kid, nil
}

func newKID() string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// ErrKeyDecrypt means a stored key did not decrypt: the server secret is not
// the one the keys were created with.
var ErrKeyDecrypt = errors.New("signing key does not decrypt with this server secret")

// Load reads and decrypts every key that is not retired.
func (k *Keys) Load(ctx context.Context) error {
	rows, err := k.st.ListSigningKeys(ctx)
	if err != nil {
		return err
	}
	var published []*SigningKey
	current := map[string]*SigningKey{}
	byKID := map[string]*SigningKey{}
	for _, row := range rows {
		if row.RetiredAt != nil {
			continue
		}
		key, err := k.decrypt(row)
		if err != nil {
			return err
		}
		published = append(published, key)
		byKID[key.KID] = key
	}
	sort.SliceStable(published, func(i, j int) bool { return published[i].CreatedAt.After(published[j].CreatedAt) })
	for _, key := range published {
		if current[key.Alg] == nil {
			current[key.Alg] = key
		}
	}
	k.mu.Lock()
	k.published, k.current, k.byKID = published, current, byKID
	k.mu.Unlock()
	return nil
}

func (k *Keys) decrypt(row store.SigningKey) (*SigningKey, error) {
	ns := k.aead.NonceSize()
	if len(row.Ciphertext) < ns {
		return nil, fmt.Errorf("key %s: %w", row.KID, ErrKeyDecrypt)
	}
	der, err := k.aead.Open(nil, row.Ciphertext[:ns], row.Ciphertext[ns:], []byte(row.KID))
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", row.KID, ErrKeyDecrypt)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", row.KID, err)
	}
	signer, ok := parsed.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("key %s: not a signing key", row.KID)
	}
	return &SigningKey{KID: row.KID, Alg: row.Alg, Private: signer, CreatedAt: row.CreatedAt}, nil
}

// Current returns the key that signs for alg, or nil.
func (k *Keys) Current(alg string) *SigningKey {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.current[alg]
}

// ByKID returns the published key with kid, or nil.
func (k *Keys) ByKID(kid string) *SigningKey {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.byKID[kid]
}

// Published returns every key that is not retired, newest first.
func (k *Keys) Published() []*SigningKey {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return append([]*SigningKey(nil), k.published...)
}

// Refresh reloads the keys every interval until ctx ends, so a rotation
// made by another process reaches this one. Errors are reported to onErr.
func (k *Keys) Refresh(ctx context.Context, interval time.Duration, onErr func(error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := k.Load(ctx); err != nil && ctx.Err() == nil {
				onErr(err)
			}
		}
	}
}
