package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
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
		{"postgres unique violation", &pgconn.PgError{Code: "23505", Message: "duplicate key value violates unique constraint"}, ErrAlreadyExists},
		{"postgres shutting down", &pgconn.PgError{Code: "57P01", Message: "terminating connection due to administrator command"}, ErrUnavailable},
	}
	// A server that answers "bad password" or "no such database" is
	// reachable: configuration, not ErrUnavailable.
	// pgx reports them as a connect error wrapping the server's answer.
	for _, pg := range []*pgconn.PgError{
		{Severity: "FATAL", Code: "28P01", Message: `password authentication failed for user "x"`},
		{Severity: "FATAL", Code: "3D000", Message: `database "nope" does not exist`},
	} {
		in := fmt.Errorf("failed to connect to `user=x database=test`: server error: %w", pg)
		if err := translate(in); errors.Is(err, ErrUnavailable) {
			t.Errorf("translate(%v) = ErrUnavailable", in)
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

// TestPoolerHint: the driver's statement-cache errors behind a pooler in
// transaction mode tell the operator what to change; others are left alone.
func TestPoolerHint(t *testing.T) {
	tests := []struct {
		name string
		err  error
		hint bool
	}{
		{"used on another server connection", &pgconn.PgError{Code: "26000", Message: `prepared statement "stmtcache_9f2c" does not exist`}, true},
		{"prepared again on a server connection", &pgconn.PgError{Code: "42P05", Message: `prepared statement "stmtcache_9f2c" already exists`}, true},
		{"another statement's error", &pgconn.PgError{Code: "26000", Message: `prepared statement "mine" does not exist`}, false},
		{"unique violation", &pgconn.PgError{Code: "23505", Message: "duplicate key value"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := WithPoolerHint(tt.err)
			if hinted := strings.Contains(got.Error(), "default_query_exec_mode=cache_describe"); hinted != tt.hint {
				t.Fatalf("WithPoolerHint(%v) = %v", tt.err, got)
			}
			if !errors.Is(got, tt.err) {
				t.Fatal("the hint hides the driver's error")
			}
			if hinted := strings.Contains(translate(tt.err).Error(), "docs/operations.md"); hinted != tt.hint {
				t.Fatalf("translate(%v) = %v", tt.err, translate(tt.err))
			}
		})
	}
}
