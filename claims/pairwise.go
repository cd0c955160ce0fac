package claims

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/kycvs/kycvs/secrets"
	"github.com/kycvs/kycvs/store"
)

// Pairwise computes pairwise subject identifiers (OIDC Core 8.1): the same
// person gets a different, unlinkable sub at each sector, so two verifying
// entities cannot correlate people by comparing subs. It is safe for
// concurrent use.
type Pairwise struct {
	key []byte
}

// NewPairwise takes the server secret (or any key derived from it) and
// derives from it a key used for nothing but subjects (HMAC-SHA256 of a
// fixed label). The key must stay the same for the life of the deployment:
// changing it changes every sub. It panics on an empty key, a wiring error
// that would make subs guessable; cmd validates the secret (32 bytes or
// more) before calling it.
func NewPairwise(key []byte) *Pairwise {
	if len(key) == 0 {
		panic("claims: NewPairwise needs the server secret")
	}
	return &Pairwise{key: secrets.Derive(key, secrets.PairwiseSubject)}
}

// Subject returns the sub for a beneficiary at a sector (see Sector): the
// base64url (unpadded, 43 characters) HMAC-SHA256 of the sector and the
// beneficiary ID. The same inputs give the same sub forever; a different
// sector or secret gives an unrelated one. The two inputs are length
// prefixed, so no pair of other strings can collide with them by moving
// characters across the boundary.
func (p *Pairwise) Subject(sector, beneficiaryID string) string {
	m := hmac.New(sha256.New, p.key)
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(sector)))
	m.Write(n[:])
	m.Write([]byte(sector))
	binary.BigEndian.PutUint64(n[:], uint64(len(beneficiaryID)))
	m.Write(n[:])
	m.Write([]byte(beneficiaryID))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// Sector returns the sector identifier of a client for pairwise subjects
// (OIDC Core 8.1): the host of its SectorIdentifier URL when one is
// registered, otherwise the one host all its redirect URIs share. Hosts are
// lower-cased and ports ignored. It returns an error when the sector
// identifier is not a URL with a host, when there is no redirect URI with
// a host, or when redirect URIs name several hosts and no sector
// identifier is registered; register one to fix the last two.
func Sector(c *store.Client) (string, error) {
	if c == nil {
		return "", errors.New("claims: no client")
	}
	if c.SectorIdentifier != "" {
		h, err := uriHost(c.SectorIdentifier)
		if err != nil {
			return "", fmt.Errorf("claims: client %s: sector identifier: %w", c.ID, err)
		}
		return h, nil
	}
	if len(c.RedirectURIs) == 0 {
		return "", fmt.Errorf("claims: client %s has no redirect URI to take the sector from", c.ID)
	}
	var sector string
	for _, u := range c.RedirectURIs {
		h, err := uriHost(u)
		if err != nil {
			return "", fmt.Errorf("claims: client %s: redirect URI %q: %w; register a sector identifier", c.ID, u, err)
		}
		switch {
		case sector == "":
			sector = h
		case sector != h:
			return "", fmt.Errorf("claims: client %s: redirect URIs have several hosts (%s, %s); register a sector identifier (OIDC Core 8.1)", c.ID, sector, h)
		}
	}
	return sector, nil
}

func uriHost(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", errors.New("not a URL")
	}
	h := strings.ToLower(u.Hostname())
	if h == "" {
		return "", errors.New("no host")
	}
	return h, nil
}
