package store_test

import (
	"fmt"
	"testing"

	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/store/storetest"
)

func dose(n, total int, date string) store.Dose {
	return store.Dose{Vaccine: "COVISHIELD", DoseNumber: n, TotalDoses: total, DoseDate: date}
}

func person(id, mobile, name string, doses ...store.Dose) store.Beneficiary {
	return store.Beneficiary{ID: id, Mobile: mobile, Name: name, NameKey: name, YearOfBirth: 1980, Doses: doses}
}

// doseNumbers renders a beneficiary's doses as "1/2@date,2/2@date".
func doseNumbers(b store.Beneficiary) string {
	s := ""
	for i, d := range b.Doses {
		if i > 0 {
			s += ","
		}
		if d.BeneficiaryID != b.ID || d.ID == 0 {
			s += "!"
		}
		s += fmt.Sprintf("%d/%d@%s", d.DoseNumber, d.TotalDoses, d.DoseDate)
	}
	return s
}

func TestReplaceBeneficiaries(t *testing.T) {
	const mobile = "+919876543210"
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		ctx := testCtx(t)
		res, err := s.ReplaceBeneficiaries(ctx, []store.Beneficiary{
			person("b1", mobile, "Asha", dose(2, 2, "2021-08-01"), dose(1, 2, "2021-05-01")),
			person("b2", mobile, "Ravi", dose(1, 2, "2021-06-01")),
			person("b3", mobile, "Meera"),
			person("b4", "+919000000001", "Kiran", dose(1, 1, "2021-07-01")),
		})
		must(t, err)
		if want := (store.ImportResult{Created: 4, Doses: 4}); res != want {
			t.Errorf("first import = %+v, want %+v", res, want)
		}
		first, err := s.GetBeneficiary(ctx, "b1")
		must(t, err)

		res, err = s.ReplaceBeneficiaries(ctx, []store.Beneficiary{
			// b1 renamed, doses replaced by one booster series.
			person("b1", mobile, "Asha K", dose(1, 3, "2021-05-02"), dose(2, 3, "2021-08-02"), dose(3, 3, "2022-01-10")),
			// b2 loses its dose.
			person("b2", mobile, "Ravi"),
			person("b5", mobile, "Dev", dose(1, 2, "2021-09-09")),
		})
		must(t, err)
		if want := (store.ImportResult{Created: 1, Updated: 2, Doses: 4}); res != want {
			t.Errorf("second import = %+v, want %+v", res, want)
		}

		tests := []struct {
			id, name, doses string
		}{
			{"b1", "Asha K", "1/3@2021-05-02,2/3@2021-08-02,3/3@2022-01-10"},
			{"b2", "Ravi", ""},
			{"b3", "Meera", ""},
			{"b4", "Kiran", "1/1@2021-07-01"},
			{"b5", "Dev", "1/2@2021-09-09"},
		}
		for _, tc := range tests {
			t.Run("get "+tc.id, func(t *testing.T) {
				b, err := s.GetBeneficiary(ctx, tc.id)
				must(t, err)
				if b.Name != tc.name || doseNumbers(*b) != tc.doses {
					t.Errorf("GetBeneficiary(%s) = %q %q, want %q %q", tc.id, b.Name, doseNumbers(*b), tc.name, tc.doses)
				}
			})
		}
		b1, err := s.GetBeneficiary(ctx, "b1")
		must(t, err)
		sameTime(t, "b1 CreatedAt after update", b1.CreatedAt, first.CreatedAt)
		if b1.UpdatedAt.Before(first.UpdatedAt) {
			t.Errorf("b1 UpdatedAt went back: %v < %v", b1.UpdatedAt, first.UpdatedAt)
		}
		if n, err := s.CountBeneficiaries(ctx); err != nil || n != 5 {
			t.Errorf("CountBeneficiaries = %d, %v, want 5", n, err)
		}
		_, err = s.GetBeneficiary(ctx, "nope")
		wantErr(t, "GetBeneficiary(unknown)", err, store.ErrNotFound)

		t.Run("by mobile", func(t *testing.T) {
			bs, err := s.BeneficiariesByMobile(ctx, mobile)
			must(t, err)
			got := ""
			for _, b := range bs {
				got += b.ID + "[" + doseNumbers(b) + "] "
			}
			want := "b1[1/3@2021-05-02,2/3@2021-08-02,3/3@2022-01-10] b2[] b3[] b5[1/2@2021-09-09] "
			if got != want {
				t.Errorf("BeneficiariesByMobile = %s, want %s", got, want)
			}
			bs, err = s.BeneficiariesByMobile(ctx, "+919999999999")
			if err != nil || len(bs) != 0 {
				t.Errorf("BeneficiariesByMobile(unknown) = %v, %v, want none", bs, err)
			}
		})

		// A failure anywhere in a batch applies none of it: not the new
		// beneficiary before it, not the dose replacement of an existing one.
		failures := []struct {
			name  string
			batch []store.Beneficiary
			want  error
		}{
			{"duplicate dose of a new beneficiary", []store.Beneficiary{
				person("b6", mobile, "New", dose(1, 2, "2021-01-01")),
				person("b1", mobile, "Asha X", dose(1, 1, "2020-01-01")),
				person("b7", mobile, "Dup", dose(1, 2, "2021-01-01"), dose(1, 2, "2021-02-01")),
			}, store.ErrAlreadyExists},
			{"duplicate dose of an existing beneficiary", []store.Beneficiary{
				person("b6", mobile, "New", dose(1, 2, "2021-01-01")),
				person("b1", mobile, "Asha X", dose(2, 2, "2020-01-01"), dose(2, 2, "2020-02-01")),
			}, store.ErrAlreadyExists},
			{"same beneficiary twice", []store.Beneficiary{
				person("b6", mobile, "New", dose(1, 2, "2021-01-01")),
				person("b2", mobile, "Ravi", dose(1, 2, "2021-01-01")),
				person("b2", mobile, "Ravi", dose(1, 2, "2021-01-01")),
			}, store.ErrAlreadyExists},
		}
		for _, tc := range failures {
			t.Run(tc.name, func(t *testing.T) {
				res, err := s.ReplaceBeneficiaries(ctx, tc.batch)
				wantErr(t, "ReplaceBeneficiaries", err, tc.want)
				if res != (store.ImportResult{}) {
					t.Errorf("failed import reported %+v", res)
				}
				if n, err := s.CountBeneficiaries(ctx); err != nil || n != 5 {
					t.Errorf("CountBeneficiaries = %d, %v, want 5", n, err)
				}
				for _, tc := range tests {
					b, err := s.GetBeneficiary(ctx, tc.id)
					must(t, err)
					if b.Name != tc.name || doseNumbers(*b) != tc.doses {
						t.Errorf("after failed import %s = %q %q, want %q %q", tc.id, b.Name, doseNumbers(*b), tc.name, tc.doses)
					}
				}
			})
		}
	})
}

// TestRegistryLookups: each lookup reads the beneficiaries with their
// doses (in dose-number order, whatever the import's order; none for a
// beneficiary without) in one statement, and a lookup that finds nobody
// is ErrNotFound, or no one by mobile.
func TestRegistryLookups(t *testing.T) {
	const mobile = "+919876543210"
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		ctx := testCtx(t)
		_, err := s.ReplaceBeneficiaries(ctx, []store.Beneficiary{
			person("b2", mobile, "Asha", dose(3, 3, "2022-01-10"), dose(1, 3, "2021-05-01"), dose(2, 3, "2021-08-01")),
			person("b3", mobile, "Meera"),
			// b1 shares b2's mobile and name key (imports refuse this): the
			// first by ID is the one found, with its own doses only.
			person("b1", mobile, "Asha", dose(1, 1, "2021-06-01")),
			person("b4", "+919000000001", "Kiran", dose(1, 2, "2021-07-01")),
		})
		must(t, err)
		one := func(b *store.Beneficiary, err error) ([]store.Beneficiary, error) {
			if b == nil {
				return nil, err
			}
			return []store.Beneficiary{*b}, err
		}
		tests := []struct {
			name   string
			lookup func() ([]store.Beneficiary, error)
			want   string
			err    error
		}{
			{"by id, several doses", func() ([]store.Beneficiary, error) { return one(s.GetBeneficiary(ctx, "b2")) },
				"b2 Asha [1/3@2021-05-01,2/3@2021-08-01,3/3@2022-01-10] ", nil},
			{"by id, no doses", func() ([]store.Beneficiary, error) { return one(s.GetBeneficiary(ctx, "b3")) },
				"b3 Meera [] ", nil},
			{"by id, unknown", func() ([]store.Beneficiary, error) { return one(s.GetBeneficiary(ctx, "b9")) },
				"", store.ErrNotFound},
			{"by name key, first by id", func() ([]store.Beneficiary, error) { return one(s.BeneficiaryByNameKey(ctx, mobile, "Asha")) },
				"b1 Asha [1/1@2021-06-01] ", nil},
			{"by name key, no doses", func() ([]store.Beneficiary, error) { return one(s.BeneficiaryByNameKey(ctx, mobile, "Meera")) },
				"b3 Meera [] ", nil},
			{"by name key, unknown name", func() ([]store.Beneficiary, error) { return one(s.BeneficiaryByNameKey(ctx, mobile, "Kiran")) },
				"", store.ErrNotFound},
			{"by name key, unknown mobile", func() ([]store.Beneficiary, error) { return one(s.BeneficiaryByNameKey(ctx, "+919999999999", "Asha")) },
				"", store.ErrNotFound},
			{"by mobile", func() ([]store.Beneficiary, error) { return s.BeneficiariesByMobile(ctx, mobile) },
				"b1 Asha [1/1@2021-06-01] b2 Asha [1/3@2021-05-01,2/3@2021-08-01,3/3@2022-01-10] b3 Meera [] ", nil},
			{"by mobile, unknown", func() ([]store.Beneficiary, error) { return s.BeneficiariesByMobile(ctx, "+919999999999") },
				"", nil},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				before, _ := s.Counts()
				bs, err := tc.lookup()
				after, _ := s.Counts()
				wantErr(t, tc.name, err, tc.err)
				got := ""
				for _, b := range bs {
					got += fmt.Sprintf("%s %s [%s] ", b.ID, b.Name, doseNumbers(b))
					if b.Mobile == "" || b.YearOfBirth != 1980 || len(b.ContentHash) == 0 || b.CreatedAt.IsZero() || b.Doses == nil {
						t.Errorf("%s: %s read as %+v", tc.name, b.ID, b)
					}
				}
				if got != tc.want {
					t.Errorf("%s = %q, want %q", tc.name, got, tc.want)
				}
				if after-before != 1 {
					t.Errorf("%s sent %d statements, want 1", tc.name, after-before)
				}
			})
		}
	})
}
