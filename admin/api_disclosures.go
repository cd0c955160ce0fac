package admin

import (
	"bytes"
	"context"
	"encoding/csv"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kycvs/kycvs/store"
)

// DisclosureJSON is one disclosure record.
type DisclosureJSON struct {
	ID                string                  `json:"id"`
	ClientID          string                  `json:"client_id"`
	BeneficiaryID     string                  `json:"beneficiary_id"`
	Subject           string                  `json:"subject"`
	Claims            []string                `json:"claims"`
	VaccinationStatus *int                    `json:"vaccination_status"`
	FullyVaccinated   *bool                   `json:"fully_vaccinated"`
	Channel           store.DisclosureChannel `json:"channel"`
	RequestID         string                  `json:"request_id"`
	CreatedAt         time.Time               `json:"created_at"`
}

// ToDisclosureJSON renders d.
func ToDisclosureJSON(d *store.Disclosure) DisclosureJSON {
	return DisclosureJSON{ID: d.ID, ClientID: d.ClientID, BeneficiaryID: d.BeneficiaryID, Subject: d.Subject, Claims: nonNil(d.Claims),
		VaccinationStatus: d.VaccinationStatus, FullyVaccinated: d.FullyVaccinated, Channel: d.Channel, RequestID: d.RequestID, CreatedAt: d.CreatedAt}
}

// disclosureFilter reads the filters of both disclosure routes.
func disclosureFilter(q *query) store.DisclosureFilter {
	f := store.DisclosureFilter{
		ClientID: q.str("client_id", 128), BeneficiaryID: q.str("beneficiary_id", 128),
		Since: q.time("since", false), Until: q.time("until", true),
	}
	switch v := q.c.Query("status"); v {
	case "":
	case "0", "1", "2":
		n := int(v[0] - '0')
		f.Status = &n
	case "none":
		n := -1
		f.Status = &n
	default:
		q.problems = append(q.problems, "status: 0, 1, 2 or none")
	}
	return f
}

// DisclosureQuery describes a disclosure filter for the audit log.
func DisclosureQuery(f store.DisclosureFilter) map[string]any {
	m := map[string]any{}
	if f.ClientID != "" {
		m["client_id"] = f.ClientID
	}
	if f.BeneficiaryID != "" {
		m["beneficiary_id"] = f.BeneficiaryID
	}
	if !f.Since.IsZero() {
		m["since"] = f.Since.UTC().Format(time.RFC3339)
	}
	if !f.Until.IsZero() {
		m["until"] = f.Until.UTC().Format(time.RFC3339)
	}
	if f.Status != nil {
		m["status"] = "none"
		if *f.Status >= 0 {
			m["status"] = statusLabel(f.Status)
		}
	}
	if f.After != nil {
		// A next page: where it started.
		m["after"] = f.After.At.UTC().Format(time.RFC3339Nano)
	}
	if f.Limit > 0 {
		m["limit"] = f.Limit
	}
	return m
}

func (a *API) handleListDisclosures(c *gin.Context, actor Actor) {
	q := &query{c: c}
	f := disclosureFilter(q)
	f.Limit, f.After = q.limit(), q.cursor(a.svc)
	if !q.ok() {
		return
	}
	ctx := c.Request.Context()
	ds, more, err := a.svc.Store().PageDisclosures(ctx, f)
	if err != nil {
		a.storeError(c, err)
		return
	}
	// Every page is a read of personal data, and is audited: a next page
	// too (its entry says where it started).
	if err := a.svc.Audit(ctx, actor, "disclosure.query", "disclosures", "", DisclosureQuery(f)); err != nil {
		a.storeError(c, err)
		return
	}
	writePage(c, ds, more, ToDisclosureJSON, func(d *store.Disclosure) string { return a.svc.encodeCursor(d.CreatedAt, d.ID) })
}

// DisclosureCSVHeader is the disclosure export's header.
var DisclosureCSVHeader = []string{"id", "created_at", "client_id", "beneficiary_id", "subject", "claims", "vaccination_status", "channel", "request_id", "fully_vaccinated"}

// WriteDisclosuresCSV writes the matching disclosures as CSV to w, newest
// first, reading them in pages.
func WriteDisclosuresCSV(ctx context.Context, st *store.Store, f store.DisclosureFilter, w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(DisclosureCSVHeader); err != nil {
		return err
	}
	err := st.EachDisclosure(ctx, f, func(d *store.Disclosure) error {
		status := ""
		if d.VaccinationStatus != nil {
			status = strconv.Itoa(*d.VaccinationStatus)
		}
		fully := ""
		if d.FullyVaccinated != nil {
			fully = strconv.FormatBool(*d.FullyVaccinated)
		}
		return cw.Write([]string{d.ID, d.CreatedAt.UTC().Format(time.RFC3339), csvSafe(d.ClientID), csvSafe(d.BeneficiaryID), d.Subject,
			strings.Join(d.Claims, " "), status, string(d.Channel), d.RequestID, fully})
	})
	if err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}

// csvSafe keeps a value a spreadsheet would run as a formula from being
// one (a client or beneficiary ID is chosen by whoever registered it).
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func (a *API) handleExportDisclosures(c *gin.Context, actor Actor) {
	q := &query{c: c}
	f := disclosureFilter(q)
	if !q.ok() {
		return
	}
	ctx := c.Request.Context()
	if err := a.svc.Audit(ctx, actor, "disclosure.export", "disclosures", "", DisclosureQuery(f)); err != nil {
		a.storeError(c, err)
		return
	}
	// Written to a buffer first, so a failure half-way is an error
	// response, not a truncated file.
	var buf bytes.Buffer
	if err := WriteDisclosuresCSV(ctx, a.svc.Store(), f, &buf); err != nil {
		a.storeError(c, err)
		return
	}
	c.Header("Content-Disposition", `attachment; filename="disclosures.csv"`)
	c.Data(http.StatusOK, "text/csv; charset=utf-8", buf.Bytes())
}
