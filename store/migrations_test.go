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
	storetest.ForEach(t, func(t *testing.T, dialect string) {
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

func TestMigrationsUnknownDialect(t *testing.T) {
	s := storetest.Open(t, string(store.SQLite))
	db, err := s.DB()
	must(t, err)
	if _, err := migrations.Up(testCtx(t), db, "oracle"); err == nil {
		t.Error("Up with an unknown dialect succeeded")
	}
}

// Migration 11 registers post-logout redirect URIs apart from redirect URIs;
// clients that existed before it keep the logout addresses they had (their
// redirect URIs), so nothing breaks.
func TestMigrationCopiesPostLogoutRedirectURIs(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dialect string) {
		ctx := testCtx(t)
		s, err := store.Open(storetest.URL(t, dialect))
		must(t, err)
		t.Cleanup(func() { _ = s.Close() })
		db, err := s.DB()
		must(t, err)
		must(t, migrations.UpTo(ctx, db, migrations.Dialect(dialect), 10))
		_, err = db.ExecContext(ctx, `INSERT INTO clients (id, name, redirect_uris, scopes, public, token_endpoint_auth_method,
				id_token_signed_response_alg, userinfo_signed_response_alg, sector_identifier, disabled, created_at, updated_at)
				VALUES ('old', 'Old Air', '["https://old.example/cb"]', '[]', false, '', '', '', '', false, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)`)
		must(t, err)
		_, err = migrations.Up(ctx, db, migrations.Dialect(dialect))
		must(t, err)
		c, err := s.GetClient(ctx, "old")
		must(t, err)
		if len(c.PostLogoutRedirectURIs) != 1 || c.PostLogoutRedirectURIs[0] != "https://old.example/cb" {
			t.Fatalf("post-logout redirect URIs %v", c.PostLogoutRedirectURIs)
		}
	})
}
