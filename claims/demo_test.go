package claims_test

import (
	"testing"

	"github.com/kycvs/kycvs/claims"
)

func TestDemoRegistry(t *testing.T) {
	bs := claims.DemoRegistry()
	seen := map[claims.Status]bool{}
	perMobile := map[string]int{}
	for _, b := range bs {
		if m, err := claims.NormalizeMobile(b.Mobile); err != nil || m != b.Mobile {
			t.Errorf("%s: mobile %q is not normalised: %q, %v", b.ID, b.Mobile, m, err)
		}
		if b.NameKey != claims.NameKey(b.Name) {
			t.Errorf("%s: NameKey %q, want %q", b.ID, b.NameKey, claims.NameKey(b.Name))
		}
		for _, d := range b.Doses {
			if d.BeneficiaryID != b.ID {
				t.Errorf("%s: dose belongs to %q", b.ID, d.BeneficiaryID)
			}
		}
		seen[claims.StatusFromDoses(b.Doses)] = true
		perMobile[b.Mobile]++
	}
	for _, s := range []claims.Status{claims.NotVaccinated, claims.Partially, claims.Fully} {
		if !seen[s] {
			t.Errorf("no demo beneficiary is %v", s)
		}
	}
	if perMobile["+919999900001"] < 2 {
		t.Errorf("demo lacks several people on one mobile: %v", perMobile)
	}
	bs[0].Doses[0].Vaccine = "changed"
	if claims.DemoRegistry()[0].Doses[0].Vaccine == "changed" {
		t.Error("DemoRegistry shares its slices between calls")
	}
}
