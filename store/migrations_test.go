package store_test

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
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

// The two dialects' migrations describe one schema: the same versions,
// and after Up the same tables, the same columns in each (types differ by
// dialect) and the same indexes on the same columns. A column or index
// added to one dialect's file and forgotten in the other fails here, not
// on the first PostgreSQL deployment.
func TestMigrationDialectsAgree(t *testing.T) {
	if sqlite, postgres := migrationVersions(t, "sqlite"), migrationVersions(t, "postgres"); !slices.Equal(sqlite, postgres) {
		t.Errorf("migration versions differ:\nsqlite   %v\npostgres %v", sqlite, postgres)
	}
	sqlite := sqliteSchema(t, storetest.Open(t, string(store.SQLite)))
	postgres := postgresSchema(t, storetest.Open(t, string(store.Postgres)))
	t.Logf("sqlite: %d tables, %d indexes; postgres: %d tables, %d indexes", len(sqlite.columns), len(sqlite.indexes), len(postgres.columns), len(postgres.indexes))
	for _, d := range schemaDiff(sqlite, postgres) {
		t.Error(d)
	}
}

// migrationVersions lists the versions of dialect's migration files, in
// order.
func migrationVersions(t *testing.T, dialect string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join("..", "migrations", dialect))
	must(t, err)
	var versions []string
	for _, e := range entries {
		if version, _, ok := strings.Cut(e.Name(), "_"); ok && strings.HasSuffix(e.Name(), ".sql") {
			versions = append(versions, version)
		}
	}
	if len(versions) == 0 {
		t.Fatalf("no %s migrations", dialect)
	}
	return versions
}

// schema is what the parity test compares: each table's column names,
// and each index's table and columns ("table(a,b)"). Indexes that back a
// primary key or a UNIQUE constraint are the constraint's, not listed.
type schema struct {
	columns map[string][]string
	indexes map[string]string
}

func sqliteSchema(t *testing.T, s *store.Store) schema {
	t.Helper()
	return readSchema(t, s,
		`SELECT m.name, c.name FROM sqlite_master m, pragma_table_info(m.name) c
			WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' ORDER BY m.name, c.name`,
		`SELECT m.name, m.tbl_name, COALESCE(i.name, '(expression)') FROM sqlite_master m, pragma_index_info(m.name) i
			WHERE m.type = 'index' AND m.sql IS NOT NULL ORDER BY m.name, i.seqno`)
}

func postgresSchema(t *testing.T, s *store.Store) schema {
	t.Helper()
	return readSchema(t, s,
		`SELECT c.table_name, c.column_name FROM information_schema.columns c
			JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
			WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE' ORDER BY 1, 2`,
		`SELECT i.relname, r.relname, COALESCE(a.attname, '(expression)')
			FROM pg_index x
			JOIN pg_class i ON i.oid = x.indexrelid
			JOIN pg_class r ON r.oid = x.indrelid
			JOIN pg_namespace n ON n.oid = r.relnamespace
			CROSS JOIN LATERAL unnest(x.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
			LEFT JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum = k.attnum
			WHERE n.nspname = current_schema()
				AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)
			ORDER BY i.relname, k.ord`)
}

// readSchema runs the dialect's catalogue queries: columnsQuery yields
// (table, column) rows, indexesQuery (index, table, column) rows in the
// index's column order.
func readSchema(t *testing.T, s *store.Store, columnsQuery, indexesQuery string) schema {
	t.Helper()
	ctx := testCtx(t)
	db, err := s.DB()
	must(t, err)
	sc := schema{columns: map[string][]string{}, indexes: map[string]string{}}
	rows, err := db.QueryContext(ctx, columnsQuery)
	must(t, err)
	for rows.Next() {
		var table, column string
		must(t, rows.Scan(&table, &column))
		sc.columns[table] = append(sc.columns[table], column)
	}
	must(t, rows.Err())
	rows.Close()

	cols := map[string][]string{}
	rows, err = db.QueryContext(ctx, indexesQuery)
	must(t, err)
	for rows.Next() {
		var index, table, column string
		must(t, rows.Scan(&index, &table, &column))
		if cols[index] == nil {
			cols[index] = []string{table}
		}
		cols[index] = append(cols[index], column)
	}
	must(t, rows.Err())
	rows.Close()
	for index, c := range cols {
		sc.indexes[index] = c[0] + "(" + strings.Join(c[1:], ",") + ")"
	}
	if len(sc.columns) == 0 || len(sc.indexes) == 0 {
		t.Fatalf("the catalogue shows %d tables and %d indexes after Up", len(sc.columns), len(sc.indexes))
	}
	return sc
}

// schemaDiff says, one line each, what one dialect's schema has and the
// other's lacks or has otherwise.
func schemaDiff(sqlite, postgres schema) []string {
	var diffs []string
	for _, table := range slices.Sorted(maps.Keys(sqlite.columns)) {
		if _, ok := postgres.columns[table]; !ok {
			diffs = append(diffs, "table "+table+": only in sqlite")
		}
	}
	for _, table := range slices.Sorted(maps.Keys(postgres.columns)) {
		other, ok := sqlite.columns[table]
		if !ok {
			diffs = append(diffs, "table "+table+": only in postgres")
			continue
		}
		for _, c := range postgres.columns[table] {
			if !slices.Contains(other, c) {
				diffs = append(diffs, "column "+table+"."+c+": only in postgres")
			}
		}
		for _, c := range other {
			if !slices.Contains(postgres.columns[table], c) {
				diffs = append(diffs, "column "+table+"."+c+": only in sqlite")
			}
		}
	}
	for _, index := range slices.Sorted(maps.Keys(sqlite.indexes)) {
		if pg, ok := postgres.indexes[index]; !ok {
			diffs = append(diffs, "index "+index+" on "+sqlite.indexes[index]+": only in sqlite")
		} else if pg != sqlite.indexes[index] {
			diffs = append(diffs, "index "+index+": sqlite "+sqlite.indexes[index]+", postgres "+pg)
		}
	}
	for _, index := range slices.Sorted(maps.Keys(postgres.indexes)) {
		if _, ok := sqlite.indexes[index]; !ok {
			diffs = append(diffs, "index "+index+" on "+postgres.indexes[index]+": only in postgres")
		}
	}
	return diffs
}
