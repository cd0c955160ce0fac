package main

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/kycvs/kycvs/internal/kycvstest"
	"github.com/kycvs/kycvs/oauth"
	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/store/storetest"
)

var offlineScopes = []string{"openid", "vaccination_status", "offline_access"}

// refreshGrant signs a person in for a client allowed offline_access and
// returns the client and the first tokens.
func refreshGrant(t *testing.T, ts *testServer) (id, secret string, v verified) {
	t.Helper()
	id, secret = ts.client(oauth.ClientSpec{Scopes: offlineScopes})
	r := ts.newRP(id, secret, offlineScopes...)
	a := r.authorize()
	v = r.finish(a, ts.newBrowser().signIn(a, "9999900001", "Asha Verma"))
	if v.Token.RefreshToken == "" {
		t.Fatal("no refresh token with offline_access")
	}
	return id, secret, v
}

func refresh(t *testing.T, ts *testServer, id, secret, token string) (int, map[string]any) {
	t.Helper()
	return tokenRequest(t, ts, id, secret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token}})
}

// A refresh token is good once: using a rotated one again is taken as
// theft (RFC 6819 5.2.2.3, OAuth 2.0 Security BCP 4.14.2) and revokes the
// whole family: the refresh and access tokens issued since, not only the
// token reused.
func TestRefreshReuseRevokesFamily(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect, nil)
		id, secret, v := refreshGrant(t, ts)

		status, body := refresh(t, ts, id, secret, v.Token.RefreshToken)
		if status != http.StatusOK {
			t.Fatalf("first refresh: %d %v", status, body)
		}
		access1, refresh1 := body["access_token"].(string), body["refresh_token"].(string)
		if refresh1 == "" || refresh1 == v.Token.RefreshToken {
			t.Fatalf("the refresh token was not rotated: %v", body)
		}
		if got := userinfoStatus(t, ts, access1); got != http.StatusOK {
			t.Fatalf("new access token: %d", got)
		}
		if got := userinfoStatus(t, ts, v.Token.AccessToken); got != http.StatusUnauthorized {
			t.Errorf("the first access token outlived the rotation: %d", got)
		}

		// The old refresh token comes back: an attacker's copy, or the
		// client's; either way nobody may go on with this grant.
		if status, body := refresh(t, ts, id, secret, v.Token.RefreshToken); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Fatalf("reused refresh token: %d %v", status, body)
		}
		if status, body := refresh(t, ts, id, secret, refresh1); status != http.StatusBadRequest {
			t.Errorf("the family's newest refresh token still works after a reuse: %d %v", status, body)
		}
		if got := userinfoStatus(t, ts, access1); got != http.StatusUnauthorized {
			t.Errorf("the family's newest access token still works after a reuse: %d", got)
		}
	})
}

// Refreshes racing with one refresh token: at most one gets tokens, and
// the grant never has two live refresh tokens.
func TestConcurrentRefresh(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect, nil)
		id, secret, v := refreshGrant(t, ts)
		statuses := raceRequests(t, 12, "racing refresh", func() int {
			status, _ := refresh(t, ts, id, secret, v.Token.RefreshToken)
			return status
		})
		if ok := countStatus(statuses, http.StatusOK); ok != 1 {
			t.Errorf("%d refreshes succeeded with one refresh token, want exactly 1 (%v)", ok, statuses)
		}
		db, _ := ts.store().DB()
		var live int
		if err := db.QueryRow(`SELECT count(*) FROM oauth_tokens WHERE kind = 'refresh' AND active`).Scan(&live); err != nil {
			t.Fatal(err)
		}
		if live > 1 {
			t.Errorf("%d live refresh tokens for one grant", live)
		}
	})
}

// A code issued with a PKCE challenge can only be redeemed with its
// verifier: a failed attempt does not make the challenge disappear, so a
// stolen code cannot be redeemed by leaving code_verifier out afterwards
// (fosite takes a missing challenge as "PKCE not used" for confidential
// clients).
func TestPKCECannotBeDropped(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect, nil)
		id, secret := ts.client(oauth.ClientSpec{})
		r := ts.newRP(id, secret)
		a := r.authorize()
		back := ts.newBrowser().signIn(a, "9999900001", "Asha Verma")
		form := url.Values{"grant_type": {"authorization_code"}, "code": {back.Query().Get("code")}, "redirect_uri": {r.conf.RedirectURL}}

		wrong := url.Values{"code_verifier": {oauth2.GenerateVerifier()}}
		for name, extra := range map[string]url.Values{"a wrong verifier": wrong, "no verifier": {}} {
			f := url.Values{}
			for k, v := range form {
				f[k] = v
			}
			for k, v := range extra {
				f[k] = v
			}
			if status, body := tokenRequest(t, ts, id, secret, f); status != http.StatusBadRequest {
				t.Errorf("%s: %d %v, want 400", name, status, body)
			}
		}
		// A second try without the verifier, after the failed one.
		if status, body := tokenRequest(t, ts, id, secret, form); status != http.StatusBadRequest {
			t.Errorf("no verifier after a failed try: %d %v, want 400", status, body)
		}
		form.Set("code_verifier", a.verifier)
		if status, body := tokenRequest(t, ts, id, secret, form); status != http.StatusOK {
			t.Errorf("the right verifier: %d %v", status, body)
		}
	})
}

// Every lifetime the flags set is the one kycvs applies: the sign-in
// challenge (--login-ttl), the OTP (--otp-ttl), the code (--code-ttl),
// access, ID and refresh tokens.
func TestConfiguredLifetimes(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dialect string) {
		clock := kycvstest.NewClock(time.Now())
		ts := newTestServer(t, dialect, func(c *serveConfig) {
			c.now = clock.Now
			c.LoginTTL = 4 * time.Minute
			c.OTPTTL = 90 * time.Second
			c.CodeTTL = 2 * time.Minute
			c.AccessTokenTTL = 7 * time.Minute
			c.IDTokenTTL = 3 * time.Minute
			c.RefreshTokenTTL = 48 * time.Hour
		})
		id, secret := ts.client(oauth.ClientSpec{Scopes: offlineScopes})
		r := ts.newRP(id, secret, offlineScopes...)
		ctx := context.Background()
		st := ts.store()

		a := r.authorize()
		b := ts.newBrowser()
		login := b.Get(a.URL)
		challenge := strings.TrimPrefix(login.URL.Path, "/login/")
		lr, err := st.GetLoginRequest(ctx, challenge)
		if err != nil {
			t.Fatal(err)
		}
		near(t, "sign-in challenge", lr.ExpiresAt.Sub(lr.CreatedAt), 4*time.Minute)
		otpPage := b.Submit(login, login.URL.Path, url.Values{"mobile": {"9999900001"}, "name": {"Asha Verma"}})
		if lr, err = st.GetLoginRequest(ctx, challenge); err != nil || lr.OTPExpiresAt == nil {
			t.Fatalf("after the send: %+v, %v", lr, err)
		}
		near(t, "OTP", lr.OTPExpiresAt.Sub(*lr.OTPSentAt), 90*time.Second)
		back := b.redirected(b.Submit(otpPage, login.URL.Path+"/otp", url.Values{"otp": {ts.lastOTP("+919999900001")}}))

		v := r.finish(a, back)
		near(t, "access token (expires_in)", time.Until(v.Token.Expiry), 7*time.Minute)
		near(t, "ID token", v.IDToken.Expiry.Sub(v.IDToken.IssuedAt), 3*time.Minute)
		db, _ := st.DB()
		for kind, want := range map[string]time.Duration{store.KindAuthorizeCode: 2 * time.Minute, store.KindAccessToken: 7 * time.Minute, store.KindRefreshToken: 48 * time.Hour} {
			var requested, expires time.Time
			q := `SELECT requested_at, expires_at FROM oauth_tokens WHERE kind = '` + kind + `'`
			if err := db.QueryRow(q).Scan(&requested, &expires); err != nil {
				t.Fatalf("%s: %v", kind, err)
			}
			near(t, kind+" row", expires.Sub(requested), want)
		}

		// A code past its 2 minutes is refused.
		a = r.authorize()
		back = ts.newBrowser().signIn(a, "9999900001", "Asha Verma")
		clock.Advance(2*time.Minute + time.Second)
		_, err = r.conf.Exchange(ctx, back.Query().Get("code"), oauth2.VerifierOption(a.verifier))
		var re *oauth2.RetrieveError
		if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
			t.Errorf("exchange of an expired code: %v, want invalid_grant", err)
		}
	})
}

// near fails unless got is want within 2 seconds (token times are rounded
// to the second, and the test takes time).
func near(t *testing.T, what string, got, want time.Duration) {
	t.Helper()
	if d := got - want; d < -2*time.Second || d > 2*time.Second {
		t.Errorf("%s lifetime %s, want %s", what, got, want)
	}
}

// The clean-up job removes what has expired (sign-ins, sessions, tokens,
// OTP counters past the longest limit window), and disclosures and audit
// entries about people past --retention, on its interval, and leaves
// everything else.
func TestCleanupJob(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect, func(c *serveConfig) {
			c.CleanupInterval = 50 * time.Millisecond
			c.Retention = 30 * 24 * time.Hour
		})
		st, ctx := ts.store(), context.Background()
		now := time.Now().UTC()
		// A sign-in is deleted a day after it expired; its mobile and
		// name are cleared at once.
		must(t, st.CreateLoginRequest(ctx, &store.LoginRequest{ID: "expired-kept", ClientID: "c", Form: "x", State: store.LoginPending, Mobile: "+919999900001", Name: "n",
			CreatedAt: now.Add(-time.Hour), ExpiresAt: now.Add(-time.Minute)}))
		for i, exp := range []time.Time{now.Add(-time.Minute), now.Add(time.Hour)} {
			name := []string{"expired", "live"}[i]
			lrExp := exp
			if name == "expired" {
				lrExp = exp.Add(-store.LoginRequestKeep)
			}
			must(t, st.CreateLoginRequest(ctx, &store.LoginRequest{ID: name, ClientID: "c", Form: "x", State: store.LoginPending, CreatedAt: lrExp.Add(-time.Hour), ExpiresAt: lrExp}))
			must(t, st.CreateSession(ctx, &store.Session{ID: name, BeneficiaryID: "b", Mobile: "+919999900001", Name: "n", AuthTime: now, CreatedAt: now.Add(-time.Hour), ExpiresAt: exp}))
			must(t, st.CreateToken(ctx, &store.OAuthToken{Kind: store.KindAccessToken, Signature: name, RequestID: name, ClientID: "c", RequestedAt: now.Add(-time.Hour), ExpiresAt: exp, Session: []byte("{}"), Active: true}))
		}
		must(t, st.RecordOTPSend(ctx, now.Add(-26*time.Hour), store.Limit{Key: "cleanup:old"}))
		must(t, st.RecordOTPSend(ctx, now.Add(-23*time.Hour), store.Limit{Key: "cleanup:recent"}))
		for i, at := range []time.Time{now.Add(-31 * 24 * time.Hour), now.Add(-29 * 24 * time.Hour)} {
			name := []string{"past-retention", "within-retention"}[i]
			must(t, st.CreateDisclosure(ctx, &store.Disclosure{ID: name, ClientID: "c", BeneficiaryID: "b", Subject: "s", Channel: "authorize", CreatedAt: at}))
			must(t, st.CreateAuditEntry(ctx, &store.AuditEntry{ID: name, At: at, Action: "beneficiary.update", TargetType: "beneficiary", TargetID: "b"}))
		}
		disclosures := func() int {
			ds, err := st.ListDisclosures(ctx, store.DisclosureFilter{})
			must(t, err)
			return len(ds)
		}

		gone := func() bool {
			_, e1 := st.GetLoginRequest(ctx, "expired")
			_, e2 := st.GetToken(ctx, store.KindAccessToken, "expired")
			n, _ := st.CountOTPEvents(ctx, "cleanup:old", now.Add(-30*time.Hour))
			kept, e3 := st.GetLoginRequest(ctx, "expired-kept")
			entries, _, e4 := st.ListAuditEntries(ctx, store.AuditFilter{TargetType: "beneficiary"})
			return errors.Is(e1, store.ErrNotFound) && errors.Is(e2, store.ErrNotFound) && n == 0 && disclosures() == 1 &&
				e3 == nil && kept.Mobile == "" && kept.Name == "" && e4 == nil && len(entries) == 1
		}
		// The clean-up's pass deletes in several statements: wait for its
		// last (the audit entries) before the checks below.
		deadline := time.Now().Add(30 * time.Second)
		for !gone() {
			if time.Now().After(deadline) {
				t.Fatal("expired rows still there 30 seconds later")
			}
			time.Sleep(20 * time.Millisecond)
		}
		db, _ := st.DB()
		var sessions int
		must(t, db.QueryRow(`SELECT count(*) FROM sessions WHERE id = 'expired'`).Scan(&sessions))
		if sessions != 0 {
			t.Error("the expired session is still there")
		}
		if _, err := st.GetLoginRequest(ctx, "live"); err != nil {
			t.Errorf("live sign-in: %v", err)
		}
		if _, err := st.GetToken(ctx, store.KindAccessToken, "live"); err != nil {
			t.Errorf("live token: %v", err)
		}
		if _, err := st.GetSession(ctx, "live", now); err != nil {
			t.Errorf("live session: %v", err)
		}
		if n, _ := st.CountOTPEvents(ctx, "cleanup:recent", now.Add(-30*time.Hour)); n != 1 {
			t.Errorf("an OTP counter inside the daily window was deleted")
		}
		ds, err := st.ListDisclosures(ctx, store.DisclosureFilter{})
		must(t, err)
		entries, _, err := st.ListAuditEntries(ctx, store.AuditFilter{TargetType: "beneficiary"})
		must(t, err)
		if len(ds) != 1 || ds[0].ID != "within-retention" || len(entries) != 1 || entries[0].ID != "within-retention" {
			t.Errorf("after retention: disclosures %+v, audit entries %+v; want only the ones within it", ds, entries)
		}
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// The limit, lifetime and listener flags are checked with everything else
// before anything starts.
func TestServeConfigValidationOfLimitsAndLifetimes(t *testing.T) {
	_, err := kycvs(t, "serve", "--issuer", "https://kycvs.example", "--secret", testSecret, "--sms", "log",
		"--code-ttl", "0s", "--access-token-ttl", "-1s", "--id-token-ttl", "0s", "--refresh-token-ttl", "0s",
		"--cleanup-interval", "0s", "--otp-hourly-limit", "-1", "--client-otp-limit", "-1", "--sms-max-concurrent", "-1",
		"--retention", "-24h", "--addr", "127.0.0.1:8080", "--metrics-addr", "127.0.0.1:8080", "--database-max-conns", "0")
	if err == nil || exitCode(err) != 2 {
		t.Fatalf("serve accepted bad limits and lifetimes: %v", err)
	}
	for _, want := range []string{"--code-ttl", "--access-token-ttl", "--id-token-ttl", "--refresh-token-ttl", "--cleanup-interval",
		"--otp-hourly-limit", "--client-otp-limit", "--sms-max-concurrent", "--metrics-addr", "--retention", "--database-max-conns"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %s: %v", want, err)
		}
	}
}
