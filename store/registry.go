package store

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
	"time"
)

// ImportResult counts what ReplaceBeneficiaries or ImportRegistry wrote.
// Doses counts the doses written (those of created and updated
// beneficiaries), not every dose in the input.
type ImportResult struct {
	Created   int
	Updated   int
	Unchanged int
	Deleted   int
	Doses     int
}

// contentHashLen is the length of ContentHash's digest: 128 bits make an
// accidental match between a changed and an unchanged beneficiary
// impossible in practice while keeping the column small.
const contentHashLen = 16

// ContentHash returns the digest of everything an import writes for b:
// mobile, name, year of birth and its doses (in dose-number order,
// whatever their order in b). NameKey is left out because it follows from
// the name. Two beneficiaries with equal hashes need no rewrite.
func ContentHash(b *Beneficiary) []byte {
	h := sha256.New()
	var n [8]byte
	field := func(s string) {
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	num := func(v int) {
		binary.BigEndian.PutUint64(n[:], uint64(v))
		h.Write(n[:])
	}
	field(b.Mobile)
	field(b.Name)
	num(b.YearOfBirth)
	doses := b.Doses
	if !slices.IsSortedFunc(doses, byDoseNumber) {
		doses = slices.SortedFunc(slices.Values(doses), byDoseNumber)
	}
	num(len(doses))
	for _, d := range doses {
		field(d.Vaccine)
		num(d.DoseNumber)
		num(d.TotalDoses)
		field(d.DoseDate)
	}
	return h.Sum(nil)[:contentHashLen]
}

func byDoseNumber(a, b Dose) int { return cmp.Compare(a.DoseNumber, b.DoseNumber) }

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
			b.ContentHash = ContentHash(&b)
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
// The resume and userinfo call it once per sign-in: one statement reads
// the beneficiary and the doses together.
func (s *Store) GetBeneficiary(ctx context.Context, id string) (*Beneficiary, error) {
	if !wellFormedKey(id) {
		return nil, ErrNotFound
	}
	return s.oneBeneficiary(ctx, byID, id)
}

// BeneficiariesByMobile returns everyone registered under the E.164 mobile,
// with doses, in ID order; an empty slice when nobody is.
func (s *Store) BeneficiariesByMobile(ctx context.Context, mobile string) ([]Beneficiary, error) {
	if !wellFormedKey(mobile) {
		return nil, nil
	}
	return s.beneficiaries(ctx, byMobile, mobile)
}

// BeneficiaryByNameKey returns the beneficiary registered under the E.164
// mobile whose NameKey is nameKey, with doses, through the (mobile,
// name_key) index; ErrNotFound when there is none. Should two share both
// (imports refuse it), the first by ID is returned.
func (s *Store) BeneficiaryByNameKey(ctx context.Context, mobile, nameKey string) (*Beneficiary, error) {
	return s.oneBeneficiary(ctx, byNameKey, mobile, nameKey)
}

// The registry's lookups read a beneficiary and its doses in one
// statement, a LEFT JOIN (a beneficiary with no doses is still a row),
// rather than gorm's Preload, which costs a second round trip: every
// verification reads the registry at sign-in, at the resume and at
// userinfo. The conditions are shared with the test that checks their
// plans use beneficiaries_mobile_name_idx or beneficiaries_pkey, and
// doses_beneficiary_number_idx for the doses.
const (
	beneficiaryWithDoses = `SELECT b.id, b.mobile, b.name, b.name_key, b.year_of_birth, b.content_hash, b.created_at, b.updated_at,
 d.id AS dose_id, d.vaccine, d.dose_number, d.total_doses, d.dose_date
 FROM beneficiaries b LEFT JOIN doses d ON d.beneficiary_id = b.id `
	byID = `WHERE b.id = ? ORDER BY d.dose_number, d.id`
	// byNameKey picks one beneficiary in a subquery, so its LIMIT counts
	// beneficiaries, not dose rows.
	byNameKey = `WHERE b.id = (SELECT id FROM beneficiaries WHERE mobile = ? AND name_key = ? ORDER BY id LIMIT 1) ORDER BY d.dose_number, d.id`
	byMobile  = `WHERE b.mobile = ? ORDER BY b.id, d.dose_number, d.id`
)

// beneficiaryDose is one row of beneficiaryWithDoses: a beneficiary and
// one of its doses, whose columns are NULL when it has none.
type beneficiaryDose struct {
	ID          string
	Mobile      string
	Name        string
	NameKey     string
	YearOfBirth int
	ContentHash []byte
	CreatedAt   time.Time
	UpdatedAt   time.Time
	DoseID      *int64
	Vaccine     *string
	DoseNumber  *int
	TotalDoses  *int
	DoseDate    *string
}

// typicalDoses sizes the rows of one person's doses read on every
// verification; gorm would otherwise give an empty slice room for 20 rows
// of the joined columns, a tenth of a verification's allocations.
const typicalDoses = 4

// beneficiaries runs beneficiaryWithDoses with the condition where and
// gathers the rows into beneficiaries (gatherBeneficiaries).
func (s *Store) beneficiaries(ctx context.Context, where string, args ...any) ([]Beneficiary, error) {
	rows := make([]beneficiaryDose, 0, typicalDoses)
	if err := s.reader(ctx).Raw(beneficiaryWithDoses+where, args...).Find(&rows).Error; err != nil {
		return nil, translate(err)
	}
	return gatherBeneficiaries(rows), nil
}

// gatherBeneficiaries gathers the rows of beneficiaryWithDoses into
// beneficiaries, in the order the rows come. Each has a non-nil Doses,
// empty when it has none, as Preload left it.
func gatherBeneficiaries(rows []beneficiaryDose) []Beneficiary {
	bs := []Beneficiary{}
	for _, r := range rows {
		if len(bs) == 0 || bs[len(bs)-1].ID != r.ID {
			bs = append(bs, Beneficiary{
				ID: r.ID, Mobile: r.Mobile, Name: r.Name, NameKey: r.NameKey, YearOfBirth: r.YearOfBirth,
				Doses: []Dose{}, ContentHash: r.ContentHash, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
			})
		}
		if r.DoseID == nil {
			continue
		}
		b := &bs[len(bs)-1]
		b.Doses = append(b.Doses, Dose{
			ID: *r.DoseID, BeneficiaryID: r.ID, Vaccine: *r.Vaccine,
			DoseNumber: *r.DoseNumber, TotalDoses: *r.TotalDoses, DoseDate: *r.DoseDate,
		})
	}
	return bs
}

// oneBeneficiary is beneficiaries for a condition that selects at most
// one beneficiary: ErrNotFound when it selects none.
func (s *Store) oneBeneficiary(ctx context.Context, where string, args ...any) (*Beneficiary, error) {
	bs, err := s.beneficiaries(ctx, where, args...)
	if err != nil {
		return nil, err
	}
	if len(bs) == 0 {
		return nil, ErrNotFound
	}
	return &bs[0], nil
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
	if !wellFormedKey(id) {
		return ErrNotFound
	}
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
