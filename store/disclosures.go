package store

import (
	"context"
	"time"

	"gorm.io/gorm"
)

// CreateDisclosure records one disclosure.
func (s *Store) CreateDisclosure(ctx context.Context, d *Disclosure) error {
	d.setCreated()
	return translate(s.conn(ctx).Create(d).Error)
}

// setCreated stamps a new record's CreatedAt, unless the caller did.
func (d *Disclosure) setCreated() {
	if d.CreatedAt.IsZero() {
		d.CreatedAt = time.Now().UTC()
	}
}

// DisclosureFilter selects disclosures; zero fields match everything.
type DisclosureFilter struct {
	ClientID      string
	BeneficiaryID string
	// BeneficiaryIDs, when not empty, matches disclosures about any of
	// them (the people registered on one mobile, for their own page).
	BeneficiaryIDs []string
	Since, Until   time.Time
	// Status, when set, matches the disclosed vaccination status; a
	// negative value matches disclosures without a status.
	Status *int
	// After continues a listing after that disclosure (keyset paging,
	// newest first).
	After *Cursor
	Limit int
}

func (s *Store) disclosureQuery(ctx context.Context, f DisclosureFilter) *gorm.DB {
	q := s.conn(ctx).Model(&Disclosure{})
	if !wellFormedKey(f.ClientID, f.BeneficiaryID) || !wellFormedKey(f.BeneficiaryIDs...) || (f.After != nil && !wellFormedKey(f.After.ID)) {
		return q.Where("1 = 0") // matches nothing, as no stored ID is ill-formed
	}
	if f.ClientID != "" {
		q = q.Where("client_id = ?", f.ClientID)
	}
	if f.BeneficiaryID != "" {
		q = q.Where("beneficiary_id = ?", f.BeneficiaryID)
	}
	if len(f.BeneficiaryIDs) > 0 {
		q = q.Where("beneficiary_id IN ?", f.BeneficiaryIDs)
	}
	if !f.Since.IsZero() {
		q = q.Where("created_at >= ?", f.Since.UTC())
	}
	if !f.Until.IsZero() {
		q = q.Where("created_at < ?", f.Until.UTC())
	}
	switch {
	case f.Status == nil:
	case *f.Status < 0:
		q = q.Where("vaccination_status IS NULL")
	default:
		q = q.Where("vaccination_status = ?", *f.Status)
	}
	if f.After != nil {
		at := f.After.At.UTC()
		q = q.Where("(created_at < ? OR (created_at = ? AND id > ?))", at, at, f.After.ID)
	}
	return q
}

// ListDisclosures returns matching disclosures, newest first (at most
// Limit, default 100, at most 1000).
func (s *Store) ListDisclosures(ctx context.Context, f DisclosureFilter) ([]Disclosure, error) {
	ds, _, err := s.PageDisclosures(ctx, f)
	return ds, err
}

// PageDisclosures is ListDisclosures that also reports whether more
// disclosures match after the page.
func (s *Store) PageDisclosures(ctx context.Context, f DisclosureFilter) ([]Disclosure, bool, error) {
	limit := pageLimit(f.Limit)
	var ds []Disclosure
	if err := s.disclosureQuery(ctx, f).Order("created_at DESC, id").Limit(limit + 1).Find(&ds).Error; err != nil {
		return nil, false, translate(err)
	}
	more := len(ds) > limit
	if more {
		ds = ds[:limit]
	}
	return ds, more, nil
}

// EachDisclosure calls fn for every matching disclosure, newest first,
// reading them in pages of 1000 (Limit and After of f are ignored), for
// exports that must not hold everything in memory. fn's error stops it
// and is returned.
func (s *Store) EachDisclosure(ctx context.Context, f DisclosureFilter, fn func(*Disclosure) error) error {
	f.Limit, f.After = 1000, nil
	for {
		ds, more, err := s.PageDisclosures(ctx, f)
		if err != nil {
			return err
		}
		for i := range ds {
			if err := fn(&ds[i]); err != nil {
				return err
			}
		}
		if !more || len(ds) == 0 {
			return nil
		}
		last := ds[len(ds)-1]
		f.After = &Cursor{At: last.CreatedAt, ID: last.ID}
	}
}

// VerificationCount is how many verifications one client made with one
// disclosed status (nil: no status disclosed).
type VerificationCount struct {
	ClientID string
	Status   *int
	N        int64
}

// verificationChannels are the disclosures that complete a verification:
// a sign-in's authorization and a KYC-VS API status call. Userinfo and
// refresh are re-reads of a verification already counted.
var verificationChannels = []DisclosureChannel{DisclosedAtAuthorize, DisclosedByAPI}

// CountVerifications counts verifications in [since, until) by client and
// status: distinct request IDs among the disclosures that complete one, so
// a KYC-VS transaction whose status was read twice counts once.
func (s *Store) CountVerifications(ctx context.Context, since, until time.Time) ([]VerificationCount, error) {
	var rows []VerificationCount
	err := s.conn(ctx).Model(&Disclosure{}).
		Select("client_id, vaccination_status AS status, COUNT(DISTINCT request_id) AS n").
		Where("created_at >= ? AND created_at < ? AND channel IN ?", since.UTC(), until.UTC(), verificationChannels).
		Group("client_id, vaccination_status").
		Order("client_id, vaccination_status").
		Scan(&rows).Error
	return rows, translate(err)
}

// HourlyCount is how many verifications began one hour with one disclosed
// status (nil: no status disclosed).
type HourlyCount struct {
	// Hour is the start of the hour in the time zone asked for.
	Hour   time.Time
	Status *int
	N      int64
}

// CountVerificationsByHour counts verifications in [since, until) by hour
// of the time zone loc and status, as CountVerifications does; clientID ""
// counts every client's. Hours without verifications are left out. The
// hours follow loc's offset at until: India's are half an hour off UTC's,
// and its days must be whole hours of it. (In a zone with daylight saving
// time, a window across a change puts the hours before it one off.)
func (s *Store) CountVerificationsByHour(ctx context.Context, since, until time.Time, clientID string, loc *time.Location) ([]HourlyCount, error) {
	_, offset := until.In(loc).Zone()
	// The hour as a number, computed where the rows are, so a month of
	// verifications at national scale comes back as at most 720 x 4 rows.
	hour := "(CAST(strftime('%s', created_at) AS INTEGER) + ?) / 3600"
	if s.dialect == Postgres {
		hour = "CAST(floor((extract(epoch FROM created_at) + ?) / 3600) AS BIGINT)"
	}
	q := s.conn(ctx).Model(&Disclosure{}).
		Select(hour+" AS hour, vaccination_status AS status, COUNT(DISTINCT request_id) AS n", offset).
		Where("created_at >= ? AND created_at < ? AND channel IN ?", since.UTC(), until.UTC(), verificationChannels)
	if clientID != "" {
		q = q.Where("client_id = ?", clientID)
	}
	var rows []struct {
		Hour   int64
		Status *int
		N      int64
	}
	if err := q.Group("1, 2").Order("1, 2").Scan(&rows).Error; err != nil {
		return nil, translate(err)
	}
	out := make([]HourlyCount, len(rows))
	for i, r := range rows {
		out[i] = HourlyCount{Hour: time.Unix(r.Hour*3600-int64(offset), 0).In(loc), Status: r.Status, N: r.N}
	}
	return out, nil
}
