package store_test

import (
	"sync"
	"testing"

	"github.com/kycvs/kycvs/migrations"
	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/store/storetest"
)

// TestMigrationsConcurrent: server processes that start together on one
// empty PostgreSQL database all migrate at once (each with its own pool,
// as separate processes would); every one of them succeeds and the
// migrations are applied exactly once between them. Also through PgBouncer
// in transaction mode, where a lock held by a session would stay on
// whichever server connection took it.
func TestMigrationsConcurrent(t *testing.T) {
	for _, backend := range []string{string(store.Postgres), storetest.PgBouncer} {
		t.Run(backend, func(t *testing.T) { testMigrationsConcurrent(t, backend) })
	}
}

func testMigrationsConcurrent(t *testing.T, backend string) {
	url := storetest.URL(t, backend)
	const processes = 4
	var wg sync.WaitGroup
	applied := make([]int, processes)
	errs := make([]error, processes)
	for i := range processes {
		s, err := store.Open(url)
		must(t, err)
		t.Cleanup(func() { _ = s.Close() })
		db, err := s.DB()
		must(t, err)
		wg.Go(func() {
			applied[i], errs[i] = migrations.Up(testCtx(t), db, migrations.Dialect("postgres"))
		})
	}
	wg.Wait()
	total := 0
	for i, err := range errs {
		if err != nil {
			t.Errorf("process %d: %v", i, err)
		}
		total += applied[i]
	}
	s, err := store.Open(url)
	must(t, err)
	defer s.Close()
	db, err := s.DB()
	must(t, err)
	list, err := migrations.List(testCtx(t), db, migrations.Dialect("postgres"))
	must(t, err)
	if total != len(list) {
		t.Errorf("%d migrations applied between the processes, want %d", total, len(list))
	}
}
