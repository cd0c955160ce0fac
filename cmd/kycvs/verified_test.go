package main

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/kycvs/kycvs/claims"
	"github.com/kycvs/kycvs/oauth"
	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/store/storetest"
)

// verifiedClaims is the part of verified_claims a relying party reads.
type verifiedClaims struct {
	Verification struct {
		TrustFramework string `json:"trust_framework"`
		Time           string `json:"time"`
		Evidence       []struct {
			Type   string `json:"type"`
			Record struct {
				Type      string `json:"type"`
				CreatedAt string `json:"created_at"`
				Source    struct {
					Name string `json:"name"`
				} `json:"source"`
			} `json:"record"`
		} `json:"evidence"`
	} `json:"verification"`
	Claims map[string]any `json:"claims"`
}

// OpenID Connect for Identity Assurance through go-oidc and x/oauth2: a
// relying party asking for verified_claims with vaccination_status gets the
// status with the configured trust framework, the time the registry last
// confirmed the record, and the registry's electronic record dated by the
// last dose; in the ID token and in userinfo, each where it was asked for.
func TestVerifiedClaimsEndToEnd(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect, func(c *serveConfig) {
			c.TrustFramework = "in_test_framework"
			c.RegistryName = "Test Vaccination Registry"
		})
		id, secret := ts.client(oauth.ClientSpec{})

		t.Run("discovery", func(t *testing.T) {
			p, err := oidc.NewProvider(context.Background(), ts.URL)
			if err != nil {
				t.Fatal(err)
			}
			var d struct {
				Supported bool     `json:"verified_claims_supported"`
				TF        []string `json:"trust_frameworks_supported"`
				Evidence  []string `json:"evidence_supported"`
				Claims    []string `json:"claims_in_verified_claims_supported"`
			}
			if err := p.Claims(&d); err != nil {
				t.Fatal(err)
			}
			if !d.Supported || !slices.Equal(d.TF, []string{"in_test_framework"}) || !slices.Equal(d.Evidence, []string{"electronic_record"}) ||
				!slices.Equal(d.Claims, []string{"vaccination_status"}) {
				t.Fatalf("discovery: %+v", d)
			}
		})

		request := func(where string, tf any) string {
			verification := map[string]any{"trust_framework": nil}
			if tf != nil {
				verification["trust_framework"] = tf
			}
			b, _ := json.Marshal(map[string]any{where: map[string]any{"verified_claims": map[string]any{
				"verification": verification,
				"claims":       map[string]any{"vaccination_status": nil},
			}}})
			return string(b)
		}
		people := []struct {
			mobile, name string
			status       int
		}{
			{"9999900001", "Asha Verma", 2},
			{"9999900002", "Ravi Kumar", 1},
			{"9999900003", "Meera Nair", 0},
		}
		for _, p := range people {
			t.Run(p.name, func(t *testing.T) {
				// scope openid only: the status comes inside verified_claims
				// and nowhere else.
				r := ts.newRP(id, secret, oidc.ScopeOpenID)
				a := r.authorize(oauth2.SetAuthURLParam("claims", request("id_token", map[string]any{"value": "in_test_framework"})))
				v := r.finish(a, ts.newBrowser().signIn(a, p.mobile, p.name))
				if _, ok := v.Claims["vaccination_status"]; ok {
					t.Fatalf("plain vaccination_status without its scope: %v", v.Claims)
				}
				var got verifiedClaims
				raw, _ := json.Marshal(v.Claims["verified_claims"])
				if err := json.Unmarshal(raw, &got); err != nil {
					t.Fatal(err)
				}
				bs, err := ts.store().BeneficiariesByMobile(context.Background(), "+91"+p.mobile)
				if err != nil {
					t.Fatal(err)
				}
				i := slices.IndexFunc(bs, func(b store.Beneficiary) bool { return b.Name == p.name })
				if i < 0 {
					t.Fatalf("no %s in %v", p.name, bs)
				}
				b := bs[i]
				wantDose := ""
				for _, d := range b.Doses {
					if wantDose == "" || d.DoseDate > wantDose {
						wantDose = d.DoseDate
					}
				}
				ver := got.Verification
				when, err := time.Parse(time.RFC3339, ver.Time)
				if err != nil || !when.Equal(b.UpdatedAt.Truncate(time.Second)) {
					t.Fatalf("time %q, want the record's last confirmation %v", ver.Time, b.UpdatedAt)
				}
				if ver.TrustFramework != "in_test_framework" || len(ver.Evidence) != 1 || ver.Evidence[0].Type != "electronic_record" ||
					ver.Evidence[0].Record.Source.Name != "Test Vaccination Registry" || ver.Evidence[0].Record.CreatedAt != wantDose ||
					got.Claims["vaccination_status"] != float64(p.status) {
					t.Fatalf("verified_claims: %s", raw)
				}
				if _, ok := v.Userinfo["verified_claims"]; ok {
					t.Fatal("userinfo carries verified_claims asked for in the ID token only")
				}
				ds, err := ts.store().ListDisclosures(context.Background(), store.DisclosureFilter{ClientID: id, BeneficiaryID: b.ID})
				if err != nil || len(ds) == 0 || ds[len(ds)-1].VaccinationStatus == nil || *ds[len(ds)-1].VaccinationStatus != p.status {
					t.Fatalf("the disclosure record lacks the status: %+v %v", ds, err)
				}
			})
		}

		t.Run("in userinfo", func(t *testing.T) {
			r := ts.newRP(id, secret, oidc.ScopeOpenID, claims.ScopeVaccinationStatus)
			a := r.authorize(oauth2.SetAuthURLParam("claims", request("userinfo", nil)))
			v := r.finish(a, ts.newBrowser().signIn(a, "9999900001", "Asha Verma"))
			vc, ok := v.Userinfo["verified_claims"].(map[string]any)
			if !ok || vc["claims"].(map[string]any)["vaccination_status"] != float64(2) {
				t.Fatalf("userinfo: %v", v.Userinfo)
			}
			// The plain claim keeps working exactly as before beside it.
			if v.Status != 2 || v.Userinfo["vaccination_status"] != float64(2) {
				t.Fatalf("plain claim: %d %v", v.Status, v.Userinfo)
			}
		})

		t.Run("another trust framework is not met", func(t *testing.T) {
			r := ts.newRP(id, secret, oidc.ScopeOpenID, claims.ScopeVaccinationStatus)
			a := r.authorize(oauth2.SetAuthURLParam("claims", request("id_token", map[string]any{"value": "eidas"})))
			v := r.finish(a, ts.newBrowser().signIn(a, "9999900001", "Asha Verma"))
			if _, ok := v.Claims["verified_claims"]; ok || v.Status != 2 {
				t.Fatalf("claims: %v", v.Claims)
			}
		})
	})
}
