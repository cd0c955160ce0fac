// Package storetest gives tests of any package a fresh, migrated store on
// every backend the test run can reach: SQLite always, PostgreSQL when
// KYCVS_TEST_POSTGRES_URL is set (and always in CI, where a missing URL fails
// the test instead of silently testing less).
//
// Each call gets its own database: a new SQLite file in t.TempDir(), or a new
// PostgreSQL schema (selected through the search_path connection parameter)
// that is dropped when the test ends. Tests therefore never see each other's
// rows and may run in parallel.
//
// The "pgbouncer" backend reaches PostgreSQL through PgBouncer in
// transaction mode (KYCVS_TEST_PGBOUNCER_URL, always in CI), the way
// production does. PgBouncer 1.18 refuses or ignores a search_path startup
// parameter and shares server connections between clients, so there each
// test gets a login role of its own whose default search_path is its
// schema: PgBouncer keeps a pool per role, and every server connection of
// that pool starts in the test's schema.
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

// PgBouncer names the backend that reaches PostgreSQL through PgBouncer in
// transaction mode. store.Open sees an ordinary postgres:// URL.
const PgBouncer = "pgbouncer"

// pgbouncerURLEnv names the environment variable holding the URL of a
// PgBouncer in transaction mode in front of the server at
// KYCVS_TEST_POSTGRES_URL, e.g.
// postgres://postgres@127.0.0.1:6432/test?sslmode=disable. Its user must
// be PgBouncer's auth_user, so PgBouncer can look up the tests' roles.
const pgbouncerURLEnv = "KYCVS_TEST_PGBOUNCER_URL"

// PooledBackends returns Backends and, when KYCVS_TEST_PGBOUNCER_URL is
// set, PgBouncer, for the tests that prove kycvs works behind the pooler.
// In CI an unset KYCVS_TEST_PGBOUNCER_URL fails the test.
func PooledBackends(t testing.TB) []string {
	t.Helper()
	backends := Backends(t)
	if pgbouncerURL(t) != "" {
		backends = append(backends, PgBouncer)
	}
	return backends
}

func pgbouncerURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(pgbouncerURLEnv)
	if u == "" && os.Getenv("CI") == "true" {
		t.Fatalf("PgBouncer tests must run in CI: set %s (.ci/run starts one)", pgbouncerURLEnv)
	}
	return u
}

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

// ForEach runs test as a subtest per backend Backends returns, named after
// the dialect, one after another; a test that may run beside the others
// calls t.Parallel itself. This is the one loop over the backends every
// package's tests use (ForEachBench, its benchmarks).
func ForEach(t *testing.T, test func(t *testing.T, dialect string)) {
	t.Helper()
	eachOf(t, Backends(t), test)
}

// ForEachPooled is ForEach over PooledBackends: also PostgreSQL through
// PgBouncer in transaction mode, for the code that runs behind it in
// production.
func ForEachPooled(t *testing.T, test func(t *testing.T, dialect string)) {
	t.Helper()
	eachOf(t, PooledBackends(t), test)
}

// ForEachBench is ForEach for benchmarks: bench runs as a sub-benchmark
// per backend Backends returns, named after the dialect, and opens what it
// measures itself (Open, URL).
func ForEachBench(b *testing.B, bench func(b *testing.B, dialect string)) {
	b.Helper()
	eachOf(b, Backends(b), bench)
}

// subtests is what runs a subtest: *testing.T, or *testing.B for
// sub-benchmarks.
type subtests[T any] interface {
	testing.TB
	Run(name string, f func(T)) bool
}

func eachOf[T subtests[T]](t T, dialects []string, test func(t T, dialect string)) {
	t.Helper()
	for _, dialect := range dialects {
		t.Run(dialect, func(t T) { test(t, dialect) })
	}
}

// Run is the conformance entry the store's tests go through: test runs as
// a subtest per backend (ForEach), the backends in parallel with each
// other, each on a fresh, migrated store (Open).
func Run(t *testing.T, test func(t *testing.T, s *store.Store)) {
	t.Helper()
	ForEach(t, func(t *testing.T, dialect string) {
		t.Parallel()
		test(t, Open(t, dialect))
	})
}

// RunPooled is Run over PooledBackends.
func RunPooled(t *testing.T, test func(t *testing.T, s *store.Store)) {
	t.Helper()
	ForEachPooled(t, func(t *testing.T, dialect string) {
		t.Parallel()
		test(t, Open(t, dialect))
	})
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
// ("sqlite", "postgres" or PgBouncer), without migrations applied, for
// tests that run migrations themselves or hand the URL to a server
// process. The database is removed when the test ends. For "postgres"
// without KYCVS_TEST_POSTGRES_URL, or PgBouncer without
// KYCVS_TEST_PGBOUNCER_URL, the test is skipped (failed in CI).
func URL(t testing.TB, dialect string) string {
	t.Helper()
	if dialect == PgBouncer {
		base, pooler := postgresURL(t), pgbouncerURL(t)
		if base == "" || pooler == "" {
			t.Skipf("PgBouncer tests skipped: %s and %s must both be set", postgresURLEnv, pgbouncerURLEnv)
		}
		return pooledSchema(t, base, pooler)
	}
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

// Open returns a store on a fresh database of dialect ("sqlite",
// "postgres" or PgBouncer) with every migration applied; it is closed when the test
// ends. For "postgres" without KYCVS_TEST_POSTGRES_URL the test is skipped
// (failed in CI). Any setup error fails the test.
func Open(t testing.TB, dialect string) *store.Store {
	t.Helper()
	return OpenURL(t, URL(t, dialect))
}

// OpenURL opens a store on url, a database URL returns, applies every
// migration and closes the store when the test ends. Several stores on one
// URL are several server processes on one database. Any error fails the
// test.
func OpenURL(t testing.TB, dbURL string) *store.Store {
	t.Helper()
	s, err := store.Open(dbURL)
	if err != nil {
		t.Fatalf("storetest: open %s: %v", dbURL, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	db, err := s.DB()
	if err != nil {
		t.Fatalf("storetest: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := migrations.Up(ctx, db, migrations.Dialect(s.Dialect())); err != nil {
		t.Fatalf("storetest: migrate %s: %v", s.Dialect(), err)
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

// pooledSchema creates a login role and a schema of the same random name
// on the server at base, the role's default search_path set to the schema,
// and returns the PgBouncer URL pooler logged in as that role, with the
// statement mode docs/operations.md gives operators. When the test ends it
// ends the role's server connections (PgBouncer would keep them idle for
// minutes), then drops schema and role.
func pooledSchema(t testing.TB, base, pooler string) string {
	t.Helper()
	u, err := url.Parse(pooler)
	if err != nil {
		t.Fatalf("storetest: %s: %v", pgbouncerURLEnv, err)
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	name := "kycvs_test_" + hex.EncodeToString(b[:])

	exec(t, base, "CREATE ROLE "+name+" LOGIN")
	t.Cleanup(func() {
		exec(t, base, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '"+name+"'")
		exec(t, base, "DROP SCHEMA IF EXISTS "+name+" CASCADE")
		exec(t, base, "DROP ROLE IF EXISTS "+name)
	})
	exec(t, base, "CREATE SCHEMA "+name+" AUTHORIZATION "+name)
	exec(t, base, "ALTER ROLE "+name+" SET search_path TO "+name)

	u.User = url.User(name)
	q := u.Query()
	q.Set("default_query_exec_mode", "cache_describe")
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
