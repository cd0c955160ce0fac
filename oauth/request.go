package oauth

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ory/fosite"

	"github.com/kycvs/kycvs/claims"
	"github.com/kycvs/kycvs/store"
)

// disclosure describes what one authorization asks a person to share.
type disclosure struct {
	// Grants are the scopes and individually requested claims; a session
	// that already holds all of them for the client needs no new consent.
	Grants []string
	// IDToken and Userinfo are the claim names each response carries.
	IDToken  []string
	Userinfo []string
}

// All is every claim name disclosed, for the consent screen and the record.
func (d disclosure) All() []string {
	out := append([]string(nil), d.IDToken...)
	for _, n := range d.Userinfo {
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// stored is the plan as the login request keeps it; Grants and All go
// into its Scopes and Claims.
func (d disclosure) stored() *store.DisclosurePlan {
	return &store.DisclosurePlan{IDToken: store.StringList(d.IDToken), Userinfo: store.StringList(d.Userinfo)}
}

// approvedPlan is what the resume releases: the plan stored with lr when
// the authorization began, whose claims the sign-in pages showed
// (lr.Claims). ar, the stored request replayed through fosite, is the
// check: when the plan's claims are not what was shown, ar asks for a scope
// the plan lacks, or the client may no longer receive one of its claims,
// the answer is server_error and nothing is released. A request stored
// before migration 00018 has no plan: it is worked out from ar, as it was
// then.
func approvedPlan(lr *store.LoginRequest, ar fosite.AuthorizeRequester, client *Client, trustFramework string) (disclosure, error) {
	if lr.Plan == nil {
		return planDisclosure(ar, client, trustFramework)
	}
	plan := disclosure{Grants: lr.Scopes, IDToken: lr.Plan.IDToken, Userinfo: lr.Plan.Userinfo}
	if err := plan.matches(ar, client, lr.Claims); err != nil {
		return disclosure{}, fosite.ErrServerError.WithHint("The authorization request no longer matches what the person agreed to.").WithDebug(err.Error())
	}
	return plan, nil
}

// matches reports why the plan disagrees with the replayed request ar,
// the claims shown and the client's registration as it is now; nil when
// it agrees.
func (d disclosure) matches(ar fosite.AuthorizeRequester, client *Client, shown []string) error {
	all := d.All()
	if !slices.Equal(all, shown) {
		return fmt.Errorf("stored plan %v, shown %v", all, shown)
	}
	for _, s := range ar.GetRequestedScopes() {
		if !slices.Contains(d.Grants, s) {
			return fmt.Errorf("replayed request asks for scope %q, not in the stored grants %v", s, d.Grants)
		}
	}
	if allowed := allowedNow(client, all); len(allowed) != len(all) {
		return fmt.Errorf("client %s may now receive only %v of %v", client.ID, allowed, all)
	}
	return nil
}

// claimsRequest is the "claims" request parameter (OIDC Core 5.5); only the
// claim names matter here, with or without "essential".
type claimsRequest struct {
	IDToken  map[string]json.RawMessage `json:"id_token"`
	Userinfo map[string]json.RawMessage `json:"userinfo"`
}

// planDisclosure works out what the request discloses. vaccination_status
// and fully_vaccinated go into the ID token, the product's answer; profile and phone claims
// come from userinfo (OIDC Core 5.4) unless the claims parameter asks for
// them in the ID token. A claim is only ever released when the client may
// ask for the scope that carries it.
//
// verified_claims (OIDC4IDA 1.0) is released only through the claims
// parameter, only to a client that may ask for vaccination_status, and only
// when the request can be met: it asks for vaccination_status inside, and
// names no trust framework other than trustFramework.
func planDisclosure(ar fosite.AuthorizeRequester, client *Client, trustFramework string) (disclosure, error) {
	var d disclosure
	scopes := ar.GetRequestedScopes()
	d.Grants = append(d.Grants, scopes...)
	allowed := claims.ClaimsForScopes(client.GetScopes())
	for _, name := range claims.ClaimsForScopes(scopes) {
		d.Userinfo = append(d.Userinfo, name)
		if name == claims.ClaimVaccinationStatus || name == claims.ClaimFullyVaccinated {
			d.IDToken = append(d.IDToken, name)
		}
	}
	raw := ar.GetRequestForm().Get("claims")
	if raw == "" {
		return d, nil
	}
	var req claimsRequest
	if err := json.Unmarshal([]byte(raw), &req); err != nil {
		return d, fosite.ErrInvalidRequest.WithHint("The 'claims' parameter is not a valid JSON object.")
	}
	add := func(list *[]string, names map[string]json.RawMessage) {
		for _, name := range sortedKeys(names) {
			releasable := slices.Contains(allowed, name) ||
				(name == claims.ClaimVerifiedClaims && slices.Contains(allowed, claims.ClaimVaccinationStatus) &&
					verifiedClaimsWanted(names[name], trustFramework))
			if !releasable {
				continue // not an error: the OP may ignore claims it will not release
			}
			if !slices.Contains(*list, name) {
				*list = append(*list, name)
			}
			if !slices.Contains(d.Grants, name) {
				d.Grants = append(d.Grants, name)
			}
		}
	}
	add(&d.IDToken, req.IDToken)
	add(&d.Userinfo, req.Userinfo)
	return d, nil
}

// allowedNow keeps the claim names client may receive under its
// registration as it is now. Userinfo and refresh answer with it, so an
// admin who takes a scope from a client also takes its claims from the
// tokens already issued, however they were asked for (a claims request
// too).
func allowedNow(client fosite.Client, names []string) []string {
	allowed := claims.ClaimsForScopes(client.GetScopes())
	out := make([]string, 0, len(names))
	for _, n := range names {
		if slices.Contains(allowed, n) || (n == claims.ClaimVerifiedClaims && slices.Contains(allowed, claims.ClaimVaccinationStatus)) {
			out = append(out, n)
		}
	}
	return out
}

// verifiedClaimsRequest is one request for verified_claims (OIDC4IDA 1.0
// 6): the claims wanted inside, and constraints on the verification.
type verifiedClaimsRequest struct {
	Verification struct {
		TrustFramework *struct {
			Value  *string  `json:"value"`
			Values []string `json:"values"`
		} `json:"trust_framework"`
	} `json:"verification"`
	Claims map[string]json.RawMessage `json:"claims"`
}

// verifiedClaimsWanted reports whether a request for verified_claims (one
// object, or an array of alternatives, OIDC4IDA 1.0 6.5) can be met: it
// asks for vaccination_status inside, and any trust framework it demands
// is ours. A request kycvs cannot meet is left out, as the specification
// says (6.5.1), never answered with something else.
func verifiedClaimsWanted(raw json.RawMessage, trustFramework string) bool {
	var alternatives []verifiedClaimsRequest
	var one verifiedClaimsRequest
	if err := json.Unmarshal(raw, &one); err == nil {
		alternatives = []verifiedClaimsRequest{one}
	} else if err := json.Unmarshal(raw, &alternatives); err != nil {
		return false
	}
	for _, r := range alternatives {
		if _, ok := r.Claims[claims.ClaimVaccinationStatus]; !ok {
			continue
		}
		if tf := r.Verification.TrustFramework; tf != nil {
			if tf.Value != nil && *tf.Value != trustFramework {
				continue
			}
			if len(tf.Values) > 0 && !slices.Contains(tf.Values, trustFramework) {
				continue
			}
		}
		return true
	}
	return false
}

func sortedKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// prompts is the parsed prompt parameter (OIDC Core 3.1.2.1).
type prompts struct{ none, login, consent bool }

// parsePrompt refuses unknown values and "none" combined with another
// before anything else looks at the session, so the error is the same
// whether or not the person is signed in.
func parsePrompt(s string) (prompts, error) {
	var p prompts
	values := strings.Fields(s)
	for _, v := range values {
		switch v {
		case "none":
			p.none = true
		case "login", "select_account":
			// select_account: a mobile number is the account; choosing
			// another means signing in again.
			p.login = true
		case "consent":
			p.consent = true
		default:
			return p, fosite.ErrInvalidRequest.WithHintf("Unknown prompt value %q.", v)
		}
	}
	if p.none && len(values) > 1 {
		return p, fosite.ErrInvalidRequest.WithHint("prompt=none cannot be combined with other values.")
	}
	return p, nil
}

// checkPKCE applies the PKCE policy at the start of the flow, not after the
// person has signed in: public clients must send an S256 challenge
// (RFC 7636, OAuth 2.0 for Browser-Based Apps), and "plain" (also the
// default when no method is named) is refused for everyone.
func checkPKCE(client *Client, form url.Values) error {
	challenge, method := form.Get("code_challenge"), form.Get("code_challenge_method")
	switch {
	case challenge == "" && method != "":
		return fosite.ErrInvalidRequest.WithHint("code_challenge_method was sent without code_challenge.")
	case challenge == "" && client.IsPublic():
		return fosite.ErrInvalidRequest.WithHint("Public clients must use PKCE with code_challenge_method=S256.")
	case challenge == "" && client.Profile == ProfileFAPI2:
		return fosite.ErrInvalidRequest.WithHint("FAPI 2.0 clients must use PKCE with code_challenge_method=S256.")
	case challenge != "" && method != "S256":
		return fosite.ErrInvalidRequest.WithHint("Only code_challenge_method=S256 is supported.")
	}
	return nil
}

// maxAgeExpired reports whether the session's sign-in is older than the
// request's max_age allows. max_age=0 asks for a fresh sign-in.
func maxAgeExpired(form string, authTime, now time.Time) bool {
	if form == "" {
		return false
	}
	secs, err := strconv.ParseInt(form, 10, 64)
	if err != nil || secs < 0 {
		return false // fosite rejects malformed values before we get here
	}
	return now.Sub(authTime) > time.Duration(secs)*time.Second || secs == 0
}

// covers reports whether the session's grants for the client include every
// requested grant.
func covers(sess *store.Session, clientID string, want []string) bool {
	if sess == nil {
		return false
	}
	have := sess.Grants[clientID]
	for _, w := range want {
		if !have.Contains(w) {
			return false
		}
	}
	return true
}

// claimValues is claims.Values plus verified_claims, which needs the
// configured assurance.
func (p *Provider) claimValues(b *store.Beneficiary, names []string) map[string]any {
	values := claims.Values(b, names)
	if b != nil && slices.Contains(names, claims.ClaimVerifiedClaims) {
		values[claims.ClaimVerifiedClaims] = claims.VerifiedClaims(b, p.cfg.Assurance)
	}
	return values
}
