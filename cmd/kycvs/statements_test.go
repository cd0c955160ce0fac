package main

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/kycvs/kycvs/internal/kycvstest"
	"github.com/kycvs/kycvs/oauth"
	"github.com/kycvs/kycvs/store/storetest"
)

// statementBudget is the most SQL statements one whole verification may
// send to the database (BENCHMARKS.md, "SQL statements per verification"):
// every statement is a round trip at national scale, so a change that adds
// one has to say why.
const statementBudget = 19

// One verification through go-oidc and x/oauth2, step by step, with the
// store's own statement counter: the total stays within statementBudget
// on both databases, and each step's count is logged (go test -v) for
// BENCHMARKS.md.
func TestStatementsPerVerification(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dialect string) {
		// The clean-up, the back-channel sender's polls and the OTP
		// tallies' flushes are pushed an hour away; the sender's first
		// read, made as the server starts, is waited out so it is not
		// counted in the first step.
		ts := newTestServer(t, dialect, func(c *serveConfig) {
			c.CleanupInterval = time.Hour
			c.backchannel.Poll = time.Hour
			c.tallyFlush = time.Hour
		})
		for last, still := uint64(0), 0; still < 3; time.Sleep(50 * time.Millisecond) {
			if n, _ := ts.store().Counts(); n == last {
				still++
			} else {
				last, still = n, 0
			}
		}
		id, secret := ts.client(oauth.ClientSpec{})
		r := ts.newRP(id, secret)
		a := r.authorize()
		// Redirects are followed by hand, so each request is a step of its own.
		b := ts.newBrowser()
		b.Browser = b.NoFollow()

		var steps []string
		var counts []uint64
		total := uint64(0)
		measure := func(step string, do func()) {
			t.Helper()
			before, _ := ts.store().Counts()
			do()
			after, _ := ts.store().Counts()
			steps = append(steps, step)
			counts = append(counts, after-before)
			total += after - before
		}
		var login, otpPage kycvstest.Page
		var back *url.URL
		measure("authorize", func() {
			p := b.Get(a.URL)
			if p.Status != http.StatusSeeOther || !strings.HasPrefix(p.Location, "/login/") {
				t.Fatalf("authorize: want a redirect to sign in, got %d %s", p.Status, p.Location)
			}
			login.Location = p.Location
		})
		first := login.Location
		measure("sign-in page", func() { login = b.Get(ts.URL + first) })
		// The sign-in page follows the write that stored the request, and
		// is shown from it.
		if n := counts[len(counts)-1]; n != 0 {
			t.Errorf("the sign-in page after authorize sent %d statements, want 0", n)
		}
		path := login.URL.Path
		var sent string
		measure("send OTP", func() {
			p := b.Submit(login, path, url.Values{"mobile": {"9999900001"}, "name": {"Asha Verma"}})
			if p.Status != http.StatusSeeOther {
				t.Fatalf("send OTP: want 303, got %d: %s", p.Status, p.Body)
			}
			sent = p.Location
		})
		measure("OTP page", func() {
			otpPage = b.Get(ts.URL + sent)
			if !strings.Contains(otpPage.Body, `name="otp"`) {
				t.Fatalf("OTP page: got %d: %s", otpPage.Status, otpPage.Body)
			}
		})
		// The code page follows the write that stored the code, and is
		// shown from it.
		if n := counts[len(counts)-1]; n != 0 {
			t.Errorf("the OTP page after the send sent %d statements, want 0", n)
		}
		code := ts.lastOTP("+919999900001")
		measure("verify OTP", func() { back = b.redirected(b.Submit(otpPage, path+"/otp", url.Values{"otp": {code}})) })
		if back.Query().Get("code") == "" {
			t.Fatalf("verify OTP: no code in %s", back)
		}
		ctx := context.Background()
		var tok *oauth2.Token
		measure("token", func() {
			var err error
			if tok, err = r.conf.Exchange(ctx, back.Query().Get("code"), oauth2.VerifierOption(a.verifier)); err != nil {
				t.Fatal(err)
			}
		})
		measure("userinfo", func() {
			if _, err := r.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err != nil {
				t.Fatal(err)
			}
		})
		for i, s := range steps {
			t.Logf("%-14s %2d statements", s, counts[i])
		}
		t.Logf("%-14s %2d statements", "verification", total)
		if total > statementBudget {
			t.Errorf("one verification sent %d SQL statements, budget %d", total, statementBudget)
		}
	})
}
