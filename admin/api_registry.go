package admin

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kycvs/kycvs/claims"
	"github.com/kycvs/kycvs/store"
)

// BeneficiaryJSON is a beneficiary as the admin API shows it.
type BeneficiaryJSON struct {
	ID                string     `json:"beneficiary_id"`
	Mobile            string     `json:"mobile"`
	Name              string     `json:"name"`
	YearOfBirth       int        `json:"year_of_birth"`
	Doses             []DoseJSON `json:"doses"`
	VaccinationStatus int        `json:"vaccination_status"`
	CreatedAt         time.Time  `json:"created_at"`
	UpdatedAt         time.Time  `json:"updated_at"`
}

// DoseJSON is one dose.
type DoseJSON struct {
	Vaccine    string `json:"vaccine"`
	DoseNumber int    `json:"dose_number"`
	TotalDoses int    `json:"total_doses"`
	DoseDate   string `json:"dose_date"`
}

// ToBeneficiaryJSON renders b.
func ToBeneficiaryJSON(b *store.Beneficiary) BeneficiaryJSON {
	out := BeneficiaryJSON{ID: b.ID, Mobile: b.Mobile, Name: b.Name, YearOfBirth: b.YearOfBirth, Doses: []DoseJSON{},
		VaccinationStatus: int(claims.StatusFromDoses(b.Doses)), CreatedAt: b.CreatedAt, UpdatedAt: b.UpdatedAt}
	for _, d := range b.Doses {
		out.Doses = append(out.Doses, DoseJSON{Vaccine: d.Vaccine, DoseNumber: d.DoseNumber, TotalDoses: d.TotalDoses, DoseDate: d.DoseDate})
	}
	return out
}

type beneficiaryInput struct {
	ID          string     `json:"beneficiary_id"`
	Mobile      string     `json:"mobile"`
	Name        string     `json:"name"`
	YearOfBirth int        `json:"year_of_birth"`
	Doses       []DoseJSON `json:"doses"`
}

func (in beneficiaryInput) input() BeneficiaryInput {
	out := BeneficiaryInput{ID: strings.TrimSpace(in.ID), Mobile: in.Mobile, Name: in.Name, YearOfBirth: in.YearOfBirth}
	for _, d := range in.Doses {
		out.Doses = append(out.Doses, store.Dose{Vaccine: strings.TrimSpace(d.Vaccine), DoseNumber: d.DoseNumber, TotalDoses: d.TotalDoses, DoseDate: strings.TrimSpace(d.DoseDate)})
	}
	return out
}

func (a *API) handleSearchBeneficiaries(c *gin.Context, actor Actor) {
	raw := c.Query("mobile")
	mobile, err := claims.NormalizeMobile(raw)
	if err != nil {
		writeError(c, http.StatusBadRequest, CodeInvalidRequest, "The query parameters are not valid.", "mobile: a 10-digit Indian mobile number, or + and the country code")
		return
	}
	ctx := c.Request.Context()
	bs, err := a.svc.Store().BeneficiariesByMobile(ctx, mobile)
	if err != nil {
		a.storeError(c, err)
		return
	}
	if err := a.svc.Audit(ctx, actor, "beneficiary.search", "mobile", claims.MaskMobile(mobile), map[string]any{"found": len(bs)}); err != nil {
		a.storeError(c, err)
		return
	}
	items := make([]BeneficiaryJSON, len(bs))
	for i := range bs {
		items[i] = ToBeneficiaryJSON(&bs[i])
	}
	c.JSON(http.StatusOK, gin.H{"items": items})
}

func (a *API) handleGetBeneficiary(c *gin.Context, actor Actor) {
	id, ok := validID(c, "id")
	if !ok {
		return
	}
	ctx := c.Request.Context()
	b, err := a.svc.Store().GetBeneficiary(ctx, id)
	if err != nil {
		a.fail(c, err, "beneficiary")
		return
	}
	if err := a.svc.Audit(ctx, actor, "beneficiary.read", "beneficiary", id, nil); err != nil {
		a.storeError(c, err)
		return
	}
	c.JSON(http.StatusOK, ToBeneficiaryJSON(b))
}

func (a *API) handleCreateBeneficiary(c *gin.Context, actor Actor) {
	var in beneficiaryInput
	if !decodeJSON(c, &in, false) {
		return
	}
	b, err := a.svc.PutBeneficiary(c.Request.Context(), actor, in.input(), true)
	if err != nil {
		a.fail(c, err, "beneficiary")
		return
	}
	c.JSON(http.StatusCreated, ToBeneficiaryJSON(b))
}

func (a *API) handleUpdateBeneficiary(c *gin.Context, actor Actor) {
	id, ok := validID(c, "id")
	if !ok {
		return
	}
	var in beneficiaryInput
	if !decodeJSON(c, &in, false) {
		return
	}
	if in.ID != "" && in.ID != id {
		writeError(c, http.StatusUnprocessableEntity, CodeValidation, "The beneficiary is not valid.", "beneficiary_id: cannot change")
		return
	}
	in.ID = id
	b, err := a.svc.PutBeneficiary(c.Request.Context(), actor, in.input(), false)
	if err != nil {
		a.fail(c, err, "beneficiary")
		return
	}
	c.JSON(http.StatusOK, ToBeneficiaryJSON(b))
}

func (a *API) handleDeleteBeneficiary(c *gin.Context, actor Actor) {
	id, ok := validID(c, "id")
	if !ok {
		return
	}
	if err := a.svc.DeleteBeneficiary(c.Request.Context(), actor, id); err != nil {
		a.fail(c, err, "beneficiary")
		return
	}
	c.Status(http.StatusNoContent)
}

// handleEndSessions signs the person out of every browser session and
// tells the clients they signed in to (back-channel logout).
func (a *API) handleEndSessions(c *gin.Context, actor Actor) {
	id, ok := validID(c, "id")
	if !ok {
		return
	}
	ended, err := a.svc.EndSessions(c.Request.Context(), actor, id)
	if err != nil {
		a.fail(c, err, "beneficiary")
		return
	}
	c.JSON(http.StatusOK, ended)
}

func (a *API) handleImport(c *gin.Context, actor Actor) {
	if mt, _, _ := mime.ParseMediaType(c.GetHeader("Content-Type")); mt != "text/csv" {
		writeError(c, http.StatusUnsupportedMediaType, CodeUnsupportedMedia, "Send the registry CSV as text/csv.")
		return
	}
	if c.Request.ContentLength > MaxImportBytes {
		writeError(c, http.StatusRequestEntityTooLarge, CodeBodyTooLarge, "The CSV is larger than 64 MiB; split it.")
		return
	}
	opts, problems := importOptions(c)
	if len(problems) > 0 {
		writeError(c, http.StatusBadRequest, CodeValidation, "The import options are not valid.", problems...)
		return
	}
	body := http.MaxBytesReader(c.Writer, c.Request.Body, MaxImportBytes)
	res, err := a.svc.ImportRegistry(c.Request.Context(), actor, body, opts)
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		writeError(c, http.StatusRequestEntityTooLarge, CodeBodyTooLarge, "The CSV is larger than 64 MiB; split it.")
		return
	}
	if err != nil {
		a.fail(c, err, "registry CSV")
		return
	}
	c.JSON(http.StatusOK, gin.H{"created": res.Created, "updated": res.Updated, "unchanged": res.Unchanged,
		"deleted": res.Deleted, "doses": res.Doses})
}

func (a *API) handleChanges(c *gin.Context, actor Actor) {
	if mt, _, _ := mime.ParseMediaType(c.GetHeader("Content-Type")); mt != "application/x-ndjson" {
		writeError(c, http.StatusUnsupportedMediaType, CodeUnsupportedMedia, "Send the changes as application/x-ndjson, one JSON object per line.")
		return
	}
	if c.Request.ContentLength > MaxImportBytes {
		writeError(c, http.StatusRequestEntityTooLarge, CodeBodyTooLarge, "The batch is larger than 64 MiB; split it.")
		return
	}
	body := http.MaxBytesReader(c.Writer, c.Request.Body, MaxImportBytes)
	res, err := a.svc.ApplyChanges(c.Request.Context(), actor, body)
	var tooLarge *http.MaxBytesError
	var bad *ChangesError
	switch {
	case errors.As(err, &tooLarge):
		writeError(c, http.StatusRequestEntityTooLarge, CodeBodyTooLarge, "The batch is larger than 64 MiB; split it.")
	case errors.As(err, &bad):
		details := make([]string, len(bad.Errors))
		for i, le := range bad.Errors {
			details[i] = fmt.Sprintf("line %d: %s", le.Line, le.Msg)
		}
		writeError(c, http.StatusUnprocessableEntity, CodeInvalidChanges, fmt.Sprintf("The batch has %d bad line(s); nothing was applied.", bad.Total), details...)
	case err != nil:
		a.fail(c, err, "batch")
	default:
		c.JSON(http.StatusOK, gin.H{"created": res.Created, "updated": res.Updated, "unchanged": res.Unchanged,
			"deleted": res.Deleted, "doses": res.Doses})
	}
}

func (a *API) handleImports(c *gin.Context, _ Actor) {
	c.JSON(http.StatusOK, gin.H{"items": a.svc.Imports()})
}

// importOptions reads an import's query parameters: delete_missing,
// max_delete_fraction (default DefaultMaxDeleteFraction) and force.
func importOptions(c *gin.Context) (claims.ImportOptions, []string) {
	opts := claims.ImportOptions{MaxDeleteFraction: DefaultMaxDeleteFraction}
	var problems []string
	for _, name := range []string{"delete_missing", "force"} {
		v, ok := c.GetQuery(name)
		if !ok {
			continue
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			problems = append(problems, name+": want true or false")
			continue
		}
		if name == "force" {
			opts.Force = b
		} else {
			opts.DeleteMissing = b
		}
	}
	if v, ok := c.GetQuery("max_delete_fraction"); ok {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || !(f >= 0 && f <= 1) {
			problems = append(problems, "max_delete_fraction: want a number from 0 to 1")
		} else {
			opts.MaxDeleteFraction = f
		}
	}
	return opts, problems
}
