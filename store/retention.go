package store

import (
	"context"
	"time"
)

// PersonalAuditTargets are the audit entries' target types whose entries
// hold personal data (a beneficiary's record, a person's own withdrawals):
// DeletePersonalData removes them with the disclosures. Entries about
// clients, keys and admins are the service's own record and stay.
var PersonalAuditTargets = []string{"beneficiary", "person"}

// RetentionResult counts rows removed by DeletePersonalData.
type RetentionResult struct {
	Disclosures, AuditEntries int64
}

// DeletePersonalData deletes the disclosures recorded before before and
// the audit entries about PersonalAuditTargets made before it (DESIGN.md
// "Retention"). The clean-up job calls it with now minus --retention;
// deletions are idempotent, so several processes may run it at once.
func (s *Store) DeletePersonalData(ctx context.Context, before time.Time) (RetentionResult, error) {
	before = before.UTC()
	var res RetentionResult
	db := s.conn(ctx)
	r := db.Where("created_at < ?", before).Delete(&Disclosure{})
	if r.Error != nil {
		return res, translate(r.Error)
	}
	res.Disclosures = r.RowsAffected
	r = db.Where("at < ? AND target_type IN ?", before, PersonalAuditTargets).Delete(&AuditEntry{})
	if r.Error != nil {
		return res, translate(r.Error)
	}
	res.AuditEntries = r.RowsAffected
	return res, nil
}
