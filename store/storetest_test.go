package store_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
	_ "time/tzdata" // Asia/Kolkata and America/New_York for the time-zone round trips

	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/store/storetest"
)

// The conformance suite: every test goes through storetest.Run, so it runs
// once per backend, on a fresh database each time (a new SQLite file; a new
// PostgreSQL schema when KYCVS_TEST_POSTGRES_URL is set, and always in CI).

// testCtx is a context that ends with the test, so a hung database fails
// the test instead of the whole run.
func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// errBoom is an updater's or a transaction's own failure.
var errBoom = errors.New("boom")

// base is a fixed instant, a whole number of microseconds (PostgreSQL's
// precision), so round trips compare exactly.
var base = time.Date(2024, 3, 1, 10, 0, 0, 123456000, time.UTC)

// zone loads a named time zone, failing the test when it is unknown.
func zone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// must fails the test on err.
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// wantErr fails the test unless errors.Is(err, want); want nil means no error.
func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Fatalf("%s: unexpected error %v", what, err)
	case want != nil && !errors.Is(err, want):
		t.Fatalf("%s: error %v, want %v", what, err, want)
	}
}

// sameTime fails the test unless got and want are the same instant.
func sameTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if !got.Equal(want) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

// TestBackends checks the backend selection other packages' tests rely on.
func TestBackends(t *testing.T) {
	got := storetest.Backends(t)
	if len(got) == 0 || got[0] != string(store.SQLite) {
		t.Fatalf("Backends = %v, want sqlite first", got)
	}
	for _, d := range got {
		s := storetest.Open(t, d)
		if string(s.Dialect()) != d {
			t.Errorf("Open(%q).Dialect() = %q", d, s.Dialect())
		}
		if err := s.Ping(testCtx(t)); err != nil {
			t.Errorf("%s: Ping: %v", d, err)
		}
	}
}

// TestForEachBench checks the benchmarks' runner: a sub-benchmark per
// backend Backends returns, in its order, handed its dialect.
func TestForEachBench(t *testing.T) {
	var got []string
	testing.Benchmark(func(b *testing.B) {
		storetest.ForEachBench(b, func(b *testing.B, dialect string) {
			if !slices.Contains(got, dialect) {
				got = append(got, dialect)
			}
		})
	})
	if want := storetest.Backends(t); !slices.Equal(got, want) {
		t.Errorf("ForEachBench ran %v, want %v", got, want)
	}
}

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }
