package store_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/store/storetest"
)

func TestDisclosures(t *testing.T) {
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		ctx := testCtx(t)
		rows := []struct{ client, beneficiary string }{
			{"c1", "b1"}, {"c2", "b1"}, {"c1", "b1"}, {"c2", "b2"}, {"c1", "b2"},
		}
		for i, r := range rows {
			status := i % 3
			d := &store.Disclosure{
				ID: fmt.Sprintf("d%d", i), ClientID: r.client, BeneficiaryID: r.beneficiary,
				Subject: "sub-" + r.beneficiary, Claims: store.StringList{"vaccination_status"},
				VaccinationStatus: &status, Channel: "authorize", RequestID: fmt.Sprintf("req%d", i),
				CreatedAt: base.Add(time.Duration(i) * time.Minute),
			}
			if i == 4 {
				d.Claims, d.VaccinationStatus, d.Channel = store.StringList{"name"}, nil, "userinfo"
			}
			must(t, s.CreateDisclosure(ctx, d))
		}
		wantErr(t, "duplicate", s.CreateDisclosure(ctx, &store.Disclosure{ID: "d0", ClientID: "c1", Channel: "authorize"}), store.ErrAlreadyExists)

		tests := []struct {
			name   string
			filter store.DisclosureFilter
			want   string
		}{
			{"all, newest first", store.DisclosureFilter{}, "d4 d3 d2 d1 d0"},
			{"client", store.DisclosureFilter{ClientID: "c1"}, "d4 d2 d0"},
			{"beneficiary", store.DisclosureFilter{BeneficiaryID: "b1"}, "d2 d1 d0"},
			{"client and beneficiary", store.DisclosureFilter{ClientID: "c1", BeneficiaryID: "b1"}, "d2 d0"},
			{"since inclusive, until exclusive", store.DisclosureFilter{Since: base.Add(time.Minute), Until: base.Add(3 * time.Minute)}, "d2 d1"},
			{"since only", store.DisclosureFilter{Since: base.Add(3 * time.Minute)}, "d4 d3"},
			{"limit", store.DisclosureFilter{Limit: 2}, "d4 d3"},
			{"unknown client", store.DisclosureFilter{ClientID: "nope"}, ""},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				if got := disclosureIDs(ctx, t, s, tc.filter); got != tc.want {
					t.Errorf("ListDisclosures(%+v) = %q, want %q", tc.filter, got, tc.want)
				}
			})
		}

		ds, err := s.ListDisclosures(ctx, store.DisclosureFilter{ClientID: "c1"})
		must(t, err)
		d4, d2 := ds[0], ds[1]
		if d4.VaccinationStatus != nil || d4.Channel != "userinfo" || !slices.Equal(d4.Claims, store.StringList{"name"}) {
			t.Errorf("d4 = %+v", d4)
		}
		if d2.VaccinationStatus == nil || *d2.VaccinationStatus != 2 || d2.Subject != "sub-b1" || d2.RequestID != "req2" {
			t.Errorf("d2 = %+v", d2)
		}
		sameTime(t, "d2 CreatedAt", d2.CreatedAt, base.Add(2*time.Minute))
	})
}

func disclosureIDs(ctx context.Context, t *testing.T, s *store.Store, f store.DisclosureFilter) string {
	t.Helper()
	ds, err := s.ListDisclosures(ctx, f)
	must(t, err)
	ids := make([]string, len(ds))
	for i, d := range ds {
		ids[i] = d.ID
	}
	return strings.Join(ids, " ")
}
