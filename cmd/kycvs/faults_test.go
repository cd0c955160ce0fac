package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kycvs/kycvs/claims"
	"github.com/kycvs/kycvs/oauth"
	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/store/storetest"
)

// loadPeople registers n people of status 2 for load-style tests, each
// with a mobile of their own so their codes never mix.
func loadPeople(t *testing.T, st *store.Store, prefix string, n int) []store.Beneficiary {
	t.Helper()
	people := make([]store.Beneficiary, n)
	for i := range people {
		name := fmt.Sprintf("Load Person %03d", i+1)
		people[i] = store.Beneficiary{
			ID: fmt.Sprintf("%s-%03d", prefix, i+1), Mobile: fmt.Sprintf("+91700%07d", 1000*len(prefix)+i+1),
			Name: name, NameKey: claims.NameKey(name), YearOfBirth: 1990,
			Doses: []store.Dose{
				{Vaccine: "Covaxin", DoseNumber: 1, TotalDoses: 2, DoseDate: "2021-06-01"},
				{Vaccine: "Covaxin", DoseNumber: 2, TotalDoses: 2, DoseDate: "2021-07-01"},
			},
		}
	}
	if _, err := st.ReplaceBeneficiaries(context.Background(), people); err != nil {
		t.Fatal(err)
	}
	return people
}

// timedRun is one verification and when it ran.
type timedRun struct {
	flowRun
	start, end time.Time
}

// loadUntil runs verifications with one worker per person until stop is
// closed, and returns every run.
func loadUntil(d *flowDriver, people []store.Beneficiary, stop <-chan struct{}) func() []timedRun {
	var mu sync.Mutex
	var runs []timedRun
	var wg sync.WaitGroup
	for _, p := range people {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				start := time.Now()
				r := d.run(context.Background(), p.Mobile, p.Name)
				mu.Lock()
				runs = append(runs, timedRun{flowRun: r, start: start, end: time.Now()})
				mu.Unlock()
				if r.Err != nil {
					time.Sleep(20 * time.Millisecond) // a failed flow retries, not spins
				}
			}
		})
	}
	return func() []timedRun {
		wg.Wait()
		return runs
	}
}

// PostgreSQL goes away in the middle of a load run and comes back: every
// request meanwhile gets 503 (or, at the authorization endpoint once the
// client's redirect URI is validated, the client's redirect URI with
// temporarily_unavailable), never a 500 or a client error; the same
// process serves complete verifications again afterwards; and the
// database holds nothing half written: every issued code has its
// disclosure record.
func TestDatabaseOutageUnderLoad(t *testing.T) {
	var proxy *dbProxy
	gw := newSMSGateway(t)
	ts := newTestServer(t, "postgres", func(c *serveConfig) {
		proxy, c.DatabaseURL = newDBProxy(t, c.DatabaseURL)
		c.SMS, c.SMSWebhookSecret = gw.Spec(), gatewaySecret
		c.IPLimit, c.OTPDailyLimit = 0, 0
	})
	people := loadPeople(t, ts.store(), "outage", 6)
	id, secret := ts.client(oauth.ClientSpec{})
	d := &flowDriver{Issuer: ts.URL, ClientID: id, ClientSecret: secret, RedirectURI: "http://127.0.0.1:9/callback", Gateway: gw}

	stop := make(chan struct{})
	wait := loadUntil(d, people, stop)
	time.Sleep(2 * time.Second)
	down := time.Now()
	proxy.Down()
	time.Sleep(500 * time.Millisecond)
	ready := get(t, ts.URL+"/readyz")
	time.Sleep(2500 * time.Millisecond)
	up := time.Now()
	proxy.Up()
	time.Sleep(3 * time.Second)
	close(stop)
	runs := wait()

	if ready != http.StatusServiceUnavailable {
		t.Errorf("/readyz during the outage: %d, want 503", ready)
	}
	if got := get(t, ts.URL+"/readyz"); got != http.StatusOK {
		t.Errorf("/readyz after the outage: %d, want 200", got)
	}
	var before, during, after, outageAnswers int
	for _, r := range runs {
		for _, a := range r.Answers {
			if a.Status >= 500 && a.Status != http.StatusServiceUnavailable {
				t.Errorf("%s answered %d: %.300s", a.Step, a.Status, a.Body)
			}
			if outageAnswer(a) {
				outageAnswers++
			}
		}
		switch {
		case r.end.Before(down):
			before++
			if r.Err != nil {
				t.Errorf("before the outage: %v%s", r.Err, lastBody(r.flowRun))
			}
		case r.start.After(up.Add(time.Second)):
			// A second for the pool to notice that its old connections died.
			after++
			if r.Err != nil {
				t.Errorf("after the outage: %v%s", r.Err, lastBody(r.flowRun))
			}
		default:
			during++
			if r.Err != nil && (r.Last == nil || !outageAnswer(*r.Last)) {
				t.Errorf("during the outage, want 503: %v%s", r.Err, lastBody(r.flowRun))
			}
		}
	}
	t.Logf("%d verifications before the outage, %d across it, %d after; %d outage answers", before, during, after, outageAnswers)
	if before == 0 || after == 0 || outageAnswers == 0 {
		t.Errorf("the run did not cover the outage: %d before, %d after, %d outage answers", before, after, outageAnswers)
	}
	codes := checkConsistency(t, ts.store())
	if codes < before+after {
		t.Errorf("%d codes stored, fewer than the %d completed verifications", codes, before+after)
	}
}

func get(t *testing.T, u string) int {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// lastBody quotes the start of the answer that stopped a run, for failures.
func lastBody(r flowRun) string {
	if r.Last == nil {
		return ""
	}
	b := r.Last.Body
	if len(b) > 300 {
		b = b[:300]
	}
	return ": " + b
}

// A hanging SMS gateway ties up at most --sms-max-concurrent sends, each
// for at most --sms-timeout: sends beyond that are refused at once with a
// 503 and Retry-After, every other request is served as usual meanwhile,
// and a failing gateway (5xx) gets the person a 503 and a challenge left
// as it was. Sends hold no database connection, so more hanging sends
// than the pool has connections change nothing.
func TestSlowSMSGateway(t *testing.T) {
	// Long enough that the checks made while the gateway hangs finish
	// before a held send gives up, on a busy machine too.
	const smsTimeout = 3 * time.Second
	storetest.ForEach(t, func(t *testing.T, dialect string) {
		gw := newSMSGateway(t)
		ts := newTestServer(t, dialect, func(c *serveConfig) {
			c.SMS, c.SMSWebhookSecret = gw.Spec(), gatewaySecret
			c.SMSTimeout, c.SMSMaxConcurrent = smsTimeout, 3
			c.IPLimit, c.OTPDailyLimit, c.OTPHourlyLimit = 0, 0, 0
		})
		people := loadPeople(t, ts.store(), "slowsms", 6)
		id, _ := ts.client(oauth.ClientSpec{})
		gw.Hold()

		type result struct {
			status   int
			location string
			took     time.Duration
			err      error
		}
		stuck := make(chan result, 3)
		for _, p := range people[:3] {
			s := openSignIn(t, ts.URL, id, p)
			go func() {
				status, location, took, err := s.send()
				stuck <- result{status, location, took, err}
			}()
		}
		if !gw.WaitArrived(3, 5*time.Second) {
			t.Fatal("three sends did not reach the gateway")
		}

		// stillHeld reports whether the three sends still hold the gateway's
		// slots: an answer given while they do did not wait for one (a slot
		// frees only when a held send gives up, at smsTimeout).
		stillHeld := func() bool { return len(stuck) == 0 }

		// The gateway holds every slot. A fourth send is refused at once.
		for _, p := range people[3:5] {
			s := openSignIn(t, ts.URL, id, p)
			hc := *s.client
			hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
			start := time.Now()
			resp, err := hc.PostForm(s.url, s.form)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			// A redirect to the form, which says the SMS service is busy;
			// Retry-After tells programs when to come back.
			loc := resp.Header.Get("Location")
			if took := time.Since(start); resp.StatusCode != http.StatusSeeOther || !strings.HasSuffix(loc, "?m=busy") || !stillHeld() {
				t.Errorf("send with every slot taken: %d to %q after %s (slots still held: %v), want 303 to ?m=busy before a slot frees", resp.StatusCode, loc, took, stillHeld())
			}
			page, err := hc.Get(ts.URL + loc)
			if err != nil {
				t.Fatal(err)
			}
			body := readAll(page)
			page.Body.Close()
			if resp.Header.Get("Retry-After") == "" || !strings.Contains(body, "busy") || !strings.Contains(body, `value="`+p.Name+`"`) {
				t.Errorf("busy answer: Retry-After %q, page %.200s", resp.Header.Get("Retry-After"), body)
			}
		}
		// Everything else is served as usual, including whole sign-in
		// pages that need the database.
		for _, path := range []string{"/healthz", "/readyz", oauth.PathDiscovery, oauth.PathJWKS} {
			start := time.Now()
			if got := get(t, ts.URL+path); got != http.StatusOK || !stillHeld() {
				t.Errorf("%s while the gateway hangs: %d after %s (slots still held: %v)", path, got, time.Since(start), stillHeld())
			}
		}
		start := time.Now()
		openSignIn(t, ts.URL, id, people[5])
		if took := time.Since(start); !stillHeld() {
			t.Errorf("authorize and the sign-in page took %s, until a held send gave up", took)
		}

		// The stuck sends give up at the timeout with a 503.
		for range 3 {
			r := <-stuck
			if r.err != nil || r.status != http.StatusSeeOther || !strings.HasSuffix(r.location, "?m=unsent") || r.took < smsTimeout-500*time.Millisecond || r.took > 4*smsTimeout {
				t.Errorf("stuck send: %d to %q after %s (%v), want 303 to ?m=unsent after the %s timeout", r.status, r.location, r.took, r.err, smsTimeout)
			}
		}
		gw.Release()

		// A gateway that answers 502: 503 for the person, nothing changed.
		gw.Fail.Store(true)
		s := openSignIn(t, ts.URL, id, people[0])
		if status, loc, _, err := s.send(); err != nil || status != http.StatusSeeOther || !strings.HasSuffix(loc, "?m=unsent") {
			t.Errorf("send through a failing gateway: %d to %q %v, want 303 to ?m=unsent", status, loc, err)
		}
		gw.Fail.Store(false)
		if status, _, err := s.post(); err != nil || status != http.StatusSeeOther {
			t.Errorf("send once the gateway is back: %d %v, want 303", status, err)
		}
		if gw.Delivered(people[0].Mobile) != 1 {
			t.Errorf("%d codes delivered to the person, want 1", gw.Delivered(people[0].Mobile))
		}
	})
}
