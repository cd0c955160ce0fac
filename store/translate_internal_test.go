package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"gorm.io/gorm"
)

// TestTranslateUniqueViolation checks the one place that knows driver
// errors: a unique violation is ErrAlreadyExists on both dialects, whether
// it arrives through gorm (TranslateError) or raw from database/sql.
func TestTranslateUniqueViolation(t *testing.T) {
	urls := map[string]string{"sqlite": "sqlite:" + filepath.Join(t.TempDir(), "t.db")}
	if u := os.Getenv("KYCVS_TEST_POSTGRES_URL"); u != "" {
		urls["postgres"] = u
	} else if os.Getenv("CI") == "true" {
		t.Fatal("PostgreSQL tests must run in CI: set KYCVS_TEST_POSTGRES_URL")
	}
	for dialect, url := range urls {
		t.Run(dialect, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			s, err := Open(url)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			sqlDB, err := s.DB()
			if err != nil {
				t.Fatal(err)
			}
			// One connection: the temporary table lives in its session.
			sqlDB.SetMaxOpenConns(1)
			if _, err := sqlDB.ExecContext(ctx, "CREATE TEMPORARY TABLE translate_t (id TEXT PRIMARY KEY, u TEXT UNIQUE)"); err != nil {
				t.Fatal(err)
			}
			if _, err := sqlDB.ExecContext(ctx, "INSERT INTO translate_t (id, u) VALUES ('a', 'x')"); err != nil {
				t.Fatal(err)
			}

			tests := []struct {
				name string
				err  func() error
				// viaGorm: gorm itself must have turned it into ErrDuplicatedKey.
				viaGorm bool
			}{
				{"raw primary key", func() error {
					_, err := sqlDB.ExecContext(ctx, "INSERT INTO translate_t (id, u) VALUES ('a', 'y')")
					return err
				}, false},
				{"raw unique", func() error {
					_, err := sqlDB.ExecContext(ctx, "INSERT INTO translate_t (id, u) VALUES ('b', 'x')")
					return err
				}, false},
				{"gorm primary key", func() error {
					return s.db.WithContext(ctx).Exec("INSERT INTO translate_t (id, u) VALUES ('a', 'z')").Error
				}, true},
				{"gorm unique", func() error {
					return s.db.WithContext(ctx).Table("translate_t").Create(map[string]any{"id": "c", "u": "x"}).Error
				}, true},
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					raw := tc.err()
					if raw == nil {
						t.Fatal("duplicate insert succeeded")
					}
					if tc.viaGorm && !errors.Is(raw, gorm.ErrDuplicatedKey) {
						t.Errorf("gorm did not translate %v (%T)", raw, raw)
					}
					if err := translate(raw); !errors.Is(err, ErrAlreadyExists) {
						t.Errorf("translate(%v) = %v, want ErrAlreadyExists", raw, err)
					}
				})
			}
		})
	}
}

func TestTranslate(t *testing.T) {
	other := errors.New("syntax error")
	tests := []struct {
		name string
		in   error
		want error
	}{
		{"nil", nil, nil},
		{"record not found", gorm.ErrRecordNotFound, ErrNotFound},
		{"duplicated key", gorm.ErrDuplicatedKey, ErrAlreadyExists},
		{"sentinel kept", ErrConflict, ErrConflict},
		{"canceled kept", context.Canceled, context.Canceled},
		{"refused", errors.New("dial tcp 127.0.0.1:5432: connect: connection refused"), ErrUnavailable},
		{"closed", errors.New("sql: database is closed"), ErrUnavailable},
		{"other kept", other, other},
	}
	// A server that answers "bad password" or "no such database" is
	// reachable: configuration, not ErrUnavailable.
	for _, msg := range []string{
		"failed to connect to `user=x database=test`: server error: FATAL: password authentication failed for user \"x\" (SQLSTATE 28P01)",
		"failed to connect to `user=postgres database=nope`: server error: FATAL: database \"nope\" does not exist (SQLSTATE 3D000)",
	} {
		if err := translate(errors.New(msg)); errors.Is(err, ErrUnavailable) {
			t.Errorf("translate(%q) = ErrUnavailable", msg)
		}
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := translate(tc.in)
			if tc.want == nil && got != nil || tc.want != nil && !errors.Is(got, tc.want) {
				t.Errorf("translate(%v) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}
