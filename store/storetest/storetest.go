// Package storetest gives tests of any package a fresh, migrated store on
// every backend the test run can reach: SQLite always, PostgreSQL when
// KYCVS_TEST_POSTGRES_URL is set (and always in CI, where a missing URL fails
// the test instead of silently testing less).
//
// Each call gets its own database: a new SQLite file in t.TempDir(), or a new
// PostgreSQL schema (selected through the search_path connection parameter)
// that is dropped when the test ends. Tests therefore never see each other's
// rows and may run in parallel.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kycvs/kycvs/migrations"
	"github.com/kycvs/kycvs/store"
)

// postgresURLEnv names the environment variable holding the PostgreSQL URL
// tests run against, e.g.
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable.
const postgresURLEnv = "KYCVS_TEST_POSTGRES_URL"

// Backends returns the dialects this test run covers: "sqlite" always, and
// "postgres" when KYCVS_TEST_POSTGRES_URL is set. When it is not set and the
// environment variable CI is "true", Backends fails the test: PostgreSQL
// tests must run in CI.
func Backends(t testing.TB) []string {
	t.Helper()
	if postgresURL(t) == "" {
		return []string{string(store.SQLite)}
	}
	return []string{string(store.SQLite), string(store.Postgres)}
}

// postgresURL returns the PostgreSQL URL from the environment, or "" when it
// is unset outside CI. In CI an unset URL fails the test.
func postgresURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(postgresURLEnv)
	if u == "" && os.Getenv("CI") == "true" {
		t.Fatalf("PostgreSQL tests must run in CI: set %s", postgresURLEnv)
	}
	return u
}

// URL returns the database URL of a fresh, empty database of dialect
// ("sqlite" or "postgres"), without migrations applied, for tests that run
// migrations themselves or hand the URL to a server process. The database
// is removed when the test ends. For "postgres" without
// KYCVS_TEST_POSTGRES_URL the test is skipped (failed in CI).
func URL(t testing.TB, dialect string) string {
	t.Helper()
	switch store.Dialect(dialect) {
	case store.SQLite:
		return "sqlite:" + filepath.Join(t.TempDir(), "kycvs.db")
	case store.Postgres:
		base := postgresURL(t)
		if base == "" {
			t.Skipf("PostgreSQL tests skipped: %s is not set", postgresURLEnv)
		}
		return freshSchema(t, base)
	}
	t.Fatalf("storetest: unknown dialect %q", dialect)
	return ""
}

// Open returns a store on a fresh database of dialect ("sqlite" or
// "postgres") with every migration applied; it is closed when the test
// ends. For "postgres" without KYCVS_TEST_POSTGRES_URL the test is skipped
// (failed in CI). Any setup error fails the test.
func Open(t testing.TB, dialect string) *store.Store {
	t.Helper()
	s, err := store.Open(URL(t, dialect))
	if err != nil {
		t.Fatalf("storetest: open %s: %v", dialect, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	db, err := s.DB()
	if err != nil {
		t.Fatalf("storetest: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := migrations.Up(ctx, db, migrations.Dialect(dialect)); err != nil {
		t.Fatalf("storetest: migrate %s: %v", dialect, err)
	}
	return s
}

// freshSchema creates a schema with a random name on the server at base,
// registers its removal, and returns base with search_path set to it, so
// every connection of a store opened on the URL works inside the schema.
func freshSchema(t testing.TB, base string) string {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("storetest: %s: %v", postgresURLEnv, err)
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	schema := "kycvs_test_" + hex.EncodeToString(b[:])

	// Cleanups run last-registered first: this one is registered before the
	// caller opens its store, so the store is closed before the drop.
	exec(t, base, "CREATE SCHEMA "+schema)
	t.Cleanup(func() { exec(t, base, "DROP SCHEMA IF EXISTS "+schema+" CASCADE") })

	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// exec runs one statement on its own short-lived connection to base.
func exec(t testing.TB, base, stmt string) {
	t.Helper()
	s, err := store.Open(base)
	if err != nil {
		t.Fatalf("storetest: connect to PostgreSQL: %v", err)
	}
	defer s.Close()
	db, err := s.DB()
	if err != nil {
		t.Fatalf("storetest: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, stmt); err != nil {
		t.Fatalf("storetest: %s: %v", stmt, err)
	}
}
