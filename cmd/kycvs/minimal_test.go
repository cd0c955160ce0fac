package main

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/kycvs/kycvs/claims"
	"github.com/kycvs/kycvs/oauth"
	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/store/storetest"
)

// The fully_vaccinated scope through go-oidc and x/oauth2: the ID token and
// userinfo carry a yes or no and nothing of the status; the person is told
// exactly that; the disclosure record keeps the boolean, not the status.
func TestFullyVaccinatedEndToEnd(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect, nil)
		id, secret := ts.client(oauth.ClientSpec{Scopes: []string{claims.ScopeOpenID, claims.ScopeFullyVaccinated}})
		r := ts.newRP(id, secret, claims.ScopeOpenID, claims.ScopeFullyVaccinated)
		for _, p := range []struct {
			mobile, name string
			fully        bool
		}{
			{"9999900001", "Asha Verma", true},  // status 2
			{"9999900002", "Ravi Kumar", false}, // status 1
			{"9999900003", "Meera Nair", false}, // status 0
		} {
			t.Run(p.name, func(t *testing.T) {
				a := r.authorize()
				b := ts.newBrowser()
				login := b.Get(a.URL)
				otpPage := b.Submit(login, login.URL.Path, url.Values{"mobile": {p.mobile}, "name": {p.name}})
				if !strings.Contains(otpPage.Body, "whether you are fully vaccinated: yes or no") || strings.Contains(otpPage.Body, "not, partially or fully") {
					t.Fatalf("the OTP page does not say exactly what is shared: %s", otpPage.Body)
				}
				done := b.Submit(otpPage, login.URL.Path+"/otp", url.Values{"otp": {ts.lastOTP("+91" + p.mobile)}})
				v := r.finish(a, b.redirected(done))
				for where, got := range map[string]map[string]any{"ID token": v.Claims, "userinfo": v.Userinfo} {
					if got[claims.ClaimFullyVaccinated] != p.fully {
						t.Fatalf("%s: fully_vaccinated = %v, want %v", where, got[claims.ClaimFullyVaccinated], p.fully)
					}
					if _, ok := got[claims.ClaimVaccinationStatus]; ok {
						t.Fatalf("%s discloses the status: %v", where, got)
					}
				}
				all, err := ts.store().ListDisclosures(context.Background(), store.DisclosureFilter{ClientID: id})
				if err != nil {
					t.Fatal(err)
				}
				var ds []store.Disclosure
				for _, d := range all {
					if d.Subject == v.IDToken.Subject {
						ds = append(ds, d)
					}
				}
				if len(ds) != 2 { // the code, then userinfo
					t.Fatalf("%d disclosures", len(ds))
				}
				for _, d := range ds {
					if d.VaccinationStatus != nil || d.FullyVaccinated == nil || *d.FullyVaccinated != p.fully ||
						strings.Join(d.Claims, " ") != claims.ClaimFullyVaccinated {
						t.Fatalf("disclosure %s: status %v, fully %v, claims %v", d.Channel, d.VaccinationStatus, d.FullyVaccinated, d.Claims)
					}
				}
			})
		}
	})
}
