package migrations

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"

	"github.com/pressly/goose/v3"
)

//go:embed postgres/*.sql sqlite/*.sql
var files embed.FS

// Dialect is "postgres" or "sqlite", as store.Dialect.
type Dialect string

func provider(db *sql.DB, dialect Dialect) (*goose.Provider, error) {
	var gd goose.Dialect
	switch dialect {
	case "postgres":
		gd = goose.DialectPostgres
	case "sqlite":
		gd = goose.DialectSQLite3
	default:
		return nil, fmt.Errorf("migrations: unknown dialect %q", dialect)
	}
	sub, err := fs.Sub(files, string(dialect))
	if err != nil {
		return nil, err
	}
	return goose.NewProvider(gd, db, sub)
}

// Up applies every pending migration and returns how many it applied; a
// second run applies none.
//
// On PostgreSQL it holds an advisory lock for the schema while it works,
// so server processes that start together on one database (several
// replicas behind a load balancer) migrate one after another: the first
// applies the migrations, the others find nothing to do. Without it, two
// of them would both try to create the version table and the first
// migration, and one would fail to start.
func Up(ctx context.Context, db *sql.DB, dialect Dialect) (int, error) {
	p, err := provider(db, dialect)
	if err != nil {
		return 0, err
	}
	if dialect == "postgres" {
		unlock, err := lockSchema(ctx, db)
		if err != nil {
			return 0, fmt.Errorf("migrate up: lock: %w", err)
		}
		defer unlock()
	}
	results, err := p.Up(ctx)
	if err != nil {
		return len(results), fmt.Errorf("migrate up: %w", err)
	}
	return len(results), nil
}

// migrationLock is the first key of the advisory lock; the second is the
// hash of the schema name, so databases of different schemas (tests) do
// not wait for each other.
const migrationLock = 0x6b796376 // "kycv"

// lockSchema takes a transaction-level advisory lock in a transaction of
// its own, waiting as long as ctx allows, and returns its release, which
// ends the transaction. Not a session lock: behind PgBouncer in transaction
// mode a session's statements run on whichever server connection is free,
// so a session lock would stay on one of them, and another process handed
// that connection would take it again (session locks are re-entrant). A
// transaction keeps its server connection to the end. PostgreSQL also
// releases the lock if the process dies.
func lockSchema(ctx context.Context, db *sql.DB) (func(), error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))", migrationLock); err != nil {
		_ = tx.Rollback()
		return nil, err
	}
	return func() { _ = tx.Rollback() }, nil
}

// Status describes one migration: its version, file and whether it is applied.
type Status struct {
	Version int64
	Source  string
	Applied bool
}

// List reports every known migration and whether it is applied.
func List(ctx context.Context, db *sql.DB, dialect Dialect) ([]Status, error) {
	p, err := provider(db, dialect)
	if err != nil {
		return nil, err
	}
	st, err := p.Status(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Status, 0, len(st))
	for _, s := range st {
		out = append(out, Status{Version: s.Source.Version, Source: s.Source.Path, Applied: s.State == goose.StateApplied})
	}
	return out, nil
}

// UpTo applies the pending migrations up to and including version, for
// tests of a data migration: they stop before it, write rows in the old
// shape, then run Up.
func UpTo(ctx context.Context, db *sql.DB, dialect Dialect, version int64) error {
	p, err := provider(db, dialect)
	if err != nil {
		return err
	}
	if _, err := p.UpTo(ctx, version); err != nil {
		return fmt.Errorf("migrate up to %d: %w", version, err)
	}
	return nil
}
