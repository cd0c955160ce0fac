package claims

import (
	"time"

	"github.com/kycvs/kycvs/store"
)

// ClaimVerifiedClaims is the OpenID Connect for Identity Assurance 1.0
// container: vaccination_status together with how it was verified. A
// relying party asks for it through the claims parameter only.
const ClaimVerifiedClaims = "verified_claims"

// EvidenceElectronicRecord is the one evidence type kycvs offers
// (OIDC4IDA 1.0 5.4.4): the status is read from the registry's electronic
// record of the person's doses.
const EvidenceElectronicRecord = "electronic_record"

// ClaimsInVerifiedClaims are the claims kycvs can release inside
// verified_claims.
var ClaimsInVerifiedClaims = []string{ClaimVaccinationStatus}

// Assurance names what a verification rests on, for verified_claims.
type Assurance struct {
	// TrustFramework is the trust_framework value (OIDC4IDA 1.0 5.2), the
	// rules the registry is kept under, e.g. "in_cowin".
	TrustFramework string
	// RegistryName names the registry in the evidence, e.g. "Co-WIN".
	RegistryName string
}

// VerifiedClaims returns the verified_claims object for b (read with its
// doses): the status, verified under a.TrustFramework at the time the
// registry last confirmed the record (b.UpdatedAt: every import that
// carries the record writes it), on the evidence of the registry's
// electronic record, dated by the last dose when there is one.
func VerifiedClaims(b *store.Beneficiary, a Assurance) map[string]any {
	record := map[string]any{
		"type":   "vaccination_record",
		"source": map[string]any{"name": a.RegistryName},
	}
	if last := lastDose(b.Doses); last != "" {
		// OIDC4IDA 1.0 5.4.4: created_at may be a date, ISO 8601 YYYY-MM-DD.
		record["created_at"] = last
	}
	return map[string]any{
		"verification": map[string]any{
			"trust_framework": a.TrustFramework,
			"time":            b.UpdatedAt.UTC().Truncate(time.Second).Format(time.RFC3339),
			"evidence": []any{map[string]any{
				"type":   EvidenceElectronicRecord,
				"record": record,
			}},
		},
		"claims": map[string]any{
			ClaimVaccinationStatus: int(StatusFromDoses(b.Doses)),
		},
	}
}

// lastDose is the date of the dose with the highest dose number, the one
// the status rests on; "" without doses.
func lastDose(doses []store.Dose) string {
	if len(doses) == 0 {
		return ""
	}
	top := doses[0]
	for _, d := range doses[1:] {
		if d.DoseNumber > top.DoseNumber {
			top = d
		}
	}
	return top.DoseDate
}
