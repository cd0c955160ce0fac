package oauth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/ory/fosite"

	"github.com/kycvs/kycvs/store"
)

// DPoP: sender-constrained tokens (RFC 9449). A client proves with every
// token request and every use of a token that it holds a private key; the
// tokens are bound to the key's thumbprint (jkt), so a stolen token is
// useless without the key.

// DPoPAlgs are the algorithms kycvs accepts on DPoP proofs, published as
// dpop_signing_alg_values_supported.
var DPoPAlgs = []string{"ES256", "PS256", "RS256"}

const (
	// dpopScheme is the Authorization scheme of DPoP-bound tokens.
	dpopScheme = "DPoP"
	// dpopProofWindow is how old a proof's iat may be; a used jti is kept
	// that long (plus the skew), so a replay is refused by every process.
	dpopProofWindow = 5 * time.Minute
	// dpopNonceLife is how long a server nonce is accepted.
	dpopNonceLife = 5 * time.Minute
	// dpopNonceStep is how often a new nonce is minted.
	dpopNonceStep = time.Minute
)

// Errors of RFC 9449 (7.1, 8, 12.2), which fosite does not know.
var (
	errInvalidDPoPProof = &fosite.RFC6749Error{ErrorField: "invalid_dpop_proof", DescriptionField: "The DPoP proof is invalid.", CodeField: http.StatusBadRequest}
	errUseDPoPNonce     = &fosite.RFC6749Error{ErrorField: "use_dpop_nonce", DescriptionField: "Authorization server requires nonce in DPoP proof.", CodeField: http.StatusBadRequest}
)

// dpopProof is a verified proof.
type dpopProof struct {
	// JKT is the SHA-256 thumbprint of the proof's key (RFC 7638).
	JKT string
}

// dpopNonces mints and checks server nonces (RFC 9449 8, 9): a time step
// and its HMAC under the server secret, so every process accepts the
// nonces of every other without shared state.
type dpopNonces struct {
	key []byte
	now func() time.Time
}

// current returns the nonce of the present time step.
func (n dpopNonces) current() string {
	step := n.now().Unix() / int64(dpopNonceStep/time.Second)
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(step))
	m := hmac.New(sha256.New, n.key)
	m.Write(b[:])
	return base64.RawURLEncoding.EncodeToString(append(b[:], m.Sum(nil)[:16]...))
}

// valid reports whether nonce is one of ours, minted no longer than
// dpopNonceLife ago.
func (n dpopNonces) valid(nonce string) bool {
	raw, err := base64.RawURLEncoding.DecodeString(nonce)
	if err != nil || len(raw) != 24 {
		return false
	}
	m := hmac.New(sha256.New, n.key)
	m.Write(raw[:8])
	if !hmac.Equal(raw[8:], m.Sum(nil)[:16]) {
		return false
	}
	minted := time.Unix(int64(binary.BigEndian.Uint64(raw[:8]))*int64(dpopNonceStep/time.Second), 0)
	age := n.now().Sub(minted)
	return age >= 0 && age < dpopNonceLife
}

// dpopHeader returns the request's one DPoP proof: "" when there is none,
// an error when there are several.
func dpopHeader(r *http.Request) (string, error) {
	v := r.Header.Values("DPoP")
	switch {
	case len(v) == 0:
		return "", nil
	case len(v) > 1:
		return "", errInvalidDPoPProof.WithHint("Send one DPoP header.")
	}
	return v[0], nil
}

// checkDPoP verifies the proof of a request (RFC 9449 4.3): typ dpop+jwt,
// a supported asymmetric algorithm, a public jwk that verifies the
// signature, htm and htu of this request, a recent iat, for a token's use
// the ath of that token, a server nonce when needNonce (or whenever the
// proof carries one), and a jti never seen before by any process. It
// returns errUseDPoPNonce (the caller sends a fresh DPoP-Nonce) or
// errInvalidDPoPProof with a hint.
func (p *Provider) checkDPoP(c *gin.Context, proof, accessToken string, needNonce bool) (*dpopProof, error) {
	t, err := parseJWT(proof, DPoPAlgs)
	if err != nil {
		return nil, errInvalidDPoPProof.WithHint("The DPoP proof is not a JWT signed with " + joinAlgs(DPoPAlgs) + ".")
	}
	if t.Typ != "dpop+jwt" {
		return nil, errInvalidDPoPProof.WithHint("The DPoP proof's typ must be dpop+jwt.")
	}
	jkt, err := t.dpopKey()
	if err != nil {
		return nil, errInvalidDPoPProof.WithHint("The DPoP proof: " + err.Error() + ".")
	}
	r := c.Request
	cl := t.Claims
	now := p.cfg.Now()
	switch {
	case cl.JTI == "" || len(cl.JTI) > 256:
		return nil, errInvalidDPoPProof.WithHint("The DPoP proof needs a jti.")
	case cl.HTM != r.Method:
		return nil, errInvalidDPoPProof.WithHint("The DPoP proof's htm is not this request's method.")
	case !sameHTU(cl.HTU, p.cfg.Issuer+r.URL.Path):
		return nil, errInvalidDPoPProof.WithHint("The DPoP proof's htu is not this endpoint's URL.")
	case cl.Iat == nil:
		return nil, errInvalidDPoPProof.WithHint("The DPoP proof needs an iat.")
	case time.Unix(*cl.Iat, 0).After(now.Add(clockSkew)) || time.Unix(*cl.Iat, 0).Before(now.Add(-dpopProofWindow)):
		return nil, errInvalidDPoPProof.WithHint("The DPoP proof's iat is not within 5 minutes of now.")
	}
	if accessToken != "" {
		sum := sha256.Sum256([]byte(accessToken))
		if !hmac.Equal([]byte(cl.ATH), []byte(base64.RawURLEncoding.EncodeToString(sum[:]))) {
			return nil, errInvalidDPoPProof.WithHint("The DPoP proof's ath is not the hash of the access token.")
		}
	}
	if cl.Nonce != "" || needNonce {
		if !p.nonces.valid(cl.Nonce) {
			return nil, errUseDPoPNonce
		}
	}
	err = p.st.UseJWTID(r.Context(), store.JTIDPoPProof, jtiKey(jkt, cl.JTI), time.Unix(*cl.Iat, 0).Add(dpopProofWindow+clockSkew))
	if errors.Is(err, store.ErrAlreadyExists) {
		return nil, errInvalidDPoPProof.WithHint("The DPoP proof was used before; make a new proof for every request.")
	}
	if err != nil {
		return nil, err
	}
	return &dpopProof{JKT: jkt}, nil
}

// sameHTU compares a proof's htu with the endpoint's URL, ignoring query
// and fragment (RFC 9449 4.3 step 9) and the case of scheme and host.
func sameHTU(htu, endpoint string) bool {
	a, err1 := url.Parse(htu)
	b, err2 := url.Parse(endpoint)
	return err1 == nil && err2 == nil && strings.EqualFold(a.Scheme, b.Scheme) &&
		strings.EqualFold(a.Host, b.Host) && a.EscapedPath() == b.EscapedPath()
}

// requiresDPoP reports whether a client's token requests must carry a
// proof.
func requiresDPoP(c *Client) bool {
	return c.DPoPBoundAccessTokens || c.Profile == ProfileFAPI2
}

// validJKT reports whether s looks like a SHA-256 JWK thumbprint.
func validJKT(s string) bool {
	b, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil && len(b) == sha256.Size
}

// dpopChallenge is the WWW-Authenticate challenge of the DPoP scheme.
func dpopChallenge(errCode string) string {
	v := `DPoP algs="` + strings.Join(DPoPAlgs, " ") + `"`
	if errCode != "" {
		v += `, error="` + errCode + `"`
	}
	return v
}
