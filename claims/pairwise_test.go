package claims_test

import (
	"strings"
	"testing"

	"github.com/kycvs/kycvs/claims"
	"github.com/kycvs/kycvs/store"
)

func TestPairwiseSubject(t *testing.T) {
	key := []byte(strings.Repeat("k", 32))
	p := claims.NewPairwise(key)
	base := p.Subject("rp.example", "b1")

	if again := claims.NewPairwise(key).Subject("rp.example", "b1"); again != base {
		t.Errorf("same inputs: %q then %q", base, again)
	}
	if len(base) != 43 || strings.ContainsAny(base, "+/=") {
		t.Errorf("subject %q is not unpadded base64url of 32 bytes", base)
	}
	differ := []struct {
		name string
		sub  string
	}{
		{"different sector", p.Subject("other.example", "b1")},
		{"different beneficiary", p.Subject("rp.example", "b2")},
		{"different key", claims.NewPairwise([]byte(strings.Repeat("K", 32))).Subject("rp.example", "b1")},
		{"boundary moved", p.Subject("rp.exampleb", "1")},
		{"inputs swapped", p.Subject("b1", "rp.example")},
	}
	for _, tt := range differ {
		t.Run(tt.name, func(t *testing.T) {
			if tt.sub == base {
				t.Errorf("subject %q equals the base subject", tt.sub)
			}
		})
	}
	if strings.Contains(base, "b1") {
		t.Errorf("subject %q shows the beneficiary ID", base)
	}
}

func TestNewPairwiseEmptyKeyPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("NewPairwise(nil) did not panic")
		}
	}()
	claims.NewPairwise(nil)
}

func TestSector(t *testing.T) {
	tests := []struct {
		name    string
		client  store.Client
		want    string
		wantErr bool
	}{
		{"one redirect URI", store.Client{RedirectURIs: []string{"https://rp.example/cb"}}, "rp.example", false},
		{"same host, several paths and ports", store.Client{RedirectURIs: []string{"https://RP.example/cb", "https://rp.example:8443/other"}}, "rp.example", false},
		{"localhost dev client", store.Client{RedirectURIs: []string{"http://localhost:3000/cb", "http://localhost:8080/cb"}}, "localhost", false},
		{"sector identifier wins", store.Client{SectorIdentifier: "https://Sector.example/uris.json", RedirectURIs: []string{"https://a.example/cb", "https://b.example/cb"}}, "sector.example", false},
		{"sector identifier with one redirect", store.Client{SectorIdentifier: "https://sector.example/x", RedirectURIs: []string{"https://a.example/cb"}}, "sector.example", false},
		{"several hosts, no sector identifier", store.Client{RedirectURIs: []string{"https://a.example/cb", "https://b.example/cb"}}, "", true},
		{"no redirect URI", store.Client{}, "", true},
		{"redirect URI without host", store.Client{RedirectURIs: []string{"com.example.app:/cb"}}, "", true},
		{"unparsable redirect URI", store.Client{RedirectURIs: []string{"https://%zz/"}}, "", true},
		{"sector identifier without host", store.Client{SectorIdentifier: "not a url", RedirectURIs: []string{"https://a.example/cb"}}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.client
			c.ID = "client-1"
			got, err := claims.Sector(&c)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("Sector = %q, %v; want %q, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
	if _, err := claims.Sector(nil); err == nil {
		t.Error("Sector(nil) did not fail")
	}
}
