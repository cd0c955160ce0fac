package store_test

import (
	"testing"
	"time"

	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/store/storetest"
)

// TestDeletePersonalData: disclosures and the audit entries about people
// older than the cut-off go; newer ones, and entries about clients, stay.
func TestDeletePersonalData(t *testing.T) {
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		ctx := testCtx(t)
		cut := base.Add(-365 * 24 * time.Hour)
		for id, at := range map[string]time.Time{"old": cut.Add(-time.Second), "older": cut.Add(-48 * time.Hour), "kept": cut.Add(time.Second), "new": base} {
			must(t, s.CreateDisclosure(ctx, &store.Disclosure{ID: id, ClientID: "c", BeneficiaryID: "b", Subject: "s", Channel: "authorize", CreatedAt: at}))
		}
		for id, e := range map[string]store.AuditEntry{
			"a-old-person":      {TargetType: "beneficiary", At: cut.Add(-time.Minute)},
			"a-old-withdrawal":  {TargetType: "person", At: cut.Add(-time.Minute)},
			"a-new-person":      {TargetType: "beneficiary", At: cut.Add(time.Minute)},
			"a-old-client":      {TargetType: "client", At: cut.Add(-time.Minute)},
			"a-old-admin-users": {TargetType: "admin_user", At: cut.Add(-time.Minute)},
		} {
			e.ID, e.Action = id, e.TargetType+".test"
			must(t, s.CreateAuditEntry(ctx, &e))
		}
		res, err := s.DeletePersonalData(ctx, cut)
		must(t, err)
		if res != (store.RetentionResult{Disclosures: 2, AuditEntries: 2}) {
			t.Errorf("DeletePersonalData = %+v, want 2 disclosures and 2 audit entries", res)
		}
		ds, err := s.ListDisclosures(ctx, store.DisclosureFilter{})
		must(t, err)
		if len(ds) != 2 || ds[0].ID != "new" || ds[1].ID != "kept" {
			t.Errorf("disclosures left: %+v", ds)
		}
		entries, _, err := s.ListAuditEntries(ctx, store.AuditFilter{})
		must(t, err)
		left := map[string]bool{}
		for _, e := range entries {
			left[e.ID] = true
		}
		if len(left) != 3 || !left["a-new-person"] || !left["a-old-client"] || !left["a-old-admin-users"] {
			t.Errorf("audit entries left: %v", left)
		}
		// A second run finds nothing more.
		res, err = s.DeletePersonalData(ctx, cut)
		must(t, err)
		if res != (store.RetentionResult{}) {
			t.Errorf("second run = %+v", res)
		}
	})
}
