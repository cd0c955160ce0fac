package store_test

import (
	"testing"

	"github.com/kycvs/kycvs/migrations"
	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/store/storetest"
)

// TestMigrations applies the shipped migrations to an empty database of
// each dialect: the first run applies them all, the second none.
func TestMigrations(t *testing.T) {
	for _, dialect := range backends {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			ctx := testCtx(t)
			s, err := store.Open(storetest.URL(t, dialect))
			must(t, err)
			t.Cleanup(func() { _ = s.Close() })
			db, err := s.DB()
			must(t, err)
			d := migrations.Dialect(dialect)

			before, err := migrations.List(ctx, db, d)
			must(t, err)
			if len(before) == 0 {
				t.Fatal("no migrations shipped")
			}
			for _, m := range before {
				if m.Applied {
					t.Errorf("migration %d applied on an empty database", m.Version)
				}
			}

			n, err := migrations.Up(ctx, db, d)
			must(t, err)
			if n != len(before) {
				t.Errorf("first Up applied %d, want %d", n, len(before))
			}
			n, err = migrations.Up(ctx, db, d)
			must(t, err)
			if n != 0 {
				t.Errorf("second Up applied %d, want 0", n)
			}

			after, err := migrations.List(ctx, db, d)
			must(t, err)
			if len(after) != len(before) {
				t.Fatalf("List after Up: %d migrations, before %d", len(after), len(before))
			}
			for i, m := range after {
				if !m.Applied {
					t.Errorf("migration %d (%s) not applied", m.Version, m.Source)
				}
				if i > 0 && m.Version <= after[i-1].Version {
					t.Errorf("versions out of order: %d after %d", m.Version, after[i-1].Version)
				}
			}
			if _, err := s.CountBeneficiaries(ctx); err != nil {
				t.Errorf("schema unusable after Up: %v", err)
			}
		})
	}
}

func TestMigrationsUnknownDialect(t *testing.T) {
	s := storetest.Open(t, string(store.SQLite))
	db, err := s.DB()
	must(t, err)
	if _, err := migrations.Up(testCtx(t), db, "oracle"); err == nil {
		t.Error("Up with an unknown dialect succeeded")
	}
}
