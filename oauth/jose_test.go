package oauth

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
)

// TestSignVerifyJWS: VerifyJWS accepts what SignJWS made with the same typ
// and nothing else.
func TestSignVerifyJWS(t *testing.T) {
	ctx := context.Background()
	st := &memKeys{}
	keys, err := NewKeys(st, []byte(strings.Repeat("s", 32)))
	if err != nil {
		t.Fatal(err)
	}
	if err := keys.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	claims := map[string]any{"sub": "x", "n": 2}
	rs, err := keys.SignJWS(RS256, "a+jwt", claims)
	if err != nil {
		t.Fatal(err)
	}
	es, err := keys.SignJWS(ES256, "a+jwt", claims)
	if err != nil {
		t.Fatal(err)
	}
	userinfo, err := signJWT(keys, RS256, claims)
	if err != nil {
		t.Fatal(err)
	}
	// Another server's keys: not published here.
	otherKeys, _ := NewKeys(&memKeys{}, []byte(strings.Repeat("o", 32)))
	if err := otherKeys.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	foreign, _ := otherKeys.SignJWS(RS256, "a+jwt", claims)
	parts := strings.Split(rs, ".")
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"y","n":2}`)) + "." + parts[2]
	// The ES256 header on the RS256 signature: the alg is the key's.
	esParts := strings.Split(es, ".")
	algSwap := esParts[0] + "." + parts[1] + "." + parts[2]

	tests := []struct {
		name  string
		token string
		typ   string
		ok    bool
	}{
		{"RS256", rs, "a+jwt", true},
		{"ES256", es, "a+jwt", true},
		{"another typ", rs, "b+jwt", false},
		{"signed userinfo is typ JWT", userinfo, "a+jwt", false},
		{"another server's key", foreign, "a+jwt", false},
		{"tampered payload", tampered, "a+jwt", false},
		{"header of another key", algSwap, "a+jwt", false},
		{"not a JWS", "ory_at_abc.def", "a+jwt", false},
		{"empty", "", "a+jwt", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			payload, err := keys.VerifyJWS(tc.token, tc.typ)
			if tc.ok != (err == nil) {
				t.Fatalf("VerifyJWS: %v, want ok=%v", err, tc.ok)
			}
			if tc.ok && string(payload) != `{"n":2,"sub":"x"}` {
				t.Errorf("payload %s", payload)
			}
		})
	}
	if _, err := keys.SignJWS("HS256", "a+jwt", claims); err == nil {
		t.Error("SignJWS signed with an algorithm kycvs has no key for")
	}
}
