package main

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/kycvs/kycvs/claims"
	"github.com/kycvs/kycvs/internal/kycvstest"
	"github.com/kycvs/kycvs/oauth"
	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/store/storetest"
)

// approveOnly signs in with mobile and name and enters the code, but stops
// at the redirect to the resume URL, so a test can change things before
// the authorization finishes. It returns the browser's resume path and the
// approved login request. Only an answer that is a page goes through the
// resume URL: a must ask for response_mode=form_post (formPost).
func (b *browser) approveOnly(a authorization, mobile, name string) (string, *store.LoginRequest) {
	b.t.Helper()
	login := b.Get(a.URL)
	if login.Status != http.StatusOK || !strings.Contains(login.URL.Path, "/login/") {
		b.t.Fatalf("authorize: want the login page, got %d %s: %s", login.Status, login.URL, login.Body)
	}
	otpPage := b.Submit(login, login.URL.Path, url.Values{"mobile": {mobile}, "name": {name}})
	e164, _ := claims.NormalizeMobile(mobile)
	b.Client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	approved := b.Submit(otpPage, login.URL.Path+"/otp", url.Values{"otp": {b.ts.lastOTP(e164)}})
	if !strings.HasPrefix(approved.Location, oauth.PathResume) {
		b.t.Fatalf("want a redirect to resume, got %d %q: %s", approved.Status, approved.Location, approved.Body)
	}
	lr, err := b.ts.store().GetLoginRequest(context.Background(), strings.TrimPrefix(login.URL.Path, "/login/"))
	if err != nil || lr.State != store.LoginApproved {
		b.t.Fatalf("login request after the code: %+v, %v", lr, err)
	}
	return approved.Location, lr
}

// What the person was shown is what is released: the resume releases the
// plan stored when the authorization began, and when the replayed request
// disagrees with it (the client lost the scope of a claim the person
// agreed to share), the relying party gets server_error and no code,
// never more than was shown. A record deleted between the code and the
// resume is access_denied, as a missing record always is.
func TestResumeReleasesTheStoredPlan(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect, nil)
		ctx := context.Background()
		id, secret := ts.client(oauth.ClientSpec{Scopes: []string{"openid", "vaccination_status", "profile"}})
		r := ts.newRP(id, secret)
		nameInUserinfo := oauth2.SetAuthURLParam("claims", `{"userinfo":{"name":null}}`)
		formPost := oauth2.SetAuthURLParam("response_mode", "form_post")

		t.Run("the stored plan", func(t *testing.T) {
			b := ts.newBrowser()
			a := r.authorize(nameInUserinfo, formPost)
			resume, lr := b.approveOnly(a, "9999900001", "Asha Verma")
			if lr.Plan == nil || !lr.Plan.IDToken.Contains("vaccination_status") || !lr.Plan.Userinfo.Contains("name") ||
				lr.Plan.IDToken.Contains("name") || !lr.Claims.Contains("name") {
				t.Fatalf("stored plan %+v, claims shown %v", lr.Plan, lr.Claims)
			}
			// The same claims, placed otherwise than the request would
			// place them now: the resume follows the stored plan.
			if _, err := ts.store().UpdateLoginRequest(ctx, lr.ID, func(l *store.LoginRequest) error {
				l.Plan = &store.DisclosurePlan{IDToken: store.StringList{"vaccination_status", "name"}, Userinfo: store.StringList{"vaccination_status"}}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			v := r.finish(a, b.formPosted(b.Get(ts.URL+resume)))
			if v.Claims["name"] != "Asha Verma" || v.Userinfo["name"] != nil || v.Status != 2 {
				t.Fatalf("ID token %v, userinfo %v", v.Claims, v.Userinfo)
			}
		})

		t.Run("the replay disagrees", func(t *testing.T) {
			b := ts.newBrowser()
			a := r.authorize(nameInUserinfo, formPost)
			resume, _ := b.approveOnly(a, "9999900001", "Asha Verma")
			if _, err := ts.store().UpdateClient(ctx, id, func(c *store.Client) error {
				c.Scopes = store.StringList{"openid", "vaccination_status"}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				ts.store().UpdateClient(ctx, id, func(c *store.Client) error {
					c.Scopes = store.StringList{"openid", "vaccination_status", "profile"}
					return nil
				})
			})
			back := b.formPosted(b.Get(ts.URL + resume))
			if back.Query().Get("error") != "server_error" || back.Query().Get("code") != "" || back.Query().Get("state") != a.state {
				t.Fatalf("got %s", back)
			}
		})

		t.Run("the record deleted before the resume", func(t *testing.T) {
			b := ts.newBrowser()
			a := r.authorize(formPost)
			resume, lr := b.approveOnly(a, "9999900002", "Ravi Kumar")
			if err := ts.store().DeleteBeneficiary(ctx, lr.BeneficiaryID); err != nil {
				t.Fatal(err)
			}
			back := b.formPosted(b.Get(ts.URL + resume))
			if back.Query().Get("error") != "access_denied" || back.Query().Get("code") != "" ||
				!strings.Contains(back.Query().Get("error_description"), "no longer in the registry") {
				t.Fatalf("got %s", back)
			}
		})
	})
}

// A right code answers the relying party in its own request, with the
// resume's checks: a client disabled since the authorization began gets
// no code, and a client that lost the scope of a claim shown gets
// server_error, never more than was shown. Either way no code, no
// disclosure, and the sign-in stays approved, not used.
func TestRightCodeChecksTheRequestAgain(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect, nil)
		ctx := context.Background()
		id, secret := ts.client(oauth.ClientSpec{Scopes: []string{"openid", "vaccination_status", "profile"}})
		r := ts.newRP(id, secret)
		restore := func(t *testing.T) {
			t.Cleanup(func() {
				ts.store().UpdateClient(ctx, id, func(c *store.Client) error {
					c.Disabled = false
					c.Scopes = store.StringList{"openid", "vaccination_status", "profile"}
					return nil
				})
			})
		}
		// enterCode signs in and enters the code once change has run,
		// and returns the answer and the login request as it is then.
		enterCode := func(t *testing.T, a authorization, change func(*store.Client)) (kycvstest.Page, *store.LoginRequest) {
			b := ts.newBrowser()
			login := b.Get(a.URL)
			otpPage := b.Submit(login, login.URL.Path, url.Values{"mobile": {"9999900001"}, "name": {"Asha Verma"}})
			if _, err := ts.store().UpdateClient(ctx, id, func(c *store.Client) error { change(c); return nil }); err != nil {
				t.Fatal(err)
			}
			b.Client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
			answer := b.Submit(otpPage, login.URL.Path+"/otp", url.Values{"otp": {ts.lastOTP("+919999900001")}})
			lr, err := ts.store().GetLoginRequest(ctx, strings.TrimPrefix(login.URL.Path, "/login/"))
			if err != nil {
				t.Fatal(err)
			}
			return answer, lr
		}
		noCode := func(t *testing.T, lr *store.LoginRequest) {
			t.Helper()
			if lr.State != store.LoginApproved {
				t.Errorf("login request %s, want approved", lr.State)
			}
			if ds, err := ts.store().ListDisclosures(ctx, store.DisclosureFilter{ClientID: id}); err != nil || len(ds) != 0 {
				t.Errorf("disclosures %v, %v; want none", ds, err)
			}
		}

		t.Run("client disabled", func(t *testing.T) {
			restore(t)
			answer, lr := enterCode(t, r.authorize(), func(c *store.Client) { c.Disabled = true })
			if answer.Location != "" || answer.Status < 400 || answer.Status >= 500 {
				t.Fatalf("got %d %q, want an error page", answer.Status, answer.Location)
			}
			noCode(t, lr)
		})

		t.Run("scope withdrawn", func(t *testing.T) {
			restore(t)
			a := r.authorize(oauth2.SetAuthURLParam("claims", `{"userinfo":{"name":null}}`))
			answer, lr := enterCode(t, a, func(c *store.Client) { c.Scopes = store.StringList{"openid", "vaccination_status"} })
			back := ts.newBrowser().redirected(answer)
			if back.Query().Get("error") != "server_error" || back.Query().Get("code") != "" || back.Query().Get("state") != a.state {
				t.Fatalf("got %s", back)
			}
			noCode(t, lr)
		})
	})
}
