package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/store/storetest"
)

// The page that follows a write of a login request is shown from what the
// process wrote and kept for it, for the version its address names and
// once; any other version, a second page, or another process's write is
// read from the database. Two stores on one database are two server
// processes.
func TestGetLoginRequestAt(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dialect string) {
		t.Parallel()
		url := storetest.URL(t, dialect)
		a, b := storetest.OpenURL(t, url), storetest.OpenURL(t, url)
		ctx := testCtx(t)
		must(t, a.CreateLoginRequest(ctx, newLoginRequest("lr1", time.Now().Add(time.Hour))))
		read, err := a.GetLoginRequest(ctx, "lr1")
		must(t, err)
		sent, err := a.UpdateLoginRequestFrom(ctx, read, func(r *store.LoginRequest) error {
			r.State, r.Mobile, r.OTPHash = store.LoginOTPSent, "+919876543210", []byte("hash")
			return nil
		})
		must(t, err)
		a.KeepForPage(ctx, sent)
		sent.Scopes[0] = "changed" // the writer's own copy

		// statements counts what a's call sent to the database.
		statements := func(get func() (*store.LoginRequest, error)) (*store.LoginRequest, uint64) {
			t.Helper()
			before, _ := a.Counts()
			r, err := get()
			must(t, err)
			after, _ := a.Counts()
			return r, after - before
		}
		at := func(version int64) func() (*store.LoginRequest, error) {
			return func() (*store.LoginRequest, error) { return a.GetLoginRequestAt(ctx, "lr1", version) }
		}

		got, n := statements(at(sent.Version))
		if n != 0 || got.Version != sent.Version || got.State != store.LoginOTPSent || got.Mobile != "+919876543210" ||
			string(got.OTPHash) != "hash" || got.Form != read.Form || got.Scopes[0] != "openid" {
			t.Fatalf("the page after the write: %d statements, %+v; want none and the request as written", n, got)
		}
		if _, n := statements(at(sent.Version)); n != 1 {
			t.Errorf("a second page at the same version sent %d statements, want a read", n)
		}

		// A write not kept for its page is read.
		written, err := a.UpdateLoginRequest(ctx, "lr1", func(r *store.LoginRequest) error { r.OTPTries = 1; return nil })
		must(t, err)
		if _, n := statements(at(written.Version)); n != 1 {
			t.Errorf("the page after a write not kept sent %d statements, want a read", n)
		}

		// Another process writes the version after a's: a's copy of its
		// own write does not answer for it.
		a.KeepForPage(ctx, written)
		later, err := b.UpdateLoginRequest(ctx, "lr1", func(r *store.LoginRequest) error { r.OTPTries = 2; return nil })
		must(t, err)
		got, n = statements(at(later.Version))
		if n != 1 || got.Version != later.Version || got.OTPTries != 2 {
			t.Fatalf("the page after b's write, on a: %d statements, version %d, tries %d; want a read of version %d",
				n, got.Version, got.OTPTries, later.Version)
		}
		// a's copy went with that page: its own version is read too.
		if got, n := statements(at(written.Version)); n != 1 || got.Version != later.Version {
			t.Errorf("a's own version after a page of b's: %d statements, version %d; want a read of %d", n, got.Version, later.Version)
		}

		// A write inside a transaction is not kept: it may still roll back.
		var inTx *store.LoginRequest
		must(t, a.InTx(ctx, func(ctx context.Context) error {
			var err error
			inTx, err = a.UpdateLoginRequest(ctx, "lr1", func(r *store.LoginRequest) error { r.OTPTries = 3; return nil })
			a.KeepForPage(ctx, inTx)
			return err
		}))
		if _, n := statements(at(inTx.Version)); n != 1 {
			t.Errorf("the page after a write in a transaction sent %d statements, want a read", n)
		}
	})
}
