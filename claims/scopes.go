package claims

import (
	"github.com/kycvs/kycvs/store"
)

// Scopes kycvs understands (OIDC Core 5.4, plus vaccination_status).
const (
	// ScopeOpenID marks an OpenID Connect request; it carries no claim.
	ScopeOpenID = "openid"
	// ScopeVaccinationStatus asks for the vaccination_status claim.
	ScopeVaccinationStatus = "vaccination_status"
	// ScopeProfile asks for the name claim (and nothing else of OIDC's profile).
	ScopeProfile = "profile"
	// ScopePhone asks for phone_number and phone_number_verified.
	ScopePhone = "phone"
	// ScopeFullyVaccinated asks for the fully_vaccinated claim alone: a
	// yes or no for verifiers that need nothing more (minimal disclosure).
	ScopeFullyVaccinated = "fully_vaccinated"
	// ScopeOfflineAccess asks for a refresh token; the consent outlives the
	// browser session only when it is granted.
	ScopeOfflineAccess = "offline_access"
)

// Claim names kycvs discloses, in the ID token and in userinfo.
const (
	// ClaimVaccinationStatus is a JSON integer, 0, 1 or 2 (see Status).
	ClaimVaccinationStatus = "vaccination_status"
	// ClaimFullyVaccinated is a JSON boolean: true exactly when the status
	// is Fully. It tells nothing of a partial series.
	ClaimFullyVaccinated = "fully_vaccinated"
	// ClaimName is the name as the registry holds it.
	ClaimName = "name"
	// ClaimPhoneNumber is the mobile number in E.164 form.
	ClaimPhoneNumber = "phone_number"
	// ClaimPhoneNumberVerified is always true: the person proved the
	// number by entering the OTP sent to it.
	ClaimPhoneNumberVerified = "phone_number_verified"
)

// ScopeClaims maps each scope that carries claims to the claim names it asks
// for (OIDC Core 5.4). Scopes absent from the map carry no claim. Treat it
// as read-only: it is shared by every request.
var ScopeClaims = map[string][]string{
	ScopeVaccinationStatus: {ClaimVaccinationStatus},
	ScopeFullyVaccinated:   {ClaimFullyVaccinated},
	ScopeProfile:           {ClaimName},
	ScopePhone:             {ClaimPhoneNumber, ClaimPhoneNumberVerified},
}

// scopeOrder is the order claims are listed in, on the consent screen and
// in stored login requests: the status first, whatever the order of the
// scope parameter.
var scopeOrder = []string{ScopeVaccinationStatus, ScopeFullyVaccinated, ScopeProfile, ScopePhone}

// ClaimsForScopes returns the claim names the scopes ask for, each once, in
// a stable order that does not depend on the order of scopes:
// vaccination_status, fully_vaccinated, name, phone_number, phone_number_verified, then the
// claims of any other scope in ScopeClaims in the order the scopes came.
// Unknown scopes and scopes without claims (openid, offline_access) add
// nothing; no claim gives an empty, non-nil slice.
func ClaimsForScopes(scopes []string) []string {
	asked := make(map[string]bool, len(scopes))
	for _, s := range scopes {
		asked[s] = true
	}
	out := []string{}
	seen := map[string]bool{}
	add := func(scope string) {
		for _, c := range ScopeClaims[scope] {
			if !seen[c] {
				seen[c] = true
				out = append(out, c)
			}
		}
	}
	known := map[string]bool{}
	for _, s := range scopeOrder {
		known[s] = true
		if asked[s] {
			add(s)
		}
	}
	for _, s := range scopes {
		if !known[s] {
			add(s)
		}
	}
	return out
}

// Disclosed lists every claim kycvs can disclose about a person. What each
// shares is said to the person in their language by the message
// catalogues (claim.<name> in locale/messages); consent's tests check that
// every claim here has its words there.
var Disclosed = []string{
	ClaimVaccinationStatus, ClaimFullyVaccinated, ClaimVerifiedClaims,
	ClaimName, ClaimPhoneNumber, ClaimPhoneNumberVerified,
}

// Values returns the JSON values of the named claims for a beneficiary, as
// they go into the ID token and userinfo: vaccination_status an int (0, 1,
// 2, from b.Doses, so b must be read with its doses), fully_vaccinated a
// bool (from the same doses), name a string,
// phone_number the E.164 string, phone_number_verified true. Only names
// asked for and known appear; a nil beneficiary gives an empty map. The
// caller adds the protocol claims (sub, iss, ...); these never include them.
func Values(b *store.Beneficiary, names []string) map[string]any {
	out := make(map[string]any, len(names))
	if b == nil {
		return out
	}
	for _, n := range names {
		switch n {
		case ClaimVaccinationStatus:
			out[n] = int(StatusFromDoses(b.Doses))
		case ClaimFullyVaccinated:
			out[n] = StatusFromDoses(b.Doses) == Fully
		case ClaimName:
			out[n] = b.Name
		case ClaimPhoneNumber:
			out[n] = b.Mobile
		case ClaimPhoneNumberVerified:
			out[n] = true
		}
	}
	return out
}
