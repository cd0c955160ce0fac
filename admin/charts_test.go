package admin_test

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kycvs/kycvs/admin"
	"github.com/kycvs/kycvs/oauth"
	"github.com/kycvs/kycvs/store"
)

// TestDashboardCharts checks the charts' numbers against the database:
// every hourly and daily bucket is recounted from the disclosures as read
// back (distinct requests of the channels that complete a verification, in
// the hours and days of India, half an hour off UTC's), and the funnel and
// rates against the sign-ins made. The console draws them as SVG with a
// table of the same numbers, per client and for all.
func TestDashboardCharts(t *testing.T) {
	ist := time.FixedZone("IST", 5*3600+1800)
	forEachBackend(t, func(t *testing.T, ts *testServer) {
		ctx := context.Background()
		for _, id := range []string{"air", "rail"} {
			if _, _, err := ts.svc.CreateClient(ctx, cliActor, oauth.ClientSpec{ID: id, Name: strings.ToUpper(id[:1]) + id[1:],
				RedirectURIs: []string{"https://" + id + ".example/cb"}}); err != nil {
				t.Fatal(err)
			}
		}
		now := ts.clock.Now()
		// Disclosures spread over 31 days, every status and none, both
		// channels that count, userinfo re-reads and a status read twice.
		n := 0
		for i := range 160 {
			at := now.Add(-time.Duration(i*i*29+i*17) * time.Minute / 5)
			client := []string{"air", "rail"}[i%2]
			var status *int
			if i%4 != 3 {
				s := i % 3
				status = &s
			}
			channel := []store.DisclosureChannel{store.DisclosedAtAuthorize, store.DisclosedByAPI}[i%3/2]
			for _, ch := range []store.DisclosureChannel{channel, store.DisclosedAtUserinfo}[:1+i%2] {
				n++
				if err := ts.st.CreateDisclosure(ctx, &store.Disclosure{ID: fmt.Sprint("d", n), ClientID: client, BeneficiaryID: "B",
					Subject: "s", Channel: ch, RequestID: fmt.Sprint("r", i), VaccinationStatus: status, CreatedAt: at}); err != nil {
					t.Fatal(err)
				}
			}
			if i%7 == 0 { // the KYC-VS API's status read again
				n++
				if err := ts.st.CreateDisclosure(ctx, &store.Disclosure{ID: fmt.Sprint("d", n), ClientID: client, BeneficiaryID: "B",
					Subject: "s", Channel: store.DisclosedByAPI, RequestID: fmt.Sprint("r", i), VaccinationStatus: status, CreatedAt: at}); err != nil {
					t.Fatal(err)
				}
			}
		}
		// Sign-ins: air sends three codes; one is accepted, one gets a
		// wrong code and is declined, one is locked out; rail sends one.
		signIn := func(id, client string, steps ...func(*store.LoginRequest)) {
			sent := now
			if err := ts.st.CreateLoginRequest(ctx, &store.LoginRequest{ID: id, ClientID: client, State: store.LoginPending,
				CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
			steps = append([]func(*store.LoginRequest){func(r *store.LoginRequest) {
				r.State, r.OTPHash, r.OTPSentAt = store.LoginOTPSent, []byte{1}, &sent
			}}, steps...)
			for _, step := range steps {
				if _, err := ts.st.UpdateLoginRequest(ctx, id, func(r *store.LoginRequest) error { step(r); return nil }); err != nil {
					t.Fatal(err)
				}
			}
		}
		wrong := func(r *store.LoginRequest) { r.OTPTries++ }
		signIn("l1", "air", func(r *store.LoginRequest) { r.State, r.OTPHash = store.LoginVerified, nil })
		signIn("l2", "air", wrong, func(r *store.LoginRequest) {
			r.State, r.DenyReason, r.OTPHash = store.LoginDenied, store.DenyCancelled, nil
		})
		signIn("l3", "air", wrong, wrong, wrong, func(r *store.LoginRequest) { r.State, r.OTPHash = store.LoginDead, nil })
		signIn("l4", "rail")
		// The funnel and rates are what the store has flushed.
		if err := ts.st.FlushOTPTallies(ctx); err != nil {
			t.Fatal(err)
		}

		for _, client := range []string{"", "air"} {
			ch, err := ts.svc.Charts(ctx, ist, client)
			if err != nil {
				t.Fatal(err)
			}
			// Recount from the database.
			hourly, daily := map[string][4]int64{}, map[string][4]int64{}
			seen := map[string]bool{}
			var shared int64
			err = ts.st.EachDisclosure(ctx, store.DisclosureFilter{ClientID: client, Since: ch.Since, Until: now.Add(time.Second)}, func(d *store.Disclosure) error {
				if d.Channel == "userinfo" || seen[d.RequestID] {
					return nil
				}
				seen[d.RequestID] = true
				i := 3
				if d.VaccinationStatus != nil {
					i = 2 - *d.VaccinationStatus
				}
				local := d.CreatedAt.In(ist)
				if !local.Before(ch.Hourly[0].Start) {
					h := hourly[local.Format("2006-01-02 15")]
					h[i]++
					hourly[local.Format("2006-01-02 15")] = h
				}
				dd := daily[local.Format("2006-01-02")]
				dd[i]++
				daily[local.Format("2006-01-02")] = dd
				shared++
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			check := func(name string, buckets []admin.Bucket, want map[string][4]int64, key string) {
				var total int64
				for _, b := range buckets {
					k := b.Start.In(ist).Format(key)
					if b.ByStatus != want[k] {
						t.Errorf("client %q %s %s: %v, the database has %v", client, name, k, b.ByStatus, want[k])
					}
					var sum int64
					for _, v := range b.ByStatus {
						sum += v
					}
					if sum != b.Total {
						t.Errorf("client %q %s %s: total %d, statuses add up to %d", client, name, k, b.Total, sum)
					}
					total += b.Total
					delete(want, k)
				}
				if len(want) != 0 {
					t.Errorf("client %q %s: verifications outside every bucket: %v", client, name, want)
				}
				if total == 0 {
					t.Errorf("client %q %s: nothing counted; the test proves nothing", client, name)
				}
			}
			if len(ch.Hourly) != 24 || len(ch.Daily) != 30 {
				t.Fatalf("%d hours and %d days", len(ch.Hourly), len(ch.Daily))
			}
			if s := ch.Hourly[0].Start.In(ist); s.Minute() != 0 || !s.Add(24*time.Hour).After(now) {
				t.Errorf("hours start at %v", s)
			}
			if s := ch.Since.In(ist); s.Hour() != 0 || s.Minute() != 0 || !ch.Daily[0].Start.Equal(ch.Since) {
				t.Errorf("days start at %v", s)
			}
			check("hourly", ch.Hourly, hourly, "2006-01-02 15")
			check("daily", ch.Daily, daily, "2006-01-02")

			want := admin.Funnel{Sent: 4, Verified: 1, Shared: shared, Declined: 1, Locked: 1}
			if client == "air" {
				want.Sent = 3
			}
			if ch.Funnel != want {
				t.Errorf("client %q funnel %+v, want %+v", client, ch.Funnel, want)
			}
			if len(ch.Clients) != 2 || ch.Clients[0].ClientID != "air" || ch.Clients[0].Name != "Air" ||
				ch.Clients[0].Refused != 4 || ch.Clients[0].Entered != 5 || ch.Clients[0].WrongCodeRate != 0.8 ||
				ch.Clients[0].LockoutRate != 1.0/3 || ch.Clients[1].ClientID != "rail" || ch.Clients[1].Sent != 1 {
				t.Errorf("client %q rates %+v", client, ch.Clients)
			}
		}
		if _, err := ts.svc.Charts(ctx, ist, "nope"); err == nil {
			t.Error("charts of an unknown client")
		}

		// The console draws them, and the tables behind hold the numbers.
		ts.addUser("9000000001", admin.RoleViewer)
		b := ts.browser()
		b.signIn(ts, "9000000001")
		page := b.Get("/admin?client=air")
		if page.Status != http.StatusOK {
			t.Fatalf("dashboard: %d", page.Status)
		}
		if got := strings.Count(page.Body, `<svg viewBox=`); got != 4 {
			t.Errorf("%d charts drawn, want 4", got)
		}
		for _, want := range []string{
			`<caption>Verifications per hour, last 24 hours</caption>`,
			`<caption>Verifications per day, last 30 days</caption>`,
			`<th scope="row">Codes sent</th><td class="num">3</td><td class="num">100.0%</td>`,
			`<th scope="row">Locked out</th><td class="num">1</td><td class="num">33.3%</td>`,
			`<th scope="row">Air</th><td class="num">3</td><td class="num">80.0%</td>`,
			`<option value="air" selected>Air</option>`,
		} {
			if !strings.Contains(page.Body, want) {
				t.Errorf("dashboard lacks %s", want)
			}
		}
		if regexp.MustCompile(`style=`).MatchString(page.Body) {
			t.Error("an inline style, which the Content-Security-Policy blocks")
		}
		if page := b.Get("/admin?client=nope"); page.Status != http.StatusNotFound {
			t.Errorf("unknown client: %d", page.Status)
		}
	})
}
