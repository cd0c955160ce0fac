package me

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kycvs/kycvs/claims"
	"github.com/kycvs/kycvs/store"
)

// Export is the "Download my data" file: everything kycvs holds about the
// people registered on one mobile. Field names are part of what people
// and their tools may rely on.
type Export struct {
	GeneratedAt time.Time        `json:"generated_at"`
	Mobile      string           `json:"mobile"`
	People      []ExportPerson   `json:"people"`
	Disclosures []ExportDisclose `json:"disclosures"`
	Grants      []ExportGrant    `json:"grants"`
	Withdrawals []ExportWithdraw `json:"withdrawals"`
}

// ExportPerson is one registry record, as the registry holds it.
type ExportPerson struct {
	BeneficiaryID     string       `json:"beneficiary_id"`
	Name              string       `json:"name"`
	YearOfBirth       int          `json:"year_of_birth,omitempty"`
	VaccinationStatus int          `json:"vaccination_status"`
	Doses             []ExportDose `json:"doses"`
}

// ExportDose is one dose.
type ExportDose struct {
	Vaccine    string `json:"vaccine"`
	DoseNumber int    `json:"dose_number"`
	TotalDoses int    `json:"total_doses"`
	Date       string `json:"date"`
}

// ExportVerifier names a verifying entity.
type ExportVerifier struct {
	ClientID string `json:"client_id"`
	Name     string `json:"name"`
}

// ExportDisclose is one disclosure record.
type ExportDisclose struct {
	At                time.Time      `json:"at"`
	BeneficiaryID     string         `json:"beneficiary_id"`
	Verifier          ExportVerifier `json:"verifier"`
	Claims            []string       `json:"claims"`
	VaccinationStatus *int           `json:"vaccination_status,omitempty"`
	FullyVaccinated   *bool          `json:"fully_vaccinated,omitempty"`
	// Channel: "authorize" (sign-in), "userinfo", "refresh", "kycvs-api".
	Channel store.DisclosureChannel `json:"channel"`
}

// ExportGrant is one standing grant.
type ExportGrant struct {
	// Kind: "refresh_token" (offline_access) or "kycvs_api_token".
	Kind          string         `json:"kind"`
	BeneficiaryID string         `json:"beneficiary_id"`
	Verifier      ExportVerifier `json:"verifier"`
	Scopes        []string       `json:"scopes"`
	Since         time.Time      `json:"since"`
	Until         time.Time      `json:"until"`
}

// ExportWithdraw is one grant withdrawn on the page.
type ExportWithdraw struct {
	At            time.Time      `json:"at"`
	BeneficiaryID string         `json:"beneficiary_id"`
	Verifier      ExportVerifier `json:"verifier"`
	Kind          string         `json:"kind"`
}

// handleDownload answers the signed-in mobile's data as a JSON attachment
// and records the download, one audit entry per person in it.
func (p *Page) handleDownload(c *gin.Context) {
	sess, err := p.session(c)
	if errors.Is(err, store.ErrNotFound) {
		p.clearCookie(c, SessionCookie)
		back(c, "ended")
		return
	}
	if err != nil {
		p.serverError(c, err)
		return
	}
	ctx := c.Request.Context()
	out, err := p.export(ctx, sess)
	if err == nil {
		err = p.st.InTx(ctx, func(ctx context.Context) error {
			for _, b := range out.People {
				if err := p.audit(ctx, c, sess, ActionDownload, b.BeneficiaryID, nil); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err != nil {
		p.serverError(c, err)
		return
	}
	body, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		p.serverError(c, err)
		return
	}
	p.log(c).Info("me: data downloaded", "mobile_tag", p.otps.LogTag(sess.Mobile), "people", len(out.People))
	h := c.Writer.Header()
	h.Set("Content-Disposition", `attachment; filename="kycvs-my-data.json"`)
	h.Set("X-Content-Type-Options", "nosniff")
	c.Data(http.StatusOK, "application/json; charset=utf-8", body)
}

// export gathers everything about the session's mobile.
func (p *Page) export(ctx context.Context, sess *store.MeSession) (*Export, error) {
	now := p.now()
	d, err := p.load(ctx, sess.Mobile)
	if err != nil {
		return nil, err
	}
	names := &clientNames{st: p.st, names: map[string]string{}}
	verifier := func(id string) ExportVerifier { return ExportVerifier{ClientID: id, Name: names.get(ctx, id)} }
	out := &Export{GeneratedAt: now, Mobile: sess.Mobile, People: []ExportPerson{}, Disclosures: []ExportDisclose{}, Grants: []ExportGrant{}, Withdrawals: []ExportWithdraw{}}
	for _, b := range d.people {
		e := ExportPerson{BeneficiaryID: b.ID, Name: b.Name, YearOfBirth: b.YearOfBirth, VaccinationStatus: int(claims.StatusFromDoses(b.Doses)), Doses: []ExportDose{}}
		for _, x := range b.Doses {
			e.Doses = append(e.Doses, ExportDose{Vaccine: x.Vaccine, DoseNumber: x.DoseNumber, TotalDoses: x.TotalDoses, Date: x.DoseDate})
		}
		out.People = append(out.People, e)
	}
	if len(d.ids) == 0 {
		return out, nil
	}
	err = p.st.EachDisclosure(ctx, store.DisclosureFilter{BeneficiaryIDs: d.ids}, func(x *store.Disclosure) error {
		out.Disclosures = append(out.Disclosures, ExportDisclose{
			At: x.CreatedAt.UTC(), BeneficiaryID: x.BeneficiaryID, Verifier: verifier(x.ClientID), Claims: x.Claims,
			VaccinationStatus: x.VaccinationStatus, FullyVaccinated: x.FullyVaccinated, Channel: x.Channel,
		})
		return nil
	})
	if err != nil {
		return nil, err
	}
	gs, err := p.grants(ctx, d, now)
	if err != nil {
		return nil, err
	}
	for _, g := range gs {
		out.Grants = append(out.Grants, ExportGrant{Kind: g.Kind, BeneficiaryID: g.BeneficiaryID, Verifier: verifier(g.ClientID), Scopes: g.Scopes, Since: g.Since.UTC(), Until: g.Until.UTC()})
	}
	ws, err := p.withdrawals(ctx, d)
	if err != nil {
		return nil, err
	}
	for _, w := range ws {
		client, _ := w.Changes["client_id"].(string)
		kind, _ := w.Changes["grant"].(string)
		out.Withdrawals = append(out.Withdrawals, ExportWithdraw{At: w.At.UTC(), BeneficiaryID: w.TargetID, Verifier: verifier(client), Kind: kind})
	}
	return out, nil
}
