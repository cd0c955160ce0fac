package claims_test

import (
	"testing"

	"github.com/kycvs/kycvs/claims"
	"github.com/kycvs/kycvs/store"
)

func dose(n, total int) store.Dose {
	return store.Dose{Vaccine: "Covishield", DoseNumber: n, TotalDoses: total, DoseDate: "2021-06-01"}
}

func TestStatusFromDoses(t *testing.T) {
	tests := []struct {
		name  string
		doses []store.Dose
		want  claims.Status
	}{
		{"no dose", nil, claims.NotVaccinated},
		{"empty slice", []store.Dose{}, claims.NotVaccinated},
		{"1 of 2", []store.Dose{dose(1, 2)}, claims.Partially},
		{"2 of 2", []store.Dose{dose(1, 2), dose(2, 2)}, claims.Fully},
		{"one-dose vaccine 1 of 1", []store.Dose{dose(1, 1)}, claims.Fully},
		{"booster 3 of 2", []store.Dose{dose(1, 2), dose(2, 2), dose(3, 2)}, claims.Fully},
		{"booster written 2 of 1", []store.Dose{dose(1, 1), dose(2, 1)}, claims.Fully},
		{"unordered, complete", []store.Dose{dose(2, 2), dose(1, 2)}, claims.Fully},
		{"unordered with booster first", []store.Dose{dose(3, 2), dose(1, 2), dose(2, 2)}, claims.Fully},
		{"2 of 3", []store.Dose{dose(2, 3), dose(1, 3)}, claims.Partially},
		{"total taken from the highest dose", []store.Dose{dose(1, 1), dose(2, 3)}, claims.Partially},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := claims.StatusFromDoses(tt.doses); got != tt.want {
				t.Errorf("StatusFromDoses = %d (%v), want %d (%v)", got, got, tt.want, tt.want)
			}
		})
	}
}

func TestStatusString(t *testing.T) {
	tests := []struct {
		s    claims.Status
		want string
	}{
		{claims.NotVaccinated, "not vaccinated"},
		{claims.Partially, "partially vaccinated"},
		{claims.Fully, "fully vaccinated"},
		{claims.Status(7), "Status(7)"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.s.String(); got != tt.want {
				t.Errorf("String = %q, want %q", got, tt.want)
			}
		})
	}
}
