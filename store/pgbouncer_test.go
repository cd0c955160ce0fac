package store_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/store/storetest"
)

// TestThroughPgBouncer: behind PgBouncer in transaction mode, consecutive
// statements of one client connection run on whichever server connection
// is free. Many clients at once, each creating, updating in a locked
// read-modify-write and reading its sign-in, all succeed and each sees its
// own row: no statement depends on a prepared statement or a setting left
// on a server connection by an earlier one.
func TestThroughPgBouncer(t *testing.T) {
	url := storetest.URL(t, storetest.PgBouncer)
	// Two pools, as two server processes, more clients than PgBouncer's
	// server connections.
	stores := []*store.Store{storetest.OpenURL(t, url), storetest.OpenURL(t, url)}
	const clients, rounds = 48, 10
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for c := range clients {
		s := stores[c%len(stores)]
		wg.Go(func() {
			ctx := testCtx(t)
			for r := range rounds {
				id := fmt.Sprintf("lr-%d-%d", c, r)
				if err := s.CreateLoginRequest(ctx, newLoginRequest(id, base.Add(time.Hour))); err != nil {
					errs <- fmt.Errorf("create %s: %w", id, err)
					return
				}
				if _, err := s.UpdateLoginRequest(ctx, id, func(lr *store.LoginRequest) error {
					lr.OTPTries++
					return nil
				}); err != nil {
					errs <- fmt.Errorf("update %s: %w", id, err)
					return
				}
				got, err := s.GetLoginRequest(ctx, id)
				if err != nil {
					errs <- fmt.Errorf("get %s: %w", id, err)
					return
				}
				if got.ID != id || got.OTPTries != 1 {
					errs <- fmt.Errorf("get %s = %s with %d tries", id, got.ID, got.OTPTries)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
