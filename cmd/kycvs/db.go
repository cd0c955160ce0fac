package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"path/filepath"

	"github.com/kycvs/kycvs/migrations"
	"github.com/kycvs/kycvs/store"
)

// dbFlags are the flags of every subcommand that opens the database.
type dbFlags struct {
	DatabaseURL string
	Secret      string
	Dev         bool
	DataDir     string
}

func (d *dbFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&d.DatabaseURL, "database-url", "", "postgres://... or sqlite:PATH (default sqlite:kycvs.db; with --dev the dev database)")
	fs.StringVar(&d.Secret, "secret", "", "server secret (with --dev: the generated dev secret)")
	fs.BoolVar(&d.Dev, "dev", false, "use the database and secret of `serve --dev`")
	fs.StringVar(&d.DataDir, "data-dir", devDataDir, "--dev's data directory")
}

func (d *dbFlags) resolve(needSecret bool) error {
	if d.Dev {
		if d.DatabaseURL == "" {
			d.DatabaseURL = "sqlite:" + filepath.Join(d.DataDir, "kycvs.db")
		}
		if d.Secret == "" && needSecret {
			s, err := loadOrCreateSecret(filepath.Join(d.DataDir, "secret"))
			if err != nil {
				return err
			}
			d.Secret = s
		}
	}
	if d.DatabaseURL == "" {
		d.DatabaseURL = "sqlite:kycvs.db"
	}
	if needSecret && len(d.Secret) < 32 {
		return usageError{"--secret (or KYCVS_SECRET) of 32 bytes or more is required"}
	}
	return nil
}

// openStore opens the database and, when migrate is set, applies pending
// migrations.
func openStore(ctx context.Context, url string, migrate bool) (*store.Store, error) {
	st, err := store.Open(url)
	if err != nil {
		return nil, err
	}
	if err := st.Ping(ctx); err != nil {
		st.Close()
		return nil, err
	}
	if migrate {
		db, err := st.DB()
		if err != nil {
			st.Close()
			return nil, err
		}
		if _, err := migrations.Up(ctx, db, migrations.Dialect(st.Dialect())); err != nil {
			st.Close()
			return nil, store.WithPoolerHint(err)
		}
	}
	return st, nil
}

// errNoSchema explains a database that was never migrated.
var errNoSchema = errors.New("the database has no kycvs schema: run `kycvs migrate up` first")

func checkSchema(ctx context.Context, st *store.Store) error {
	db, err := st.DB()
	if err != nil {
		return err
	}
	list, err := migrations.List(ctx, db, migrations.Dialect(st.Dialect()))
	if err != nil {
		return fmt.Errorf("read migration status: %w", err)
	}
	for _, m := range list {
		if !m.Applied {
			return errNoSchema
		}
	}
	return nil
}
