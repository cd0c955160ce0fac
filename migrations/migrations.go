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
func Up(ctx context.Context, db *sql.DB, dialect Dialect) (int, error) {
	p, err := provider(db, dialect)
	if err != nil {
		return 0, err
	}
	results, err := p.Up(ctx)
	if err != nil {
		return len(results), fmt.Errorf("migrate up: %w", err)
	}
	return len(results), nil
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
