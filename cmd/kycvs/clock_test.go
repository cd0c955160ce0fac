package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/kycvs/kycvs/admin"
	"github.com/kycvs/kycvs/internal/kycvstest"
	"github.com/kycvs/kycvs/oauth"
	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/store/storetest"
	"github.com/kycvs/kycvs/web"
)

// Every package newServer wires reads the time from serveConfig's clock,
// here an hour behind the real time: the signing keys, a sign-in (its
// challenge, code, session, authorization code and disclosure), the
// person's page, the admin API's audit log, the language switch and the
// clean-up all go by it, none by time.Now. (The code is not exchanged:
// fosite checks a code's expiry by time.Now too, and this one expired by
// that clock.)
func TestServerClock(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dialect string) {
		at := time.Now().Add(-time.Hour).Truncate(time.Second).UTC()
		clock := kycvstest.NewClock(at)
		ts := newTestServer(t, dialect, func(c *serveConfig) { c.now = clock.Now })
		st, ctx := ts.store(), context.Background()
		db, _ := st.DB()
		stamped := func(what string, got time.Time) {
			t.Helper()
			if !got.Equal(at) {
				t.Errorf("%s at %s, want the server's clock's %s", what, got.UTC(), at)
			}
		}

		keys, err := st.ListSigningKeys(ctx)
		must(t, err)
		for _, k := range keys {
			stamped("signing key "+k.KID, k.CreatedAt)
		}

		id, secret := ts.client(oauth.ClientSpec{})
		a := ts.newRP(id, secret).authorize()
		if back := ts.newBrowser().signIn(a, "9999900001", "Asha Verma"); back.Query().Get("code") == "" {
			t.Fatalf("no code: %s", back)
		}
		var challenge string
		must(t, db.QueryRow(`SELECT id FROM login_requests`).Scan(&challenge))
		lr, err := st.GetLoginRequest(ctx, challenge)
		must(t, err)
		stamped("sign-in challenge", lr.CreatedAt)
		if lr.OTPSentAt == nil || lr.AuthTime == nil {
			t.Fatalf("sign-in without its code or auth_time: %+v", lr)
		}
		stamped("code sent", *lr.OTPSentAt)
		stamped("auth_time", *lr.AuthTime)
		sess, err := st.GetSession(ctx, lr.SessionID, at)
		must(t, err)
		stamped("session", sess.CreatedAt)
		var requested time.Time
		must(t, db.QueryRow(`SELECT requested_at FROM oauth_tokens WHERE kind = '`+store.KindAuthorizeCode+`'`).Scan(&requested))
		stamped("authorization code", requested)
		ds, err := st.ListDisclosures(ctx, store.DisclosureFilter{ClientID: id})
		must(t, err)
		if len(ds) != 1 {
			t.Fatalf("%d disclosures, want 1", len(ds))
		}
		stamped("disclosure", ds[0].CreatedAt)

		ts.newBrowser().meSignIn("9999900001")
		var meSession time.Time
		must(t, db.QueryRow(`SELECT created_at FROM me_sessions`).Scan(&meSession))
		stamped("the person's page's session", meSession)

		key, _, err := cliService(st, testSecret, nil).CreateAdminKey(ctx, admin.CLIActor("test", "host"), "clock", admin.RoleOwner)
		must(t, err)
		if status, body := ts.adminCall(http.MethodPost, "/clients", key, map[string]any{
			"name": "Example Air", "redirect_uris": []string{"http://127.0.0.1:9/callback"},
		}); status != http.StatusCreated {
			t.Fatalf("admin API: %d %s", status, body)
		}
		entries, _, err := st.ListAuditEntries(ctx, store.AuditFilter{Action: "client.create"})
		must(t, err)
		if len(entries) != 1 {
			t.Fatalf("%d client.create entries, want 1", len(entries))
		}
		stamped("admin API audit entry", entries[0].At)

		noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := noRedirect.Get(ts.URL + web.LangPath + "hi?next=%2F")
		must(t, err)
		resp.Body.Close()
		var pick string
		for _, c := range resp.Cookies() {
			if c.Name == web.LangCookie {
				pick = c.Value
			}
		}
		if want := fmt.Sprintf("hi.%d", at.Unix()); pick != want {
			t.Errorf("language pick %q, want %q", pick, want)
		}

		// The clean-up: a sign-in that by the real time was due for
		// deletion a minute before the server's clock's hour stays.
		for name, expires := range map[string]time.Time{"due": at.Add(-store.LoginRequestKeep - time.Minute), "kept": at.Add(-store.LoginRequestKeep + time.Minute)} {
			must(t, st.CreateLoginRequest(ctx, &store.LoginRequest{ID: "clock-" + name, ClientID: id, Form: "x", State: store.LoginPending, CreatedAt: expires.Add(-time.Hour), ExpiresAt: expires}))
		}
		_, err = ts.srv.cleaner.once(ctx)
		must(t, err)
		if _, err := st.GetLoginRequest(ctx, "clock-due"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a sign-in due for deletion by the server's clock: %v, want it deleted", err)
		}
		if _, err := st.GetLoginRequest(ctx, "clock-kept"); err != nil {
			t.Errorf("a sign-in due for deletion only by the real time: %v, want it kept", err)
		}
	})
}
