package store_test

import (
	"fmt"
	"io"
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

// TestRegistryReimportOnOneConnection: imports one after another on one
// connection, as a pooler may hand them the same server connection: none
// trips on a table an earlier one left in the session.
func TestRegistryReimportOnOneConnection(t *testing.T) {
	for _, backend := range []string{string(store.Postgres), storetest.PgBouncer} {
		t.Run(backend, func(t *testing.T) {
			s := storetest.Open(t, backend)
			db, err := s.DB()
			must(t, err)
			db.SetMaxOpenConns(1)
			for round := range 3 {
				recs := []*store.ImportRecord{
					{Beneficiary: store.Beneficiary{ID: "B1", Mobile: "+919876543210", Name: "Asha", NameKey: "asha", YearOfBirth: 1980 + round}, Line: 2},
					{Beneficiary: store.Beneficiary{ID: "B2", Mobile: "+919876543211", Name: "Ravi", NameKey: "ravi", YearOfBirth: 1990}, Line: 3},
				}
				next := func() (*store.ImportRecord, error) {
					if len(recs) == 0 {
						return nil, io.EOF
					}
					r := recs[0]
					recs = recs[1:]
					return r, nil
				}
				if _, err := s.ImportRegistry(testCtx(t), next, store.ImportOptions{}); err != nil {
					t.Fatalf("import %d: %v", round+1, err)
				}
			}
			b, err := s.GetBeneficiary(testCtx(t), "B1")
			must(t, err)
			if b.YearOfBirth != 1982 {
				t.Fatalf("B1 born %d after the third import", b.YearOfBirth)
			}
		})
	}
}
