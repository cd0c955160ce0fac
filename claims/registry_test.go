package claims_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kycvs/kycvs/claims"
	"github.com/kycvs/kycvs/migrations"
	"github.com/kycvs/kycvs/store"
)

// newStore opens a fresh, migrated SQLite store for one test.
func newStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open("sqlite:" + filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	sqlDB, err := st.DB()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := migrations.Up(context.Background(), sqlDB, "sqlite"); err != nil {
		t.Fatal(err)
	}
	return st
}

func TestImport(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)

	first := header +
		"b1,9876543210,Asha Verma,1985,Covishield,1,2,2021-05-10\n" +
		"b2,9876543210,Arjun Verma,1982,,,,\n"
	res, err := claims.Import(ctx, st, strings.NewReader(first), claims.ImportOptions{})
	if err != nil {
		t.Fatalf("first import: %v", err)
	}
	if want := (store.ImportResult{Created: 2, Doses: 1}); res != want {
		t.Errorf("first import = %+v, want %+v", res, want)
	}

	t.Run("one bad row applies nothing", func(t *testing.T) {
		bad := header +
			"b1,9876543210,Asha Verma,1985,Covishield,1,2,2021-05-10\n" +
			"b1,9876543210,Asha Verma,1985,Covishield,2,2,2021-08-02\n" +
			"b3,9876543299,New Person,1999,,,,\n" +
			"b4,not-a-number,Bad Row,1999,,,,\n" // line 5
		res, err := claims.Import(ctx, st, strings.NewReader(bad), claims.ImportOptions{})
		var ie *claims.ImportError
		if !errors.As(err, &ie) || len(ie.Errors) != 1 || ie.Errors[0].Line != 5 {
			t.Fatalf("Import = %+v, %v; want an ImportError for line 5", res, err)
		}
		if res != (store.ImportResult{}) {
			t.Errorf("Import result %+v with an error", res)
		}
		if n, err := st.CountBeneficiaries(ctx); err != nil || n != 2 {
			t.Errorf("CountBeneficiaries = %d, %v; want 2", n, err)
		}
		b, err := st.GetBeneficiary(ctx, "b1")
		if err != nil || len(b.Doses) != 1 {
			t.Errorf("b1 changed by a failed import: %+v, %v", b, err)
		}
	})

	t.Run("re-import updates", func(t *testing.T) {
		second := header +
			"b1,+91 98765 43210,Asha Verma,1985,Covishield,1,2,2021-05-10\n" +
			"b1,+91 98765 43210,Asha Verma,1985,Covishield,2,2,2021-08-02\n" +
			"b2,9876543210,Arjun Verma,1982,Covishield,1,1,2021-06-01\n" +
			"b3,9876543211,Ravi Kumar,1990,,,,\n"
		res, err := claims.Import(ctx, st, strings.NewReader(second), claims.ImportOptions{})
		if err != nil {
			t.Fatalf("second import: %v", err)
		}
		if want := (store.ImportResult{Created: 1, Updated: 2, Doses: 3}); res != want {
			t.Errorf("second import = %+v, want %+v", res, want)
		}
		reg := claims.NewRegistry(st)
		for id, want := range map[string]claims.Status{"b1": claims.Fully, "b2": claims.Fully, "b3": claims.NotVaccinated} {
			b, err := reg.Beneficiary(ctx, id)
			if err != nil {
				t.Fatalf("Beneficiary(%s): %v", id, err)
			}
			if got := claims.StatusFromDoses(b.Doses); got != want {
				t.Errorf("%s status = %v, want %v", id, got, want)
			}
		}
	})
}

func TestRegistryMatch(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	if _, err := st.ReplaceBeneficiaries(ctx, claims.DemoRegistry()); err != nil {
		t.Fatal(err)
	}
	reg := claims.NewRegistry(st)
	tests := []struct {
		name, mobile, typed string
		wantID              string
		wantStatus          claims.Status
	}{
		{"exact", "+919999900001", "Asha Verma", "demo-asha", claims.Fully},
		{"second person on the mobile", "+919999900001", "Arjun Verma", "demo-arjun", claims.Fully},
		{"case and spaces", "+919999900001", "  asha   VERMA ", "demo-asha", claims.Fully},
		{"partially", "+919999900002", "Ravi Kumar", "demo-ravi", claims.Partially},
		{"no dose", "+919999900003", "meera nair", "demo-meera", claims.NotVaccinated},
		{"name on another mobile", "+919999900002", "Asha Verma", "", 0},
		{"wrong name", "+919999900001", "Asha Varma", "", 0},
		{"first name only", "+919999900001", "Asha", "", 0},
		{"blank name", "+919999900001", "   ", "", 0},
		{"unknown mobile", "+919876543210", "Asha Verma", "", 0},
		{"empty mobile", "", "Asha Verma", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := reg.Match(ctx, tt.mobile, tt.typed)
			if tt.wantID == "" {
				if !errors.Is(err, claims.ErrNoMatch) || b != nil {
					t.Errorf("Match = %+v, %v; want ErrNoMatch", b, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Match: %v", err)
			}
			if b.ID != tt.wantID {
				t.Errorf("Match = %s, want %s", b.ID, tt.wantID)
			}
			if got := claims.StatusFromDoses(b.Doses); got != tt.wantStatus {
				t.Errorf("status = %v, want %v", got, tt.wantStatus)
			}
		})
	}
}

func TestRegistryStoreErrors(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	reg := claims.NewRegistry(st)

	if _, err := reg.Beneficiary(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Beneficiary(nobody) error = %v, want store.ErrNotFound", err)
	}
	st.Close()
	if _, err := reg.Match(ctx, "+919999900001", "Asha Verma"); err == nil || errors.Is(err, claims.ErrNoMatch) {
		t.Errorf("Match on a closed store = %v, want a store error, not ErrNoMatch", err)
	}
	if _, err := claims.Import(ctx, st, strings.NewReader(header+"b1,9876543210,Asha,1985,,,,\n"), claims.ImportOptions{}); err == nil {
		t.Error("Import on a closed store succeeded")
	}
}
