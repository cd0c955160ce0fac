package store_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/store/storetest"
)

// The reads made outside a transaction go to a read pool: on SQLite
// read-only connections beside the one writer. These tests hold that pool
// to what the one connection gave: every committed write is seen, writes
// never land there, and no read keeps a snapshot open.

// seedReads writes one row of every kind the routed reads return: client
// c1, session s1, login request lr1 of that session, an access token of
// c1 and a beneficiary with a dose.
func seedReads(t *testing.T, s *store.Store) {
	t.Helper()
	ctx := testCtx(t)
	must(t, s.CreateClient(ctx, newClient("c1", "Zeta Airlines")))
	must(t, s.CreateSession(ctx, &store.Session{ID: "s1", BeneficiaryID: "b1", AuthTime: base, ExpiresAt: base.Add(time.Hour)}))
	lr := newLoginRequest("lr1", base.Add(time.Hour))
	lr.SessionID = "s1"
	must(t, s.CreateLoginRequest(ctx, lr))
	must(t, s.CreateToken(ctx, newToken(store.KindAccessToken, "at1", "r1", "c1")))
	_, err := s.ReplaceBeneficiaries(ctx, []store.Beneficiary{person("b1", "+919876543210", "Asha", dose(1, 2, "2021-01-01"))})
	must(t, err)
}

// routedReads are the reads sent through the read pool outside a
// transaction, each failing unless it finds the row seedReads wrote.
var routedReads = []struct {
	name string
	read func(ctx context.Context, s *store.Store) error
}{
	{"GetClient", func(ctx context.Context, s *store.Store) error {
		_, err := s.GetClient(ctx, "c1")
		return err
	}},
	{"GetLoginRequest", func(ctx context.Context, s *store.Store) error {
		_, err := s.GetLoginRequest(ctx, "lr1")
		return err
	}},
	{"GetLoginRequestForResume", func(ctx context.Context, s *store.Store) error {
		_, sess, _, _, err := s.GetLoginRequestForResume(ctx, "lr1", "s1", base)
		if err == nil && sess == nil {
			err = fmt.Errorf("no session")
		}
		return err
	}},
	{"GetSession", func(ctx context.Context, s *store.Store) error {
		_, err := s.GetSession(ctx, "s1", base)
		return err
	}},
	{"GetBeneficiary", func(ctx context.Context, s *store.Store) error {
		_, err := s.GetBeneficiary(ctx, "b1")
		return err
	}},
	{"BeneficiariesByMobile", func(ctx context.Context, s *store.Store) error {
		bs, err := s.BeneficiariesByMobile(ctx, "+919876543210")
		if err == nil && len(bs) != 1 {
			err = fmt.Errorf("%d beneficiaries", len(bs))
		}
		return err
	}},
	{"BeneficiaryByNameKey", func(ctx context.Context, s *store.Store) error {
		_, err := s.BeneficiaryByNameKey(ctx, "+919876543210", "Asha")
		return err
	}},
	{"GetToken", func(ctx context.Context, s *store.Store) error {
		_, err := s.GetToken(ctx, store.KindAccessToken, "at1")
		return err
	}},
	{"GetTokens", func(ctx context.Context, s *store.Store) error {
		ts, err := s.GetTokens(ctx, store.TokenKey{Kind: store.KindAccessToken, Signature: "at1"})
		if err == nil && len(ts) != 1 {
			err = fmt.Errorf("%d tokens", len(ts))
		}
		return err
	}},
	{"GetTokenAndClient", func(ctx context.Context, s *store.Store) error {
		_, _, err := s.GetTokenAndClient(ctx, store.KindAccessToken, "at1")
		return err
	}},
}

// TestReadsBesideWriteTransaction: while a transaction that has written
// is held open, every routed read returns (on SQLite they used to wait for
// the writer's one connection) and sees the data as it was before it.
func TestReadsBesideWriteTransaction(t *testing.T) {
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		ctx := testCtx(t)
		seedReads(t, s)
		held, release := make(chan struct{}), make(chan struct{})
		releaseOnce := sync.OnceFunc(func() { close(release) })
		t.Cleanup(releaseOnce)
		done := make(chan error, 1)
		go func() {
			done <- s.InTx(ctx, func(ctx context.Context) error {
				_, err := s.UpdateClient(ctx, "c1", func(c *store.Client) error {
					c.Name = "Renamed"
					return nil
				})
				if err != nil {
					return err
				}
				close(held)
				<-release
				return nil
			})
		}()
		select {
		case <-held:
		case err := <-done:
			t.Fatalf("InTx ended before holding: %v", err)
		}
		// Reads that wait for the writer fail in seconds, not at the
		// test's deadline.
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		for _, r := range routedReads {
			if err := r.read(rctx, s); err != nil {
				t.Errorf("%s beside an open write transaction: %v", r.name, err)
			}
		}
		if c, err := s.GetClient(rctx, "c1"); err != nil || c.Name != "Zeta Airlines" {
			t.Errorf("GetClient beside the transaction: %+v, %v; want the name before it", c, err)
		}
		releaseOnce()
		must(t, <-done)
		c, err := s.GetClient(ctx, "c1")
		must(t, err)
		if c.Name != "Renamed" {
			t.Errorf("after the commit GetClient reads %q, want Renamed", c.Name)
		}
	})
}

// TestReadsSeeCommittedWrites: a read that starts after a write returned
// sees it, with writers and readers running at once, and, on SQLite, no
// read connection is left holding a snapshot: a checkpoint that must wait
// for every reader completes.
func TestReadsSeeCommittedWrites(t *testing.T) {
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		ctx := testCtx(t)
		seedReads(t, s)
		const workers, rounds = 4, 25
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for w := range workers {
			wg.Go(func() {
				errs <- readOwnWrites(ctx, s, w, rounds)
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
		for _, r := range routedReads {
			if err := r.read(ctx, s); err != nil {
				t.Errorf("%s: %v", r.name, err)
			}
		}
		if s.Dialect() != store.SQLite {
			return
		}
		db, err := s.DB()
		must(t, err)
		var busy, log, checkpointed int
		must(t, db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &log, &checkpointed))
		if busy != 0 {
			t.Errorf("wal_checkpoint(TRUNCATE) blocked (busy %d, log %d, checkpointed %d): a read connection holds a snapshot", busy, log, checkpointed)
		}
	})
}

// readOwnWrites writes rows of worker w and reads each back outside a
// transaction at once, failing on the first read that misses a write.
func readOwnWrites(ctx context.Context, s *store.Store, w, rounds int) error {
	cid, sid, lid, sig, bid := fmt.Sprintf("c-w%d", w), fmt.Sprintf("s-w%d", w), fmt.Sprintf("lr-w%d", w), fmt.Sprintf("at-w%d", w), fmt.Sprintf("b-w%d", w)
	mobile := fmt.Sprintf("+91987654%04d", w)
	if err := s.CreateClient(ctx, newClient(cid, "Worker")); err != nil {
		return err
	}
	lr := newLoginRequest(lid, base.Add(time.Hour))
	lr.ClientID = cid
	if err := s.CreateLoginRequest(ctx, lr); err != nil {
		return err
	}
	for i := range rounds {
		name := fmt.Sprintf("Worker %d round %d", w, i)
		if _, err := s.UpdateClient(ctx, cid, func(c *store.Client) error {
			c.Name = name
			return nil
		}); err != nil {
			return err
		}
		if c, err := s.GetClient(ctx, cid); err != nil || c.Name != name {
			return fmt.Errorf("GetClient after UpdateClient: %+v, %v; want %q", c, err, name)
		}

		sess := fmt.Sprintf("%s-%d", sid, i)
		if err := s.CreateSession(ctx, &store.Session{ID: sess, AuthTime: base, ExpiresAt: base.Add(time.Hour)}); err != nil {
			return err
		}
		if _, err := s.GetSession(ctx, sess, base); err != nil {
			return fmt.Errorf("GetSession after CreateSession: %v", err)
		}
		if _, err := s.UpdateLoginRequest(ctx, lid, func(r *store.LoginRequest) error {
			r.SessionID = sess
			return nil
		}); err != nil {
			return err
		}
		if _, got, _, _, err := s.GetLoginRequestForResume(ctx, lid, sess, base); err != nil || got == nil || got.ID != sess {
			return fmt.Errorf("GetLoginRequestForResume after UpdateLoginRequest: %+v, %v; want session %s", got, err, sess)
		}
		if err := s.DeleteSession(ctx, sess); err != nil {
			return err
		}
		if _, err := s.GetSession(ctx, sess, base); !isNotFound(err) {
			return fmt.Errorf("GetSession after DeleteSession: %v, want ErrNotFound", err)
		}

		tok := fmt.Sprintf("%s-%d", sig, i)
		if err := s.CreateToken(ctx, newToken(store.KindAccessToken, tok, "r", cid)); err != nil {
			return err
		}
		if err := s.DeactivateToken(ctx, store.KindAccessToken, tok); err != nil {
			return err
		}
		if got, c, err := s.GetTokenAndClient(ctx, store.KindAccessToken, tok); err != nil || got.Active || c.Name != name {
			return fmt.Errorf("GetTokenAndClient after DeactivateToken: %+v, %+v, %v; want inactive, client %q", got, c, err, name)
		}

		person := person(bid, mobile, name, dose(1, 2, "2021-01-01"))
		if _, err := s.ReplaceBeneficiaries(ctx, []store.Beneficiary{person}); err != nil {
			return err
		}
		if b, err := s.BeneficiaryByNameKey(ctx, mobile, name); err != nil || b.ID != bid {
			return fmt.Errorf("BeneficiaryByNameKey after ReplaceBeneficiaries: %+v, %v", b, err)
		}
	}
	return nil
}

// TestReadPoolRefusesWrites: on SQLite the read pool is read-only, so a
// write sent there by mistake fails at once instead of racing the writer;
// inside a transaction reads and writes share its connection.
func TestReadPoolRefusesWrites(t *testing.T) {
	s := storetest.Open(t, string(store.SQLite))
	ctx := testCtx(t)
	seedReads(t, s)
	err := s.ReaderExec(ctx, "DELETE FROM clients WHERE id = 'c1'")
	if err == nil || !strings.Contains(err.Error(), "readonly") {
		t.Errorf("a write on the read pool: %v, want a readonly error", err)
	}
	if _, err := s.GetClient(ctx, "c1"); err != nil {
		t.Errorf("the refused write deleted the client: %v", err)
	}
	must(t, s.InTx(ctx, func(ctx context.Context) error {
		return s.ReaderExec(ctx, "DELETE FROM clients WHERE id = 'c1'")
	}))
	if _, err := s.GetClient(ctx, "c1"); !isNotFound(err) {
		t.Errorf("GetClient after a committed delete: %v, want ErrNotFound", err)
	}
}
