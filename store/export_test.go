package store

import (
	"gorm.io/gorm"
)

// LookupSQL returns the SQL of the registry lookups sign-in and userinfo
// make, as the store sends them (gorm in dry-run mode), for the EXPLAIN
// test: by mobile and name key, by mobile, by ID, and a beneficiary's
// doses (what Preload sends).
func (s *Store) LookupSQL(mobile, nameKey, id string) map[string]string {
	var b Beneficiary
	var bs []Beneficiary
	var ds []Dose
	return map[string]string{
		"by mobile and name key": s.db.ToSQL(func(tx *gorm.DB) *gorm.DB { return byNameKey(tx, mobile, nameKey).Take(&b) }),
		"by mobile":              s.db.ToSQL(func(tx *gorm.DB) *gorm.DB { return byMobile(tx, mobile).Find(&bs) }),
		"by id":                  s.db.ToSQL(func(tx *gorm.DB) *gorm.DB { return tx.Where("id = ?", id).Take(&b) }),
		"doses":                  s.db.ToSQL(func(tx *gorm.DB) *gorm.DB { return orderDoses(tx.Where("beneficiary_id IN ?", []string{id})).Find(&ds) }),
	}
}
