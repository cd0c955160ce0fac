package main

import (
	"bytes"
	"context"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/kycvs/kycvs/admin"
	"github.com/kycvs/kycvs/oauth"
	"github.com/kycvs/kycvs/otp"
	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/store/storetest"
)

// regexpParam matches a route's parameters (":id", "*filepath").
var regexpParam = regexp.MustCompile(`[:*][a-z_]+`)

// Every route with an ID in its path answers 404 for an ID that is not
// UTF-8 text or holds a control character, and IDs elsewhere in a request
// (query, form) never reach PostgreSQL either: no 500 (SQLSTATE 22021).
func TestIllFormedIDs(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect, nil)
		id, secret := ts.client(oauth.ClientSpec{})
		b := newRawBrowser(t, ts.URL)
		for _, r := range ts.srv.engine.Routes() {
			if !strings.Contains(r.Path, ":") || strings.HasPrefix(r.Path, "/admin") {
				continue // the console's routes: admin TestIllFormedIDsAreNotFound
			}
			for _, bad := range []string{"abc%00def", "%00", "%ff", "a%0Ab"} {
				path := regexpParam.ReplaceAllString(r.Path, bad)
				var form url.Values
				if r.Method != http.MethodGet && r.Method != http.MethodHead {
					form = url.Values{}
				}
				resp, _ := b.do(r.Method, path, form)
				if resp.StatusCode != http.StatusNotFound {
					t.Errorf("%s %s: %d, want 404", r.Method, path, resp.StatusCode)
				}
			}
		}
		q := authorizeQuery(id)
		q.Set("client_id", "a\x00b")
		for name, path := range map[string]string{
			"authorize, NUL client": oauth.PathAuth + "?" + q.Encode(),
			"authorize, bad UTF-8":  oauth.PathAuth + "?" + strings.ReplaceAll(q.Encode(), "%00", "%ff"),
			"logout, NUL client":    oauth.PathEndSession + "?client_id=%00&post_logout_redirect_uri=x",
		} {
			if resp, body := b.do(http.MethodGet, path, nil); resp.StatusCode >= 500 {
				t.Errorf("%s: %d %s", name, resp.StatusCode, body)
			}
		}
		for _, form := range []url.Values{
			{"grant_type": {"authorization_code"}, "code": {"a\x00b"}, "client_id": {id}, "client_secret": {secret}, "redirect_uri": {"http://127.0.0.1:9/callback"}},
			{"grant_type": {"authorization_code"}, "code": {"x"}, "client_id": {"a\xffb"}, "client_secret": {secret}},
			{"grant_type": {"refresh_token"}, "refresh_token": {"a\x00b.c"}, "client_id": {id}, "client_secret": {secret}},
		} {
			if resp, body := b.do(http.MethodPost, oauth.PathToken, form); resp.StatusCode >= 500 {
				t.Errorf("token %v: %d %s", form, resp.StatusCode, body)
			}
		}
	})
}

// A multipart authorization request is refused before fosite parses it
// itself: the exact redirect check once read only the query, and fosite
// took the body's redirect_uri on any loopback port.
func TestAuthorizeRefusesMultipart(t *testing.T) {
	ts := newTestServer(t, "sqlite", nil)
	id, _ := ts.client(oauth.ClientSpec{})
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	q := authorizeQuery(id)
	q.Set("redirect_uri", "http://127.0.0.1:8888/callback")
	for k := range q {
		if k != "client_id" {
			mw.WriteField(k, q.Get(k))
		}
	}
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, ts.URL+oauth.PathAuth+"?client_id="+id, &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	text := readAll(resp)
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" || !strings.Contains(text, "This sign-in link is not valid") {
		t.Fatalf("multipart authorization request: %d to %q: %s", resp.StatusCode, resp.Header.Get("Location"), text)
	}
	if n := countRows(t, ts, "login_requests"); n != 0 {
		t.Errorf("%d login requests stored", n)
	}
}

func countRows(t *testing.T, ts *testServer, table string) int {
	t.Helper()
	db, err := ts.store().DB()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM " + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// Only the parameters kycvs reads are stored with a login request, each
// capped: a longer one, or one sent twice, is invalid_request at the
// client's redirect URI and nothing is stored; unknown ones are dropped.
// A nonce too short to be random is refused too.
func TestAuthorizeParameterLimits(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect, nil)
		id, _ := ts.client(oauth.ClientSpec{})
		refused := map[string]func(url.Values){
			"63 KB ui_locales":   func(q url.Values) { q.Set("ui_locales", strings.Repeat("en ", 21000)) },
			"long state":         func(q url.Values) { q.Set("state", strings.Repeat("s", 1025)) },
			"long claims":        func(q url.Values) { q.Set("claims", `{"userinfo":{"name":null,"x":"`+strings.Repeat("x", 3000)+`"}}`) },
			"state twice":        func(q url.Values) { q.Add("state", "state-another-one") },
			"three-letter nonce": func(q url.Values) { q.Set("nonce", "abc") },
		}
		for name, mod := range refused {
			for _, post := range []bool{false, true} {
				q := authorizeQuery(id)
				mod(q)
				b := newRawBrowser(t, ts.URL)
				var resp *http.Response
				if post {
					resp, _ = b.do(http.MethodPost, oauth.PathAuth, q)
				} else {
					resp, _ = b.do(http.MethodGet, oauth.PathAuth+"?"+q.Encode(), nil)
				}
				loc, _ := url.Parse(resp.Header.Get("Location"))
				if loc == nil || !strings.HasPrefix(loc.String(), "http://127.0.0.1:9/callback?") || loc.Query().Get("error") != "invalid_request" {
					t.Errorf("%s (POST %v): %d %s, want invalid_request at the redirect URI", name, post, resp.StatusCode, loc)
				}
				if len(loc.String()) > 4096 {
					t.Errorf("%s: the refusal echoes %d bytes", name, len(loc.String()))
				}
			}
		}
		if n := countRows(t, ts, "login_requests"); n != 0 {
			t.Fatalf("%d login requests stored for refused requests", n)
		}

		q := authorizeQuery(id)
		q.Set("x_tracking", strings.Repeat("t", 30000))
		q.Set("ui_locales", "hi en")
		resp, _ := newRawBrowser(t, ts.URL).do(http.MethodGet, oauth.PathAuth+"?"+q.Encode(), nil)
		challenge, ok := strings.CutPrefix(mustParse(t, resp.Header.Get("Location")).Path, "/login/")
		if !ok {
			t.Fatalf("a request with an unknown parameter: %d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
		lr, err := ts.store().GetLoginRequest(context.Background(), challenge)
		if err != nil {
			t.Fatal(err)
		}
		stored, _ := url.ParseQuery(lr.Form)
		if stored.Has("x_tracking") || stored.Get("ui_locales") != "hi en" || len(lr.Form) > 1024 {
			t.Errorf("stored form: %q", lr.Form)
		}
	})
}

// Claims a client received through the claims parameter are re-checked
// against its registration at every userinfo call and refresh: once an
// admin takes profile and phone from the client, its tokens no longer
// carry name or phone_number.
func TestClaimsFollowTheClientsScopes(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect, nil)
		ctx := context.Background()
		scopes := []string{"openid", "vaccination_status", "profile", "phone", "offline_access"}
		id, secret := ts.client(oauth.ClientSpec{Scopes: scopes})
		r := ts.newRP(id, secret, "openid", "vaccination_status", "offline_access")
		a := r.authorize(oauth2.SetAuthURLParam("claims", `{"userinfo":{"name":null,"phone_number":null},"id_token":{"name":null}}`))
		v := r.finish(a, ts.newBrowser().signIn(a, "9999900001", "Asha Verma"))
		if v.Userinfo["name"] == nil || v.Userinfo["phone_number"] == nil || v.Claims["name"] == nil {
			t.Fatalf("before: userinfo %v, ID token %v", v.Userinfo, v.Claims)
		}
		if _, err := ts.store().UpdateClient(ctx, id, func(c *store.Client) error {
			c.Scopes = []string{"openid", "vaccination_status", "offline_access"}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		ui, err := r.provider.UserInfo(ctx, oauth2.StaticTokenSource(v.Token))
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]any
		ui.Claims(&got)
		if got["name"] != nil || got["phone_number"] != nil || got["vaccination_status"] == nil {
			t.Errorf("userinfo after the scopes were taken away: %v", got)
		}
		status, body := refresh(t, ts, id, secret, v.Token.RefreshToken)
		if status != http.StatusOK {
			t.Fatalf("refresh: %d %v", status, body)
		}
		idt, err := r.verifier.Verify(ctx, body["id_token"].(string))
		if err != nil {
			t.Fatal(err)
		}
		var fresh map[string]any
		idt.Claims(&fresh)
		if fresh["name"] != nil || fresh["vaccination_status"] == nil {
			t.Errorf("refreshed ID token: %v", fresh)
		}
		tok := &oauth2.Token{AccessToken: body["access_token"].(string), TokenType: "Bearer"}
		ui, err = r.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
		if err != nil {
			t.Fatal(err)
		}
		got = nil
		ui.Claims(&got)
		if got["name"] != nil || got["phone_number"] != nil {
			t.Errorf("userinfo with the refreshed token: %v", got)
		}
		ds, err := ts.store().ListDisclosures(ctx, store.DisclosureFilter{ClientID: id})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ds[:3] { // newest first: the three answers after the change
			if slices.Contains(d.Claims, "name") || slices.Contains(d.Claims, "phone_number") {
				t.Errorf("disclosure %s records %v", d.Channel, d.Claims)
			}
		}
	})
}

// consoleSignIn posts a mobile to the admin console's sign-in form in a
// fresh browser and returns the answer's status.
func consoleSignIn(t *testing.T, ts *testServer, mobile string) int {
	t.Helper()
	b := ts.newBrowser().NoFollow()
	login := b.Get("/admin/login")
	return b.Submit(login, "/admin/login", url.Values{"mobile": {mobile}}).Status
}

// The console's sign-in answers an admin's mobile without waiting for the
// SMS gateway, so it cannot be told from any other mobile by its timing:
// the code goes out in the background (once an admin's answer waited for
// the gateway: 0.33 s against 0.005 s). The gateway here holds every
// request and the sender's timeout is an hour, so a sign-in that waited
// would not answer until the watchdog let the gateway go.
func TestConsoleSignInDoesNotWaitForTheGateway(t *testing.T) {
	gw := newSMSGateway(t)
	gw.Hold()
	ts := newTestServer(t, "sqlite", func(c *serveConfig) {
		c.SMS, c.SMSWebhookSecret = gw.Spec(), gatewaySecret
		c.SMSTimeout, c.OTPResendInterval = time.Hour, 0
	})
	const adminMobile, otherMobile = "9999900010", "9999900099"
	svc := cliService(ts.store(), testSecret, nil)
	if _, err := svc.AddAdminUser(context.Background(), admin.CLIActor("test", "host"), adminMobile, "Owner", admin.RoleOwner); err != nil {
		t.Fatal(err)
	}
	watchdog := time.AfterFunc(20*time.Second, gw.Release)
	for _, mobile := range []string{adminMobile, otherMobile} {
		for range otp.ConsoleHourlyLimit { // each mobile's console codes in an hour
			if status := consoleSignIn(t, ts, mobile); status != http.StatusSeeOther {
				t.Fatalf("%s: %d", mobile, status)
			}
		}
	}
	if !watchdog.Stop() {
		gw.Release()
		t.Fatal("a console sign-in answered only once the SMS gateway did")
	}
	// Each of the admin's codes reached the gateway, which still holds them.
	arrived := gw.WaitArrived(otp.ConsoleHourlyLimit, 10*time.Second)
	gw.Release()
	if !arrived {
		t.Fatal("the admin's codes never reached the gateway")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	gw.waitCode(ctx, "+91"+adminMobile, otp.ConsoleHourlyLimit-1) // the last of them
	if got := gw.Delivered("+91" + adminMobile); got != otp.ConsoleHourlyLimit {
		t.Errorf("%d codes delivered to the admin, want %d", got, otp.ConsoleHourlyLimit)
	}
	if got := gw.Delivered("+91" + otherMobile); got != 0 {
		t.Errorf("%d codes delivered to a mobile that is no admin's, want 0", got)
	}
}

// Console sign-ins for a mobile that is no admin's (their codes withheld,
// no SMS sent) are never charged to the mobile's limits: twenty of them
// leave the person's own verification unaffected. Once, ten an hour from
// one address kept anyone locked out, silently.
func TestConsoleSignInsDoNotLockOutAMobile(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect, func(c *serveConfig) { c.OTPResendInterval = 0 })
		for i := range otp.ConsoleHourlyLimit {
			if status := consoleSignIn(t, ts, "9999900001"); status != http.StatusSeeOther {
				t.Fatalf("console sign-in %d: %d", i+1, status)
			}
		}
		// The console's own limit per mobile, charged whether or not the
		// mobile is an admin's, apart from the verification's counters.
		if status := consoleSignIn(t, ts, "9999900001"); status != http.StatusTooManyRequests {
			t.Fatalf("console sign-in %d for one mobile in an hour: %d, want 429", otp.ConsoleHourlyLimit+1, status)
		}
		for i := otp.ConsoleHourlyLimit; i < otp.ConsoleIPLimit; i++ {
			if status := consoleSignIn(t, ts, fmt.Sprintf("99999001%02d", i)); status != http.StatusSeeOther {
				t.Fatalf("console sign-in %d: %d", i+1, status)
			}
		}
		id, secret := ts.client(oauth.ClientSpec{})
		r := ts.newRP(id, secret)
		a := r.authorize()
		if v := r.finish(a, ts.newBrowser().signIn(a, "9999900001", "Asha Verma")); v.Status < 0 {
			t.Fatal("no status after the console sign-ins")
		}
		// The console's own bucket per address still holds.
		if status := consoleSignIn(t, ts, "9999900001"); status != http.StatusTooManyRequests {
			t.Errorf("sign-in %d from one address in an hour: %d, want 429", otp.ConsoleIPLimit+1, status)
		}
	})
}

// A public client that sends a secret at the token endpoint is refused
// with invalid_client: fosite ignored it, and the request went through.
func TestPublicClientWithASecret(t *testing.T) {
	ts := newTestServer(t, "sqlite", nil)
	id, _ := ts.client(oauth.ClientSpec{Public: true})
	for name, form := range map[string]url.Values{
		"secret in the body": {"grant_type": {"authorization_code"}, "code": {"x"}, "client_id": {id}, "client_secret": {"bogus"}, "redirect_uri": {"http://127.0.0.1:9/callback"}, "code_verifier": {strings.Repeat("v", 43)}},
	} {
		status, body := tokenRequest(t, ts, "", "", form)
		if status != http.StatusUnauthorized || body["error"] != "invalid_client" {
			t.Errorf("%s: %d %v", name, status, body)
		}
	}
	status, body := tokenRequest(t, ts, id, "bogus", url.Values{"grant_type": {"authorization_code"}, "code": {"x"}, "redirect_uri": {"http://127.0.0.1:9/callback"}, "code_verifier": {strings.Repeat("v", 43)}})
	if status != http.StatusUnauthorized || body["error"] != "invalid_client" {
		t.Errorf("secret in Basic: %d %v", status, body)
	}
	// With no secret, the same bad code is the code's problem, as before.
	status, body = tokenRequest(t, ts, "", "", url.Values{"grant_type": {"authorization_code"}, "code": {"x"}, "client_id": {id}, "redirect_uri": {"http://127.0.0.1:9/callback"}, "code_verifier": {strings.Repeat("v", 43)}})
	if body["error"] != "invalid_grant" {
		t.Errorf("no secret: %d %v", status, body)
	}
}
