package admin_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/kycvs/kycvs/admin"
	"github.com/kycvs/kycvs/internal/kycvstest"
	"github.com/kycvs/kycvs/kycvsapi"
	"github.com/kycvs/kycvs/store"
)

// browser is an admin's browser on a server of the console (its Base),
// with the console's own steps: signing in, reading a secret shown once.
type browser struct {
	*kycvstest.Browser
	t *testing.T
}

func (ts *testServer) browser() *browser {
	ts.t.Helper()
	srv := httptest.NewServer(ts.site)
	ts.t.Cleanup(srv.Close)
	b := kycvstest.NewBrowser(ts.t)
	b.Base = srv.URL
	return &browser{Browser: b, t: ts.t}
}

// wantShownOnce checks that p is the page a form's POST redirected to
// with a 303 and shows the secret re matches, which is not in the URL,
// and that a reload of that page no longer shows it but says it was shown
// once. It returns the secret.
func (b *browser) wantShownOnce(p kycvstest.Page, re *regexp.Regexp) string {
	b.t.Helper()
	m := re.FindStringSubmatch(p.Body)
	if p.RedirectedBy != http.StatusSeeOther || p.Status != http.StatusOK || m == nil || !strings.HasPrefix(p.URL.RawQuery, "shown=") || strings.Contains(p.URL.RawQuery, m[1]) {
		b.t.Fatalf("the secret's page: %d after %d, %s?%s: %s", p.Status, p.RedirectedBy, p.URL.Path, p.URL.RawQuery, p.Body)
	}
	again := b.Get(p.URL.Path + "?" + p.URL.RawQuery)
	if again.Status != http.StatusOK || strings.Contains(again.Body, m[1]) || !strings.Contains(again.Body, "The secret was shown once") {
		b.t.Fatalf("the secret's page reloaded: %d %s", again.Status, again.Body)
	}
	return m[1]
}

var (
	secretShown       = regexp.MustCompile(`<code id="client-secret">([^<]+)</code>`)
	apiKeyShown       = regexp.MustCompile(`<code id="api-key">([^<]+)</code>`)
	initialTokenShown = regexp.MustCompile(`<code id="initial-token">([^<]+)</code>`)
)

// signIn signs the admin with mobile in by OTP and returns the dashboard.
func (b *browser) signIn(ts *testServer, mobile string) kycvstest.Page {
	b.t.Helper()
	ts.clock.Advance(time.Minute) // past the resend wait of a previous sign-in
	login := b.Get("/admin/login")
	otp := b.Submit(login, "/admin/login", url.Values{"mobile": {mobile}})
	if otp.URL.Path != "/admin/login/otp" || !strings.Contains(otp.Body, `name="otp"`) {
		b.t.Fatalf("after the mobile: %d %s %s", otp.Status, otp.URL.Path, otp.Body)
	}
	dash := b.Submit(otp, "/admin/login/otp", url.Values{"otp": {ts.sms.LastCode(b.t, "+91"+mobile)}})
	if dash.URL.Path == "/admin/login/totp" {
		dash = b.Submit(dash, "/admin/login/totp", url.Values{"totp": {ts.totpCode(mobile)}})
	}
	if dash.Status != http.StatusOK || dash.URL.Path != "/admin" || !strings.Contains(dash.Body, "Dashboard") {
		b.t.Fatalf("after the code: %d %s %s", dash.Status, dash.URL.Path, dash.Body)
	}
	return dash
}

func (ts *testServer) addUser(mobile string, role admin.Role) *store.AdminUser {
	ts.t.Helper()
	u, err := ts.svc.AddAdminUser(context.Background(), cliActor, mobile, "Admin "+string(role), role)
	if err != nil {
		ts.t.Fatal(err)
	}
	if role == admin.RoleOwner {
		ts.enrollTOTP(mobile) // an owner signs in with an authenticator too
	}
	return u
}

// enrollTOTP enrolls an authenticator for the admin with mobile; signIn
// then enters its code.
func (ts *testServer) enrollTOTP(mobile string) string {
	ts.t.Helper()
	e, err := ts.svc.EnrollTOTP(context.Background(), cliActor, mobile)
	if err != nil {
		ts.t.Fatal(err)
	}
	ts.totp["+91"+mobile] = e.Secret
	return e.Secret
}

// totpCode is the authenticator code of the admin with mobile now.
func (ts *testServer) totpCode(mobile string) string {
	ts.t.Helper()
	code, err := totp.GenerateCode(ts.totp["+91"+mobile], ts.clock.Now())
	if err != nil {
		ts.t.Fatal(err)
	}
	return code
}

func TestConsoleSignIn(t *testing.T) {
	forEachBackend(t, func(t *testing.T, ts *testServer) {
		ts.addUser("9999900010", admin.RoleOwner)

		t.Run("an admin signs in with the code sent to their mobile", func(t *testing.T) {
			b := ts.browser()
			if p := b.Get("/admin"); p.URL.Path != "/admin/login" {
				t.Fatalf("signed out: %s", p.URL.Path)
			}
			dash := b.signIn(ts, "9999900010")
			if !strings.Contains(dash.Body, "Admin owner · owner") {
				t.Errorf("dashboard does not say who: %s", dash.Body)
			}
			if sent := ts.sms.All(); !strings.Contains(sent[len(sent)-1].Text, "admin console") {
				t.Errorf("SMS: %q", sent[len(sent)-1].Text)
			}
			// The idle timeout ends the session; a request within it keeps it.
			ts.clock.Advance(admin.DefaultIdleTimeout - time.Minute)
			if p := b.Get("/admin/clients"); p.URL.Path != "/admin/clients" {
				t.Fatalf("within the idle timeout: %s", p.URL.Path)
			}
			ts.clock.Advance(admin.DefaultIdleTimeout - time.Minute)
			if p := b.Get("/admin/clients"); p.URL.Path != "/admin/clients" {
				t.Fatalf("active session: %s", p.URL.Path)
			}
			ts.clock.Advance(admin.DefaultIdleTimeout + time.Second)
			if p := b.Get("/admin/clients"); p.URL.Path != "/admin/login" {
				t.Fatalf("after the idle timeout: %s", p.URL.Path)
			}
		})

		t.Run("sign out", func(t *testing.T) {
			b := ts.browser()
			dash := b.signIn(ts, "9999900010")
			out := b.Submit(dash, "/admin/logout", url.Values{})
			if out.URL.Path != "/admin/login" || !strings.Contains(out.Body, "signed out") {
				t.Fatalf("sign out: %s %s", out.URL.Path, out.Body)
			}
			if p := b.Get("/admin"); p.URL.Path != "/admin/login" {
				t.Fatal("still signed in")
			}
		})

		t.Run("a second code within the resend wait is refused", func(t *testing.T) {
			b := ts.browser()
			b.signIn(ts, "9999900010")
			p := b.Submit(b.Get("/admin/login"), "/admin/login", url.Values{"mobile": {"9999900010"}})
			if p.Status != http.StatusTooManyRequests || !strings.Contains(p.Body, "Wait") || p.Header.Get("Retry-After") == "" {
				t.Errorf("second code at once: %d %s", p.Status, p.Body)
			}
		})

		t.Run("wrong codes lock the sign-in; a mobile that is no admin's looks the same", func(t *testing.T) {
			for _, mobile := range []string{"9999900010", "9999900099"} {
				ts.clock.Advance(time.Minute)
				b := ts.browser()
				sent := len(ts.sms.All()) // the previous admin's code included, sent in the background
				otp := b.Submit(b.Get("/admin/login"), "/admin/login", url.Values{"mobile": {mobile}})
				if otp.URL.Path != "/admin/login/otp" || !strings.Contains(otp.Body, "******"+mobile[6:]) {
					t.Fatalf("%s: %s", mobile, otp.Body)
				}
				if mobile == "9999900099" && len(ts.sms.All()) != sent {
					t.Error("an SMS went to a mobile that is no admin's")
				}
				p := b.Submit(otp, "/admin/login/otp", url.Values{"otp": {"000000"}})
				if p.Status != http.StatusBadRequest || !strings.Contains(p.Body, "2 tries left") {
					t.Fatalf("%s, first wrong code: %d %s", mobile, p.Status, p.Body)
				}
				p = b.Submit(p, "/admin/login/otp", url.Values{"otp": {"000001"}})
				p = b.Submit(p, "/admin/login/otp", url.Values{"otp": {"000002"}})
				if p.Status != http.StatusForbidden || !strings.Contains(p.Body, "Too many wrong codes") {
					t.Fatalf("%s, third wrong code: %d %s", mobile, p.Status, p.Body)
				}
				if p := b.Get("/admin/login/otp"); p.URL.Path != "/admin/login" {
					t.Errorf("%s: the dead sign-in still asks for a code", mobile)
				}
			}
		})

		t.Run("a form without the CSRF token is refused", func(t *testing.T) {
			b := ts.browser()
			dash := b.signIn(ts, "9999900010")
			_ = dash
			if p := b.Post("/admin/keys/rotate", url.Values{"alg": {"RS256"}}); p.Status != http.StatusForbidden {
				t.Errorf("no CSRF token: %d", p.Status)
			}
		})

		t.Run("the CSRF token is renewed at sign-in", func(t *testing.T) {
			b := ts.browser()
			login := b.Get("/admin/login")
			dash := b.signIn(ts, "9999900010")
			before, after := login.Hidden("csrf_token"), dash.Hidden("csrf_token")
			if before == after {
				t.Fatal("the token of the sign-in page still works on the dashboard")
			}
			if p := b.Post("/admin/keys/rotate", url.Values{"alg": {"RS256"}, "csrf_token": {before}}); p.Status != http.StatusForbidden {
				t.Errorf("the token from before the sign-in: %d", p.Status)
			}
		})

		t.Run("cookies", func(t *testing.T) {
			b := ts.browser()
			b.signIn(ts, "9999900010")
			u, _ := url.Parse(b.Base + "/admin")
			found := false
			for _, c := range b.Client.Jar.Cookies(u) {
				if c.Name == admin.SessionCookie {
					found = true
				}
			}
			if !found {
				t.Fatal("no session cookie")
			}
			root, _ := url.Parse(b.Base + "/")
			for _, c := range b.Client.Jar.Cookies(root) {
				if c.Name == admin.SessionCookie {
					t.Error("the admin session cookie is sent outside /admin")
				}
			}
		})
	})
}

// Every console route enforces its permission for every role.
func TestConsolePermissions(t *testing.T) {
	ts := newTestServer(t, "sqlite")
	for i, role := range admin.Roles {
		mobile := "99999000" + string(rune('2'+i)) + "0"
		ts.addUser(mobile, role)
		b := ts.browser()
		dash := b.signIn(ts, mobile)
		for _, r := range ts.console.ConsoleRoutes() {
			method, path, perm := r[0], strings.NewReplacer(":id", "nope", ":kid", "nope", ":key_id", "kycvs_0000000000000000").Replace(r[1]), admin.Permission(r[2])
			var p kycvstest.Page
			if method == http.MethodGet {
				p = b.Get(path)
			} else {
				p = b.Post(path, url.Values{"csrf_token": {dash.Hidden("csrf_token")}})
			}
			if forbidden, want := p.Status == http.StatusForbidden, !role.Can(perm); forbidden != want {
				t.Errorf("%s %s %s: %d (forbidden %v, want %v)", role, method, path, p.Status, forbidden, want)
			}
			if p.Status >= 500 {
				t.Errorf("%s %s %s: %d %s", role, method, path, p.Status, p.Body)
			}
		}
	}
}

// An owner goes through the console: registers a client (secret shown
// once, with the copy button), edits it, rotates its secret, disables
// it, finds disclosures and exports them, rotates a key, reads the audit
// log.
func TestConsoleWork(t *testing.T) {
	ts := newTestServer(t, "sqlite")
	ts.addUser("9999900010", admin.RoleOwner)
	b := ts.browser()
	dash := b.signIn(ts, "9999900010")

	form := b.Get("/admin/clients/new")
	created := b.Submit(form, "/admin/clients", url.Values{"client_id": {"air"}, "name": {"Example Air"}, "redirect_uris": {"https://air.example/cb\n"},
		"post_logout_redirect_uris": {"https://air.example/bye\n"}, "scopes": {"openid", "vaccination_status"}, "contacts": {"ops@air.example"},
		"backchannel_logout_uri": {" https://air.example/bc "}, "backchannel_logout_session_required": {"on"}})
	m := []string{"", b.wantShownOnce(created, secretShown)}
	if created.URL.Path != "/admin/clients/air" || !strings.Contains(created.Body, `data-copy="client-secret"`) || !strings.Contains(created.Body, "/admin/static/copy.js") ||
		!strings.Contains(created.Body, "The client is registered.") {
		t.Fatalf("create: %d %s", created.Status, created.Body)
	}
	if ts.token("air", m[1]) != "invalid_grant" {
		t.Fatal("the secret shown does not authenticate")
	}
	if c, err := ts.st.GetClient(context.Background(), "air"); err != nil || !slices.Equal(c.PostLogoutRedirectURIs, []string{"https://air.example/bye"}) ||
		c.BackchannelLogoutURI != "https://air.example/bc" || !c.BackchannelLogoutSessionRequired ||
		!slices.Equal(c.RedirectURIs, []string{"https://air.example/cb"}) {
		t.Fatalf("stored client: %+v %v", c, err)
	}
	if p := b.Get("/admin/clients/air"); strings.Contains(p.Body, m[1]) {
		t.Fatal("the secret is shown again")
	}
	bad := b.Submit(form, "/admin/clients", url.Values{"name": {""}, "redirect_uris": {"ftp://x"}})
	if bad.Status != http.StatusUnprocessableEntity || !strings.Contains(bad.Body, "must be https") {
		t.Errorf("invalid client: %d %s", bad.Status, bad.Body)
	}

	page := b.Get("/admin/clients/air")
	saved := b.Submit(page, "/admin/clients/air", url.Values{"name": {"Example Airways"}, "redirect_uris": {"https://air.example/cb"}, "scopes": {"openid", "vaccination_status"}})
	if saved.URL.Path != "/admin/clients/air" || !strings.Contains(saved.Body, "Saved.") || !strings.Contains(saved.Body, "Example Airways") {
		t.Errorf("edit: %d %s", saved.Status, saved.Body)
	}
	rotated := b.Submit(saved, "/admin/clients/air/rotate-secret", url.Values{"grace_period_seconds": {"3600"}})
	m2 := []string{"", b.wantShownOnce(rotated, secretShown)}
	if m2[1] == m[1] || ts.token("air", m[1]) != "invalid_grant" || ts.token("air", m2[1]) != "invalid_grant" ||
		!strings.Contains(rotated.Body, "The old one keeps working until") {
		t.Fatalf("rotate: %s", rotated.Body)
	}
	// The page a rotation redirects to shows the secret only to the
	// session that made it: another session of the same admin reads
	// nothing there and leaves it waiting.
	resp := b.NoFollow().Submit(rotated, "/admin/clients/air/rotate-secret", url.Values{"grace_period_seconds": {"3600"}})
	loc := resp.Location
	if resp.Status != http.StatusSeeOther || !strings.HasPrefix(loc, "/admin/clients/air?shown=") {
		t.Fatalf("rotate: %d %q", resp.Status, loc)
	}
	other := ts.browser()
	other.signIn(ts, "9999900010")
	if p := other.Get(loc); secretShown.MatchString(p.Body) || !strings.Contains(p.Body, "The secret was shown once") {
		t.Fatalf("another session read the secret: %s", p.Body)
	}
	third := b.Get(loc)
	m3 := secretShown.FindStringSubmatch(third.Body)
	if m3 == nil || ts.token("air", m3[1]) != "invalid_grant" {
		t.Fatalf("the rotating session's page: %s", third.Body)
	}
	m2 = m3
	disabled := b.Submit(rotated, "/admin/clients/air/disable", url.Values{})
	if !strings.Contains(disabled.Body, "disabled") || ts.token("air", m2[1]) != "invalid_client" {
		t.Errorf("disable: %s", disabled.Body)
	}

	// Disclosures: filters, paging and export.
	ctx := context.Background()
	two := 2
	if err := ts.st.CreateDisclosure(ctx, &store.Disclosure{ID: "d1", ClientID: "air", BeneficiaryID: "B-77", Subject: "s", Channel: "authorize", RequestID: "r", VaccinationStatus: &two}); err != nil {
		t.Fatal(err)
	}
	list := b.Get("/admin/disclosures?client_id=air&status=2")
	if !strings.Contains(list.Body, "B-77") || !strings.Contains(list.Body, "fully vaccinated") {
		t.Errorf("disclosures: %s", list.Body)
	}
	if p := b.Get("/admin/disclosures?client_id=air&status=1"); strings.Contains(p.Body, "B-77") {
		t.Error("status filter ignored")
	}
	if p := b.Get("/admin/disclosures?since=nonsense"); p.Status != http.StatusBadRequest {
		t.Errorf("bad filter: %d", p.Status)
	}
	csv := b.Get("/admin/disclosures.csv?client_id=air")
	if csv.Status != http.StatusOK || !strings.Contains(csv.Body, "d1,") || !strings.HasPrefix(csv.Header.Get("Content-Type"), "text/csv") {
		t.Errorf("export: %d %s", csv.Status, csv.Body)
	}

	// Registry: create, find, edit.
	nb := b.Get("/admin/registry/new")
	p := b.Submit(nb, "/admin/registry", url.Values{"beneficiary_id": {"B-1"}, "mobile": {"9876543210"}, "name": {"Asha Verma"}, "year_of_birth": {"1985"},
		"doses": {"Covishield, 1, 2, 2021-05-10"}})
	if p.URL.Path != "/admin/registry/B-1" || !strings.Contains(p.Body, "partially vaccinated") {
		t.Fatalf("create beneficiary: %d %s", p.Status, p.Body)
	}
	p = b.Submit(p, "/admin/registry/B-1", url.Values{"mobile": {"9876543210"}, "name": {"Asha Verma"}, "year_of_birth": {"1985"},
		"doses": {"Covishield, 1, 2, 2021-05-10\nCovishield, 2, 2, 2021-08-02"}})
	if !strings.Contains(p.Body, "fully vaccinated") {
		t.Errorf("edit beneficiary: %s", p.Body)
	}
	p = b.Submit(p, "/admin/registry/B-1", url.Values{"mobile": {"1"}, "name": {"Asha"}, "year_of_birth": {"x"}, "doses": {"a, b"}})
	if p.Status != http.StatusUnprocessableEntity || !strings.Contains(p.Body, "year_of_birth") {
		t.Errorf("bad beneficiary: %d %s", p.Status, p.Body)
	}
	if p := b.Get("/admin/registry?mobile=9876543210"); !strings.Contains(p.Body, "B-1") {
		t.Errorf("search: %s", p.Body)
	}

	// Keys.
	keys := b.Get("/admin/keys")
	rot := b.Submit(keys, "/admin/keys/rotate", url.Values{"alg": {"ES256"}})
	if !strings.Contains(rot.Body, "scheduled") {
		t.Errorf("rotate key: %s", rot.Body)
	}

	// The audit log shows it all, by the signed-in user.
	audit := b.Get("/admin/audit")
	for _, want := range []string{"client.create", "client.update", "client.rotate_secret", "client.disable", "disclosure.export", "beneficiary.update", "key.rotate", "console.sign_in", "Admin owner"} {
		if !strings.Contains(audit.Body, want) {
			t.Errorf("audit log lacks %s", want)
		}
	}
	if strings.Contains(audit.Body, m[1]) || strings.Contains(audit.Body, m2[1]) {
		t.Error("a secret in the audit log page")
	}
	d := b.Get("/admin")
	if !strings.Contains(d.Body, "verifications") {
		t.Errorf("dashboard: %s", d.Body)
	}
	_ = dash
}

func TestConsoleDeleteNeedsConfirmation(t *testing.T) {
	ts := newTestServer(t, "sqlite")
	ts.addUser("9999900010", admin.RoleClientAdmin)
	b := ts.browser()
	b.signIn(ts, "9999900010")
	page := b.Submit(b.Get("/admin/clients/new"), "/admin/clients", url.Values{"client_id": {"air"}, "name": {"Air"}, "redirect_uris": {"https://air.example/cb"}, "scopes": {"openid"}})
	if p := b.Submit(page, "/admin/clients/air/delete", url.Values{}); p.Status != http.StatusUnprocessableEntity || !strings.Contains(p.Body, "confirm") {
		t.Fatalf("unconfirmed delete: %d", p.Status)
	}
	if p := b.Submit(page, "/admin/clients/air/delete", url.Values{"confirm": {"on"}}); p.URL.Path != "/admin/clients" || !strings.Contains(p.Body, "Deleted.") {
		t.Fatalf("delete: %d %s", p.Status, p.URL.Path)
	}
	if _, err := ts.st.GetClient(context.Background(), "air"); err == nil {
		t.Fatal("the client is still there")
	}
}

// KYC-VS API keys on the client page: made (shown once, with the copy
// button), listed, revoked once; a viewer sees the list and no buttons.
func TestConsoleAPIKeys(t *testing.T) {
	ts := newTestServer(t, "sqlite")
	ctx := context.Background()
	ts.addUser("9999900010", admin.RoleClientAdmin)
	ts.addUser("9999900020", admin.RoleViewer)
	b := ts.browser()
	b.signIn(ts, "9999900010")
	page := b.Submit(b.Get("/admin/clients/new"), "/admin/clients", url.Values{"client_id": {"air"}, "name": {"Air"}, "redirect_uris": {"https://air.example/cb"}, "scopes": {"openid"}})
	if !strings.Contains(page.Body, "No API keys.") {
		t.Fatalf("client page without keys: %s", page.Body)
	}
	made := b.Submit(page, "/admin/clients/air/api-keys", url.Values{})
	full := b.wantShownOnce(made, apiKeyShown)
	if !strings.Contains(made.Body, `data-copy="api-key"`) || !strings.Contains(made.Body, "/admin/static/copy.js") || !strings.Contains(made.Body, "New API key made.") {
		t.Fatalf("make a key: %d %s", made.Status, made.Body)
	}
	rec, _, err := kycvsapi.NewAPIKeys(ts.st, []byte(testSecret)).Authenticate(ctx, full)
	if err != nil {
		t.Fatalf("the key shown does not authenticate: %v", err)
	}
	page = b.Get("/admin/clients/air")
	if strings.Contains(page.Body, full) || !strings.Contains(page.Body, rec.ID) || !strings.Contains(page.Body, "active") {
		t.Fatalf("the page after: %s", page.Body)
	}
	revoked := b.Submit(page, "/admin/clients/air/api-keys/"+rec.ID+"/revoke", url.Values{})
	if revoked.URL.Path != "/admin/clients/air" || !strings.Contains(revoked.Body, "The API key is revoked") || !strings.Contains(revoked.Body, "revoked ") {
		t.Fatalf("revoke: %d %s", revoked.Status, revoked.Body)
	}
	if _, _, err := kycvsapi.NewAPIKeys(ts.st, []byte(testSecret)).Authenticate(ctx, full); err == nil {
		t.Fatal("a revoked key authenticates")
	}
	if again := b.Submit(page, "/admin/clients/air/api-keys/"+rec.ID+"/revoke", url.Values{}); again.Status != http.StatusUnprocessableEntity || !strings.Contains(again.Body, "already revoked") {
		t.Errorf("revoke twice: %d %s", again.Status, again.Body)
	}
	if other := b.Post("/admin/clients/air/api-keys/kycvs_0000000000000000/revoke", url.Values{"csrf_token": {revoked.Hidden("csrf_token")}}); other.Status != http.StatusUnprocessableEntity {
		t.Errorf("revoke an unknown key: %d", other.Status)
	}
	if audit := b.Get("/admin/audit?target_id=air"); !strings.Contains(audit.Body, "api_key.create") || !strings.Contains(audit.Body, "api_key.revoke") || strings.Contains(audit.Body, full) {
		t.Errorf("audit: %s", audit.Body)
	}

	v := ts.browser()
	v.signIn(ts, "9999900020")
	if p := v.Get("/admin/clients/air"); !strings.Contains(p.Body, rec.ID) || strings.Contains(p.Body, "/api-keys\"") || strings.Contains(p.Body, "Make a new API key") {
		t.Errorf("a viewer's client page: %s", p.Body)
	}
}

// The beneficiary page ends a person's sessions with one button, behind
// CSRF, and says it did.
func TestConsoleEndSessions(t *testing.T) {
	ts := newTestServer(t, "sqlite")
	ts.addUser("9999900010", admin.RoleOwner)
	b := ts.browser()
	b.signIn(ts, "9999900010")
	ctx := context.Background()
	if _, err := ts.svc.PutBeneficiary(ctx, admin.CLIActor("t", "h"), admin.BeneficiaryInput{ID: "B-1", Mobile: "9876543210", Name: "Asha", YearOfBirth: 1985}, true); err != nil {
		t.Fatal(err)
	}
	now := ts.clock.Now()
	if err := ts.st.CreateSession(ctx, &store.Session{ID: "session-1", BeneficiaryID: "B-1", Mobile: "+919876543210", Name: "Asha", AuthTime: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	page := b.Get("/admin/registry/B-1")
	if !strings.Contains(page.Body, `action="/admin/registry/B-1/end-sessions"`) {
		t.Fatalf("no end-sessions form: %s", page.Body)
	}
	done := b.Submit(page, "/admin/registry/B-1/end-sessions", url.Values{})
	if done.Status != http.StatusOK || !strings.Contains(done.Body, "signed out everywhere") {
		t.Fatalf("end sessions: %d %s", done.Status, done.Body)
	}
	if _, err := ts.st.GetSession(ctx, "session-1", now); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the session survived: %v", err)
	}
}
