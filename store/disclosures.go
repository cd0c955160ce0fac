package store

import (
	"context"
	"time"
)

// CreateDisclosure records one disclosure.
func (s *Store) CreateDisclosure(ctx context.Context, d *Disclosure) error {
	if d.CreatedAt.IsZero() {
		d.CreatedAt = time.Now().UTC()
	}
	return translate(s.conn(ctx).Create(d).Error)
}

// DisclosureFilter selects disclosures; zero fields match everything.
type DisclosureFilter struct {
	ClientID      string
	BeneficiaryID string
	Since, Until  time.Time
	Limit         int
}

// ListDisclosures returns matching disclosures, newest first (at most
// Limit, default 100).
func (s *Store) ListDisclosures(ctx context.Context, f DisclosureFilter) ([]Disclosure, error) {
	q := s.conn(ctx).Model(&Disclosure{})
	if f.ClientID != "" {
		q = q.Where("client_id = ?", f.ClientID)
	}
	if f.BeneficiaryID != "" {
		q = q.Where("beneficiary_id = ?", f.BeneficiaryID)
	}
	if !f.Since.IsZero() {
		q = q.Where("created_at >= ?", f.Since.UTC())
	}
	if !f.Until.IsZero() {
		q = q.Where("created_at < ?", f.Until.UTC())
	}
	if f.Limit <= 0 {
		f.Limit = 100
	}
	var ds []Disclosure
	err := q.Order("created_at DESC, id").Limit(f.Limit).Find(&ds).Error
	return ds, translate(err)
}
