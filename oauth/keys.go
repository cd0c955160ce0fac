package oauth

import (
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
	"time"

	"github.com/kycvs/kycvs/secrets"
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
	UpdateSigningKeys(ctx context.Context, alg string, update func(keys []store.SigningKey) (*store.SigningKey, error)) error
}

// Key lifecycle. Publishing a key in the JWKS and signing with it are
// separate, and every state follows from a key's times, so every process
// agrees without coordination:
//
//		created ──> published ──(activates_at)──> signing ──(retired_at)──> retiring ──(publish_until)──> gone
//		            (scheduled)                                            (published, no longer signs)
//
//	  - A scheduled rotation (RotateAfter with DefaultActivationDelay)
//	    publishes the new key at once and lets it sign only after relying
//	    parties' cached JWKS (max-age 5 minutes) and every server process
//	    (reload every 30 seconds) have seen it; the old key signs until then.
//	  - A key that stops signing stays published until retired_at +
//	    RetireGrace: the longest life of anything it signed (ID tokens and the
//	    KYC-VS API's tokens and results, 15 minutes) plus the time other
//	    processes may still sign with it before they reload, plus clock skew.
//	    So every token a retired key signed verifies until it expires.
//	  - Withdrawing (Retire with withdraw) ends publication at once, for a
//	    key that leaked: tokens it signed stop verifying.
//
// Per algorithm, the newest key inside its signing window signs; when none
// is (the old key was retired early), the scheduled key that activates
// first signs already: it is published, so nothing breaks. A key can be
// retired only while another key of its algorithm is not retired.
const (
	// JWKSMaxAge is how long relying parties may cache the JWKS.
	JWKSMaxAge = 5 * time.Minute
	// KeyRefreshInterval is how often each server process reloads keys.
	KeyRefreshInterval = 30 * time.Second
	// MaxSignedTokenTTL is the longest life of anything kycvs signs with
	// the default lifetimes: ID tokens (oauth) and the KYC-VS API's tokens
	// and signed results. With a longer --id-token-ttl, the grace follows
	// (RetireGraceFor).
	MaxSignedTokenTTL = 15 * time.Minute
	// DefaultActivationDelay is how long a scheduled rotation publishes
	// the new key before it signs.
	DefaultActivationDelay = JWKSMaxAge + KeyRefreshInterval + 30*time.Second
	// DefaultRetireGrace is how long a key stays published after it stops
	// signing.
	DefaultRetireGrace = MaxSignedTokenTTL + 2*KeyRefreshInterval + time.Minute
)

// RetireGraceFor is how long a key stays published after it stops signing
// when the longest-lived thing it signs lives longestTTL: that, plus twice
// the reload interval (other processes may sign with it until they reload)
// and a minute of clock skew. Every process and command that retires keys
// must use the same value: it is stored with the key (publish_until).
func RetireGraceFor(longestTTL time.Duration) time.Duration {
	return max(longestTTL, MaxSignedTokenTTL) + 2*KeyRefreshInterval + time.Minute
}

// Errors of Retire.
var (
	// ErrLastKey: retiring the key would leave its algorithm without one.
	ErrLastKey = errors.New("the only key of its algorithm that is not retired: rotate first")
	// ErrKeyRetired: the key is already retired (or, to withdraw, already
	// unpublished).
	ErrKeyRetired = errors.New("the key is already retired")
)

// Keys holds the decrypted signing keys. They are read and decrypted once,
// then served from memory; Reload picks up keys another process rotated.
type Keys struct {
	st    KeyStore
	aead  cipher.AEAD
	now   func() time.Time
	grace time.Duration

	mu   sync.RWMutex
	keys []*SigningKey // every key published now or later, newest first
}

// SigningKey is one decrypted key and its lifecycle times.
type SigningKey struct {
	KID       string
	Alg       string
	Private   crypto.Signer
	CreatedAt time.Time
	// ActivatesAt starts its signing window (CreatedAt when it was
	// created to sign at once).
	ActivatesAt time.Time
	// RetiredAt ends its signing window; zero while not retired.
	RetiredAt time.Time
	// PublishUntil ends its publication; zero while not retired.
	PublishUntil time.Time
}

// NewKeys returns a key cache over st whose keys are encrypted with a key
// derived from secret. Call Load or Ensure before use.
func NewKeys(st KeyStore, secret []byte) (*Keys, error) {
	block, err := aes.NewCipher(secrets.Derive(secret, secrets.SigningKeyEncryption))
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Keys{st: st, aead: aead, now: time.Now, grace: DefaultRetireGrace}, nil
}

// WithClock makes k read time from now, for tests; it returns k.
func (k *Keys) WithClock(now func() time.Time) *Keys {
	k.now = now
	return k
}

// WithRetireGrace sets how long a key stays published after it stops
// signing (default DefaultRetireGrace); it returns k.
func (k *Keys) WithRetireGrace(d time.Duration) *Keys {
	k.grace = d
	return k
}

// RetireGrace is how long a key stays published after it stops signing.
func (k *Keys) RetireGrace() time.Duration { return k.grace }

// Ensure creates a key for every supported algorithm that has none that
// signs, then loads them all. Several processes starting at once may each
// create one; that is harmless, the newest signs.
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

// Rotate creates a new key for alg that signs from now on; the keys of alg
// that signed before are retired now and stay published for RetireGrace,
// so tokens they signed still verify. It returns the new key ID. Prefer
// RotateAfter with DefaultActivationDelay for a routine rotation.
func (k *Keys) Rotate(ctx context.Context, alg string) (string, error) {
	kid, _, err := k.RotateAfter(ctx, alg, 0)
	return kid, err
}

// RotateAfter creates a new key for alg, published at once, that signs
// from delay on (at once when no key of alg signs); the keys of alg
// signing until then stop at that moment and stay published for
// RetireGrace after it. It returns the new key ID and when it signs. An
// unsupported alg is an error.
func (k *Keys) RotateAfter(ctx context.Context, alg string, delay time.Duration) (string, time.Time, error) {
	if !isSupportedAlg(alg) {
		return "", time.Time{}, fmt.Errorf("unsupported signing algorithm %q", alg)
	}
	row, err := k.newRow(alg)
	if err != nil {
		return "", time.Time{}, err
	}
	now := k.now().UTC()
	activates := now.Add(max(delay, 0))
	if delay > 0 {
		row.ActivatesAt = &activates
	}
	row.CreatedAt = now
	err = k.st.UpdateSigningKeys(ctx, alg, func(keys []store.SigningKey) (*store.SigningKey, error) {
		signing := false
		for _, r := range keys {
			signing = signing || r.RetiredAt == nil || r.RetiredAt.After(now)
		}
		if !signing {
			// Nothing signs for alg: there is nothing to wait for.
			activates, row.ActivatesAt = now, nil
		}
		for i := range keys {
			r := &keys[i]
			if r.RetiredAt == nil || r.RetiredAt.After(activates) {
				until := activates.Add(k.grace)
				r.RetiredAt, r.PublishUntil = &activates, &until
			}
		}
		return row, nil
	})
	if err != nil {
		return "", time.Time{}, err
	}
	return row.KID, activates, k.Load(ctx)
}

// Retire stops the key kid from signing now and keeps it published for
// RetireGrace; with withdraw, it also leaves the JWKS now (a key that
// leaked). Retiring a scheduled key that has not signed yet cancels its
// rotation: it leaves the JWKS and the keys it was to replace sign on. It
// returns store.ErrNotFound for an unknown key, ErrLastKey when no other
// key of its algorithm would remain unretired (rotate first), and
// ErrKeyRetired when there is nothing left to do.
func (k *Keys) Retire(ctx context.Context, kid string, withdraw bool) error {
	rows, err := k.st.ListSigningKeys(ctx)
	if err != nil {
		return err
	}
	alg := ""
	for _, r := range rows {
		if r.KID == kid {
			alg = r.Alg
		}
	}
	if alg == "" {
		return store.ErrNotFound
	}
	now := k.now().UTC()
	err = k.st.UpdateSigningKeys(ctx, alg, func(keys []store.SigningKey) (*store.SigningKey, error) {
		var target *store.SigningKey
		for i := range keys {
			if keys[i].KID == kid {
				target = &keys[i]
			}
		}
		if target == nil {
			return nil, store.ErrNotFound
		}
		retired := target.RetiredAt != nil && !target.RetiredAt.After(now)
		gone := !publishEnd(target).IsZero() && !publishEnd(target).After(now)
		if retired && (!withdraw || gone) {
			return nil, ErrKeyRetired
		}
		// A scheduled key that never signed: retiring it cancels its
		// rotation, so the keys it was to replace sign on.
		scheduled := !retired && target.ActivatesAt != nil && now.Before(*target.ActivatesAt)
		others := 0
		for i := range keys {
			r := &keys[i]
			if r.KID == kid {
				continue
			}
			if scheduled && r.RetiredAt != nil && r.RetiredAt.Equal(*target.ActivatesAt) {
				r.RetiredAt, r.PublishUntil = nil, nil
			}
			if r.RetiredAt == nil {
				others++
			}
		}
		if !retired && others == 0 {
			return nil, ErrLastKey
		}
		switch {
		case scheduled:
			target.RetiredAt, target.PublishUntil = &now, &now
		case !retired:
			until := now.Add(k.grace)
			target.RetiredAt, target.PublishUntil = &now, &until
		}
		if withdraw {
			target.PublishUntil = &now
		}
		return nil, nil
	})
	if err != nil {
		return err
	}
	return k.Load(ctx)
}

// publishEnd is when a stored key leaves the JWKS; zero while not retired.
// A key retired before publish_until existed left at retired_at.
func publishEnd(r *store.SigningKey) time.Time {
	switch {
	case r.PublishUntil != nil:
		return *r.PublishUntil
	case r.RetiredAt != nil:
		return *r.RetiredAt
	}
	return time.Time{}
}

// KeyState is a stored key's place in its lifecycle at one instant.
type KeyState struct {
	store.SigningKey
	// State is "scheduled" (published, signs later), "signing",
	// "published" (not retired, another key of its algorithm signs),
	// "retiring" (no longer signs, still published) or "retired".
	State     string
	Published bool
}

// KeyStates describes every stored key at now, in rows' order, by the
// rules Keys signs and publishes with.
func KeyStates(rows []store.SigningKey, now time.Time) []KeyState {
	times := make([]*SigningKey, len(rows))
	for i, r := range rows {
		times[i] = keyTimes(r)
	}
	signing := map[string]*SigningKey{}
	for _, alg := range SupportedAlgs {
		signing[alg] = pickSigner(times, alg, now)
	}
	out := make([]KeyState, len(rows))
	for i, r := range rows {
		t := times[i]
		st := KeyState{SigningKey: r, Published: t.publishedAt(now)}
		switch {
		case signing[r.Alg] == t:
			st.State = "signing"
		case !st.Published:
			st.State = "retired"
		case !t.RetiredAt.IsZero() && !now.Before(t.RetiredAt):
			st.State = "retiring"
		case now.Before(t.ActivatesAt):
			st.State = "scheduled"
		default:
			st.State = "published"
		}
		out[i] = st
	}
	return out
}

// keyTimes is a stored key's lifecycle without its private key.
func keyTimes(r store.SigningKey) *SigningKey {
	k := &SigningKey{KID: r.KID, Alg: r.Alg, CreatedAt: r.CreatedAt, ActivatesAt: r.CreatedAt, PublishUntil: publishEnd(&r)}
	if r.ActivatesAt != nil {
		k.ActivatesAt = *r.ActivatesAt
	}
	if r.RetiredAt != nil {
		k.RetiredAt = *r.RetiredAt
	}
	return k
}

// publishedAt reports whether the key is in the JWKS at now.
func (s *SigningKey) publishedAt(now time.Time) bool {
	return s.PublishUntil.IsZero() || now.Before(s.PublishUntil)
}

// unretiredAt reports whether the key has not stopped signing at now.
func (s *SigningKey) unretiredAt(now time.Time) bool {
	return s.RetiredAt.IsZero() || now.Before(s.RetiredAt)
}

// pickSigner returns the key of alg that signs at now: the newest inside
// its signing window, or else the unretired key that activates first;
// nil when there is none. keys are newest first.
func pickSigner(keys []*SigningKey, alg string, now time.Time) *SigningKey {
	var pending *SigningKey
	for _, key := range keys {
		if key.Alg != alg || !key.unretiredAt(now) || !key.publishedAt(now) {
			continue
		}
		if !now.Before(key.ActivatesAt) {
			return key
		}
		if pending == nil || key.ActivatesAt.Before(pending.ActivatesAt) {
			pending = key
		}
	}
	return pending
}

func (k *Keys) create(ctx context.Context, alg string) (string, error) {
	row, err := k.newRow(alg)
	if err != nil {
		return "", err
	}
	row.CreatedAt = k.now().UTC()
	if err := k.st.CreateSigningKey(ctx, row); err != nil {
		return "", err
	}
	return row.KID, nil
}

// newRow makes a key for alg, sealed for storage.
func (k *Keys) newRow(alg string) (*store.SigningKey, error) {
	var priv crypto.Signer
	var err error
	switch alg {
	case RS256:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		return nil, fmt.Errorf("unsupported signing algorithm %q", alg)
	}
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	kid := newKID()
	nonce := make([]byte, k.aead.NonceSize())
	if _, err := io.ReadFull(rand.Reader, nonce); err != nil {
		return nil, err
	}
	// The key ID is the additional data: a ciphertext moved to another row
	// does not decrypt.
	ct := k.aead.Seal(nonce, nonce, der, []byte(kid))
	return &store.SigningKey{KID: kid, Alg: alg, Ciphertext: ct}, nil
}

// newKID returns 96 random bits, base64url, never starting with "-" (a
// key ID is typed on command lines, where it would read as a flag).
func newKID() string {
	b := make([]byte, 12)
	for {
		if _, err := rand.Read(b); err != nil {
			panic(err) // crypto/rand never fails on supported platforms
		}
		if kid := base64.RawURLEncoding.EncodeToString(b); kid[0] != '-' {
			return kid
		}
	}
}

// ErrKeyDecrypt means a stored key did not decrypt: the server secret is not
// the one the keys were created with.
var ErrKeyDecrypt = errors.New("signing key does not decrypt with this server secret")

// Load reads and decrypts every key that is published now or will be
// (keys that left the JWKS are skipped: they neither sign nor verify).
func (k *Keys) Load(ctx context.Context) error {
	rows, err := k.st.ListSigningKeys(ctx)
	if err != nil {
		return err
	}
	now := k.now()
	var keys []*SigningKey
	for _, row := range rows {
		t := keyTimes(row)
		if !t.publishedAt(now) {
			continue
		}
		key, err := k.decrypt(row)
		if err != nil {
			return err
		}
		key.ActivatesAt, key.RetiredAt, key.PublishUntil = t.ActivatesAt, t.RetiredAt, t.PublishUntil
		keys = append(keys, key)
	}
	sort.SliceStable(keys, func(i, j int) bool { return keys[i].CreatedAt.After(keys[j].CreatedAt) })
	k.mu.Lock()
	k.keys = keys
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

// Current returns the key that signs for alg now, or nil.
func (k *Keys) Current(alg string) *SigningKey {
	now := k.now()
	k.mu.RLock()
	defer k.mu.RUnlock()
	return pickSigner(k.keys, alg, now)
}

// ByKID returns the key with kid when it is published now, or nil: a
// token signed by a key that left the JWKS no longer verifies.
func (k *Keys) ByKID(kid string) *SigningKey {
	now := k.now()
	k.mu.RLock()
	defer k.mu.RUnlock()
	for _, key := range k.keys {
		if key.KID == kid && key.publishedAt(now) {
			return key
		}
	}
	return nil
}

// Published returns every key in the JWKS now, newest first.
func (k *Keys) Published() []*SigningKey {
	now := k.now()
	k.mu.RLock()
	defer k.mu.RUnlock()
	var out []*SigningKey
	for _, key := range k.keys {
		if key.publishedAt(now) {
			out = append(out, key)
		}
	}
	return out
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
