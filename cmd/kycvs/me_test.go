package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/kycvs/kycvs/claims"
	"github.com/kycvs/kycvs/internal/kycvstest"
	"github.com/kycvs/kycvs/me"
	"github.com/kycvs/kycvs/oauth"
	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/store/storetest"
)

// meSignIn signs in to /me with mobile through the HTML forms, reading the
// code from the SMS, and returns the page it lands on.
func (b *browser) meSignIn(mobile string) kycvstest.Page {
	b.t.Helper()
	start := b.Get(b.ts.URL + me.Path)
	if start.Status != http.StatusOK || !strings.Contains(start.Body, `name="mobile"`) {
		b.t.Fatalf("/me: want the sign-in form, got %d: %s", start.Status, start.Body)
	}
	codePage := b.Submit(start, "/me/signin", url.Values{"mobile": {mobile}})
	if codePage.Status != http.StatusOK || codePage.URL.Path != "/me/code" || !strings.Contains(codePage.Body, `name="otp"`) {
		b.t.Fatalf("send code: want the code page, got %d %s: %s", codePage.Status, codePage.URL, codePage.Body)
	}
	e164, _ := claims.NormalizeMobile(mobile)
	done := b.Submit(codePage, "/me/code", url.Values{"otp": {b.ts.lastOTP(e164)}})
	if done.Status != http.StatusOK || done.URL.Path != me.Path || !strings.Contains(done.Body, `action="/me/signout"`) {
		b.t.Fatalf("code: want the signed-in page, got %d %s: %s", done.Status, done.URL, done.Body)
	}
	return done
}

// section returns the part of a /me page from the heading with id on.
func section(body, id string) string {
	_, after, _ := strings.Cut(body, `id="`+id+`"`)
	return after
}

var grantRe = regexp.MustCompile(`name="grant" value="([^"]+)"`)

// The person's own page, through its HTML forms and a real relying party:
// a person verified at two verifiers (one with offline_access) sees both
// disclosures with their channel, newest first and paged; withdraws the
// offline grant, after which the relying party's refresh fails with
// invalid_grant and its access token at userinfo; the withdrawal is
// audited without the number; another mobile sees none of it; the
// download holds the record, the disclosures and the grants.
func TestOwnPage(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect, nil)
		ctx := context.Background()
		skyID, skySecret := ts.client(oauth.ClientSpec{Name: "Sky Air", Scopes: offlineScopes})
		railID, railSecret := ts.client(oauth.ClientSpec{Name: "Rail Co"})
		sky := ts.newRP(skyID, skySecret, offlineScopes...)
		a := sky.authorize()
		vSky := sky.finish(a, ts.newBrowser().signIn(a, "9999900001", "Asha Verma"))
		if vSky.Token.RefreshToken == "" {
			t.Fatal("no refresh token with offline_access")
		}
		rail := ts.newRP(railID, railSecret)
		a = rail.authorize()
		vRail := rail.finish(a, ts.newBrowser().signIn(a, "9999900001", "Asha Verma"))
		// Enough userinfo reads by Rail Co for a second page.
		for range me.DefaultPageSize {
			if got := userinfoStatus(t, ts, vRail.Token.AccessToken); got != http.StatusOK {
				t.Fatalf("userinfo: %d", got)
			}
		}
		const total = 2 + 2 + me.DefaultPageSize // two sign-ins, each with a userinfo, and the reads

		b := ts.newBrowser()
		p := b.meSignIn("9999900001")
		for _, want := range []string{"Asha Verma", "Arjun Verma", "+91******0001", "Sky Air", "Rail Co", "fully vaccinated"} {
			if !strings.Contains(p.Body, want) {
				t.Errorf("/me lacks %q", want)
			}
		}
		grants := grantRe.FindAllStringSubmatch(p.Body, -1)
		if len(grants) != 1 || !strings.Contains(section(p.Body, "grants"), "Withdraw access of Sky Air") {
			t.Fatalf("want one standing grant, Sky Air's: %v", grants)
		}
		// Newest first: Rail Co's reads come before Sky Air's sign-in.
		first := section(p.Body, "disclosures")
		if i, j := strings.Index(first, "Rail Co"), strings.Index(first, "Sky Air"); i < 0 || j >= 0 {
			t.Errorf("first page: Rail Co at %d, Sky Air at %d (want only Rail Co's newest reads)", i, j)
		}
		if !strings.Contains(first, "the service read it again (userinfo)") {
			t.Error("first page does not say the channel")
		}
		t.Logf("/me with %d disclosures a page: %d bytes of HTML", me.DefaultPageSize, len(p.Body))
		if len(p.Body) > 24<<10 {
			t.Errorf("/me is %d bytes: keep it small for phones", len(p.Body))
		}
		seen := strings.Count(first, "<li><strong>")
		older := regexp.MustCompile(`href="(/me\?after=[^"]+)"`).FindStringSubmatch(first)
		if seen != me.DefaultPageSize || older == nil {
			t.Fatalf("first page: %d disclosures, older link %v", seen, older)
		}
		p2 := b.Get(ts.URL + strings.ReplaceAll(older[1], "&amp;", "&"))
		second := section(p2.Body, "disclosures")
		seen += strings.Count(second, "<li><strong>")
		if seen != total || !strings.Contains(second, "Sky Air") || !strings.Contains(second, "sign-in on this service") ||
			strings.Contains(second, "/me?after=") {
			t.Fatalf("second page: %d disclosures in all, want %d: %s", seen, total, second)
		}
		if got := b.Get(ts.URL + "/me?after=not-a-cursor"); got.Status != http.StatusOK || strings.Contains(got.Body, "<li><strong>Rail Co") {
			t.Errorf("a forged cursor: %d", got.Status)
		}

		t.Run("download", func(t *testing.T) {
			resp, err := b.Client.Get(ts.URL + "/me/data.json")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if cd := resp.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment;") || resp.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("headers: %v", resp.Header)
			}
			var got me.Export
			if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
				t.Fatal(err)
			}
			if got.Mobile != "+919999900001" || len(got.People) != 2 || len(got.Disclosures) != total || len(got.Grants) != 1 {
				t.Fatalf("export: mobile %s, %d people, %d disclosures, %d grants", got.Mobile, len(got.People), len(got.Disclosures), len(got.Grants))
			}
			if g := got.Grants[0]; g.Kind != "refresh_token" || g.Verifier.Name != "Sky Air" || g.BeneficiaryID != "demo-asha" {
				t.Errorf("grant: %+v", g)
			}
			for _, person := range got.People {
				if person.BeneficiaryID == "demo-asha" && (person.VaccinationStatus != 2 || len(person.Doses) != 2) {
					t.Errorf("record: %+v", person)
				}
			}
			if d := got.Disclosures[len(got.Disclosures)-1]; d.Verifier.ClientID != skyID || d.Channel != "authorize" || d.VaccinationStatus == nil || *d.VaccinationStatus != 2 {
				t.Errorf("oldest disclosure: %+v", d)
			}
		})

		t.Run("another mobile sees none of it", func(t *testing.T) {
			ob := ts.newBrowser()
			other := ob.meSignIn("9999900002")
			for _, leak := range []string{"Sky Air", "Rail Co", "Asha", "Arjun", `name="grant"`} {
				if strings.Contains(other.Body, leak) {
					t.Errorf("another mobile's /me shows %q", leak)
				}
			}
			if !strings.Contains(other.Body, "Ravi Kumar") || !strings.Contains(other.Body, "Nothing was shared") {
				t.Errorf("another mobile's /me: %s", other.Body)
			}
			// Its session cannot withdraw Asha's grant either (a form its
			// page does not have, sent with its page's token).
			if got := ob.Post("/me/withdraw", url.Values{"grant": {grants[0][1]}, "csrf_token": {other.Hidden("csrf_token")}}); !strings.Contains(got.Body, "That access had already ended") {
				t.Errorf("another mobile withdrawing Asha's grant: %d %s", got.Status, got.Body)
			}
			if got := userinfoStatus(t, ts, vSky.Token.AccessToken); got != http.StatusOK {
				t.Errorf("Sky Air's access after another mobile's attempt: %d", got)
			}
		})

		t.Run("withdraw without the form's token is refused", func(t *testing.T) {
			if got := b.Post("/me/withdraw", url.Values{"grant": {grants[0][1]}}); got.Status != http.StatusForbidden {
				t.Fatalf("withdraw without CSRF token: %d", got.Status)
			}
		})

		// Withdraw.
		done := b.Submit(p, "/me/withdraw", url.Values{"grant": {grants[0][1]}})
		if done.URL.Path != me.Path || !strings.Contains(done.Body, "The service can no longer read your status") ||
			strings.Contains(done.Body, `name="grant"`) || !strings.Contains(section(done.Body, "grants"), "withdrawn") {
			t.Fatalf("after withdraw: %d %s: %s", done.Status, done.URL, done.Body)
		}
		expired := *vSky.Token
		expired.Expiry = time.Now().Add(-time.Minute)
		if _, err := sky.conf.TokenSource(ctx, &expired).Token(); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
			t.Fatalf("the relying party's refresh after the withdrawal: %v", err)
		}
		if _, err := sky.provider.UserInfo(ctx, oauth2.StaticTokenSource(vSky.Token)); err == nil {
			t.Fatal("userinfo with the withdrawn grant's access token succeeded")
		}
		if got := userinfoStatus(t, ts, vRail.Token.AccessToken); got != http.StatusOK {
			t.Errorf("Rail Co's access, not withdrawn: %d", got)
		}
		entries, _, err := ts.store().ListAuditEntries(ctx, store.AuditFilter{Action: me.ActionWithdraw})
		if err != nil || len(entries) != 1 {
			t.Fatalf("audit: %v %v", entries, err)
		}
		if e := entries[0]; e.ActorType != "person" || e.TargetType != "person" || e.TargetID != "demo-asha" || e.Changes["client_id"] != skyID ||
			strings.Contains(e.ActorID+e.ActorName, "99999") {
			t.Errorf("audit entry: %+v", e)
		}
		// The page from before the withdrawal, sent again.
		if again := b.Submit(p, "/me/withdraw", url.Values{"grant": {grants[0][1]}}); !strings.Contains(again.Body, "That access had already ended") {
			t.Errorf("withdrawing twice: %s", again.Body)
		}

		signedOut := b.Submit(done, "/me/signout", url.Values{})
		if signedOut.URL.Path != me.Path || !strings.Contains(signedOut.Body, "You are signed out") || !strings.Contains(signedOut.Body, `name="mobile"`) {
			t.Fatalf("sign out: %s %s", signedOut.URL, signedOut.Body)
		}
		if got := b.Get(ts.URL + "/me/data.json"); got.URL.Path != me.Path || strings.Contains(got.Body, "Asha") {
			t.Errorf("download after sign-out: %s", got.URL)
		}
	})
}

// "Send code" answers alike whether or not anyone is registered on the
// mobile (no enumeration); an unregistered mobile signs in and sees an
// empty page. The cookies are HttpOnly and SameSite=Strict; the session's
// lasts 15 minutes.
func TestOwnPageNoEnumeration(t *testing.T) {
	ts := newTestServer(t, "sqlite", func(c *serveConfig) { c.LogLevel = "info" })
	// send asks a code for mobile in a new browser, then at once a second
	// one, which the resend wait refuses; it returns both answers and the
	// pages they redirect to, with the mobile masked out.
	type sent struct {
		resp, refused         kycvstest.Page
		codePage, refusedPage string
	}
	send := func(mobile string) sent {
		b := ts.newBrowser().NoFollow()
		post := func() kycvstest.Page {
			start := b.Get(ts.URL + me.Path)
			return b.Submit(start, "/me/signin", url.Values{"mobile": {mobile}})
		}
		var s sent
		s.resp = post()
		code := b.Get(ts.URL + "/me/code")
		s.codePage = strings.ReplaceAll(code.Body, claims.MaskMobile(mustE164(t, mobile)), "MASKED")
		s.refused = post()
		refused := b.Get(ts.URL + s.refused.Location)
		if refused.Status != http.StatusTooManyRequests {
			t.Errorf("the refused form's page: %d", refused.Status)
		}
		s.refusedPage = strings.ReplaceAll(refused.Body, mobile, "MOBILE")
		return s
	}
	regSent, unregSent := send("9999900003"), send("9999900077")
	reg, regPage := regSent.resp, regSent.codePage
	unreg, unregPage := unregSent.resp, unregSent.codePage
	if reg.Status != http.StatusSeeOther || unreg.Status != reg.Status || unreg.Header.Get("Location") != reg.Header.Get("Location") {
		t.Fatalf("send code: registered %d %s, unregistered %d %s", reg.Status, reg.Header.Get("Location"), unreg.Status, unreg.Header.Get("Location"))
	}
	strip := regexp.MustCompile(`(value|nonce)="[^"]+"`)
	if strip.ReplaceAllString(regPage, "") != strip.ReplaceAllString(unregPage, "") {
		t.Errorf("the code pages differ:\n%s\n----\n%s", regPage, unregPage)
	}
	// A refusal (post/redirect/get) answers alike too: the redirect, and
	// the page it leads to.
	if r, u := regSent.refused, unregSent.refused; r.Status != http.StatusSeeOther || u.Status != r.Status ||
		u.Header.Get("Location") != r.Header.Get("Location") || u.Header.Get("Retry-After") != r.Header.Get("Retry-After") {
		t.Errorf("refused: registered %d %s, unregistered %d %s", r.Status, r.Header.Get("Location"), u.Status, u.Header.Get("Location"))
	}
	csrfField := regexp.MustCompile(`name="csrf_token" value="[^"]+"`)
	if r, u := csrfField.ReplaceAllString(regSent.refusedPage, ""), csrfField.ReplaceAllString(unregSent.refusedPage, ""); r != u || !strings.Contains(r, `value="MOBILE"`) {
		t.Errorf("the refused forms' pages differ:\n%s\n----\n%s", r, u)
	}
	var cookie *http.Cookie
	for _, c := range reg.Cookies() {
		if c.Name == me.SignInCookie {
			cookie = c
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Path != "/" {
		t.Errorf("sign-in cookie: %+v", cookie)
	}
	if strings.Contains(ts.logs.String(), "9999900077") || strings.Contains(ts.logs.String(), "99999000") {
		t.Errorf("a mobile number in the log:\n%s", ts.logs.String())
	}

	// The unregistered mobile, signed in, sees an empty page.
	b := ts.newBrowser()
	var setCookie []*http.Cookie
	b.Client.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		setCookie = append(setCookie, req.Response.Cookies()...)
		return nil
	}
	p := b.meSignIn("9999900066")
	if !strings.Contains(p.Body, "Nobody is registered for vaccination on this mobile number.") || strings.Contains(p.Body, `name="grant"`) {
		t.Errorf("unregistered mobile's page: %s", p.Body)
	}
	var sess *http.Cookie
	for _, c := range setCookie {
		if c.Name == me.SessionCookie && c.MaxAge > 0 {
			sess = c
		}
	}
	if sess == nil || sess.MaxAge != int((15*time.Minute)/time.Second) || !sess.HttpOnly || sess.SameSite != http.SameSiteStrictMode {
		t.Errorf("session cookie: %+v", sess)
	}
}

func mustE164(t *testing.T, mobile string) string {
	t.Helper()
	e, err := claims.NormalizeMobile(mobile)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// A KYC-VS API status token is a standing grant too: /me lists it, with
// the disclosure its status call made, and Withdraw ends it at once.
func TestOwnPageWithdrawsKYCVSToken(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect, nil)
		id, _ := ts.client(oauth.ClientSpec{Name: "Example Air"})
		c := ts.legacy(ts.apiKey(t, id))
		txnID, err := c.GenerateOTP("9999900003", "Meera Nair", "")
		if err != nil {
			t.Fatal(err)
		}
		token, err := c.ConfirmOTP(txnID, ts.lastOTP("+919999900003"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Status(token); err != nil {
			t.Fatal(err)
		}
		b := ts.newBrowser()
		p := b.meSignIn("9999900003")
		grants := grantRe.FindAllStringSubmatch(p.Body, -1)
		if len(grants) != 1 || !strings.Contains(section(p.Body, "grants"), "holds a status token (KYC-VS API)") ||
			!strings.Contains(section(p.Body, "disclosures"), "code shared with the service (KYC-VS API)") {
			t.Fatalf("want the API token and its disclosure: %s", p.Body)
		}
		done := b.Submit(p, "/me/withdraw", url.Values{"grant": {grants[0][1]}})
		if !strings.Contains(done.Body, "The service can no longer read your status") {
			t.Fatalf("withdraw: %s", done.Body)
		}
		var le *legacyError
		if _, err := c.Status(token); !errors.As(err, &le) || le.HTTPStatus != http.StatusUnauthorized {
			t.Fatalf("status after the withdrawal: %v", err)
		}
		entries, _, err := ts.store().ListAuditEntries(context.Background(), store.AuditFilter{Action: me.ActionWithdraw})
		if err != nil || len(entries) != 1 || entries[0].Changes["grant"] != "kycvs_api_token" || entries[0].TargetID != "demo-meera" {
			t.Fatalf("audit: %+v %v", entries, err)
		}
	})
}
