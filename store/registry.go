package store

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// ImportResult counts what ReplaceBeneficiaries wrote.
type ImportResult struct {
	Created int
	Updated int
	Doses   int
}

// ReplaceBeneficiaries writes every beneficiary with its doses in one
// transaction: a new ID is created; a known ID has its fields and doses
// replaced. An ID given twice, or two doses with one number for one
// beneficiary, is ErrAlreadyExists. On any error nothing is applied. bs is
// not modified.
func (s *Store) ReplaceBeneficiaries(ctx context.Context, bs []Beneficiary) (ImportResult, error) {
	var res ImportResult
	err := s.InTx(ctx, func(ctx context.Context) error {
		tx := s.conn(ctx)
		now := time.Now().UTC()
		seen := make(map[string]bool, len(bs))
		for i := range bs {
			b := bs[i]
			// Without this check the second row would silently replace the
			// first one's doses and count as an update.
			if seen[b.ID] {
				return fmt.Errorf("%w: beneficiary %q given twice", ErrAlreadyExists, b.ID)
			}
			seen[b.ID] = true
			doses := slices.Clone(b.Doses)
			b.Doses = nil
			var existing Beneficiary
			err := tx.Clauses(forUpdate).Where("id = ?", b.ID).Take(&existing).Error
			switch translate(err) {
			case nil:
				b.CreatedAt = existing.CreatedAt
				b.UpdatedAt = now
				if err := tx.Save(&b).Error; err != nil {
					return translate(err)
				}
				if err := tx.Where("beneficiary_id = ?", b.ID).Delete(&Dose{}).Error; err != nil {
					return translate(err)
				}
				res.Updated++
			case ErrNotFound:
				b.CreatedAt, b.UpdatedAt = now, now
				if err := tx.Create(&b).Error; err != nil {
					return translate(err)
				}
				res.Created++
			default:
				return translate(err)
			}
			for j := range doses {
				doses[j].ID = 0
				doses[j].BeneficiaryID = b.ID
			}
			if len(doses) > 0 {
				if err := tx.Create(&doses).Error; err != nil {
					return translate(err)
				}
			}
			res.Doses += len(doses)
		}
		return nil
	})
	if err != nil {
		return ImportResult{}, err
	}
	return res, nil
}

// GetBeneficiary returns the beneficiary with its doses, or ErrNotFound.
func (s *Store) GetBeneficiary(ctx context.Context, id string) (*Beneficiary, error) {
	var b Beneficiary
	err := s.conn(ctx).Preload("Doses", orderDoses).Where("id = ?", id).Take(&b).Error
	if err != nil {
		return nil, translate(err)
	}
	return &b, nil
}

// BeneficiariesByMobile returns everyone registered under the E.164 mobile,
// with doses; an empty slice when nobody is.
func (s *Store) BeneficiariesByMobile(ctx context.Context, mobile string) ([]Beneficiary, error) {
	var bs []Beneficiary
	err := s.conn(ctx).Preload("Doses", orderDoses).Where("mobile = ?", mobile).Order("id").Find(&bs).Error
	return bs, translate(err)
}

// CountBeneficiaries returns the registry's size.
func (s *Store) CountBeneficiaries(ctx context.Context) (int64, error) {
	var n int64
	err := s.conn(ctx).Model(&Beneficiary{}).Count(&n).Error
	return n, translate(err)
}

// DeleteBeneficiary removes the beneficiary and their doses; ErrNotFound
// for an unknown id. Disclosures about them stay: they record the past.
func (s *Store) DeleteBeneficiary(ctx context.Context, id string) error {
	return s.InTx(ctx, func(ctx context.Context) error {
		tx := s.conn(ctx)
		if err := tx.Where("beneficiary_id = ?", id).Delete(&Dose{}).Error; err != nil {
			return translate(err)
		}
		res := tx.Where("id = ?", id).Delete(&Beneficiary{})
		if res.Error != nil {
			return translate(res.Error)
		}
		if res.RowsAffected == 0 {
			return ErrNotFound
		}
		return nil
	})
}
