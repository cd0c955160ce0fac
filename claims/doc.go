// Package claims owns what kycvs says about a person: the vaccination status
// computed from the registry's doses (0 not vaccinated, 1 partially,
// 2 fully), the lookup of a beneficiary by mobile number and name, the
// mapping from OAuth2 scopes to OpenID Connect claims and their values,
// pairwise subject identifiers (OIDC Core 8.1), and the registry CSV import.
//
// It is the single place that defines how a name is matched (NameKey), how
// a mobile number is normalised (NormalizeMobile) and how a status is
// derived from doses (StatusFromDoses); consent, oauth and cmd call it and
// never re-implement these rules. It uses store and nothing else of kycvs.
package claims
