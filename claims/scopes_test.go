package claims_test

import (
	"reflect"
	"slices"
	"testing"

	"github.com/kycvs/kycvs/claims"
	"github.com/kycvs/kycvs/store"
)

func TestClaimsForScopes(t *testing.T) {
	tests := []struct {
		name   string
		scopes []string
		want   []string
	}{
		{"none", nil, []string{}},
		{"openid only", []string{"openid"}, []string{}},
		{"status", []string{"openid", "vaccination_status"}, []string{"vaccination_status"}},
		{"all, canonical order", []string{"phone", "openid", "profile", "vaccination_status", "offline_access"},
			[]string{"vaccination_status", "name", "phone_number", "phone_number_verified"}},
		{"duplicates", []string{"phone", "phone", "vaccination_status", "vaccination_status"},
			[]string{"vaccination_status", "phone_number", "phone_number_verified"}},
		{"yes or no before the rest", []string{"profile", "fully_vaccinated"}, []string{"fully_vaccinated", "name"}},
		{"unknown scopes ignored", []string{"email", "address", "profile"}, []string{"name"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := claims.ClaimsForScopes(tt.scopes)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ClaimsForScopes(%q) = %q, want %q", tt.scopes, got, tt.want)
			}
		})
	}
}

func TestEveryScopeClaimDisclosed(t *testing.T) {
	for scope, cs := range claims.ScopeClaims {
		for _, c := range cs {
			if !slices.Contains(claims.Disclosed, c) {
				t.Errorf("claim %q of scope %q is not in Disclosed", c, scope)
			}
		}
	}
}

func TestValues(t *testing.T) {
	b := &store.Beneficiary{ID: "b1", Mobile: "+919876543210", Name: "Asha Verma", Doses: []store.Dose{dose(1, 2)}}
	tests := []struct {
		name  string
		b     *store.Beneficiary
		names []string
		want  map[string]any
	}{
		{"status only", b, []string{"vaccination_status"}, map[string]any{"vaccination_status": 1}},
		{"all", b, claims.ClaimsForScopes([]string{"vaccination_status", "profile", "phone"}), map[string]any{
			"vaccination_status": 1, "name": "Asha Verma", "phone_number": "+919876543210", "phone_number_verified": true,
		}},
		{"partial is not fully", b, []string{"fully_vaccinated"}, map[string]any{"fully_vaccinated": false}},
		{"a complete series is fully", &store.Beneficiary{ID: "b3", Doses: []store.Dose{dose(1, 2), dose(2, 2)}}, []string{"fully_vaccinated"}, map[string]any{"fully_vaccinated": true}},
		{"a booster is fully", &store.Beneficiary{ID: "b4", Doses: []store.Dose{dose(3, 2)}}, []string{"fully_vaccinated"}, map[string]any{"fully_vaccinated": true}},
		{"no dose is not fully", &store.Beneficiary{ID: "b5"}, []string{"fully_vaccinated"}, map[string]any{"fully_vaccinated": false}},
		{"no dose is 0, not absent", &store.Beneficiary{ID: "b2"}, []string{"vaccination_status"}, map[string]any{"vaccination_status": 0}},
		{"unknown and protocol names dropped", b, []string{"sub", "email", "name"}, map[string]any{"name": "Asha Verma"}},
		{"nothing asked", b, nil, map[string]any{}},
		{"nil beneficiary", nil, []string{"name"}, map[string]any{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := claims.Values(tt.b, tt.names)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Values = %#v, want %#v", got, tt.want)
			}
		})
	}
}
