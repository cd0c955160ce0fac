package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/kycvs/kycvs/oauth"
	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/store/storetest"
)

// Headers a test sends to the balancer, which removes them: which backend
// answers (0, 1, ...) and which client IP the balancer reports in
// X-Forwarded-For.
const (
	headerBackend  = "X-Test-Backend"
	headerClientIP = "X-Test-Client-IP"
)

// balancer is the load balancer in front of several kycvs processes: the
// one URL every client uses, the issuer. It picks a backend per request
// (round robin, unless the test pins one for the next requests or names
// one in X-Test-Backend), keeps the Host, and reports the client's address
// in X-Forwarded-For as a real balancer does; the processes trust it with
// --trusted-proxy. It records which backend served what.
type balancer struct {
	srv      *httptest.Server
	backends []*url.URL
	next     atomic.Uint64
	pin      atomic.Int64 // -1: none

	mu     sync.Mutex
	served []servedBy
}

type servedBy struct {
	backend      int
	method, path string
}

func newBalancer(t *testing.T) *balancer {
	b := &balancer{}
	b.pin.Store(-1)
	rp := &httputil.ReverseProxy{Rewrite: b.rewrite}
	b.srv = httptest.NewServer(rp)
	t.Cleanup(b.srv.Close)
	return b
}

func (b *balancer) URL() string { return b.srv.URL }

func (b *balancer) rewrite(pr *httputil.ProxyRequest) {
	i := -1
	if h := pr.In.Header.Get(headerBackend); h != "" {
		i, _ = strconv.Atoi(h)
	} else if p := b.pin.Load(); p >= 0 {
		i = int(p)
	} else {
		i = int(b.next.Add(1) % uint64(len(b.backends)))
	}
	pr.SetURL(b.backends[i])
	pr.Out.Host = pr.In.Host
	ip := pr.In.Header.Get(headerClientIP)
	if ip == "" {
		ip, _, _ = net.SplitHostPort(pr.In.RemoteAddr)
	}
	pr.Out.Header.Set("X-Forwarded-For", ip)
	pr.Out.Header.Del(headerBackend)
	pr.Out.Header.Del(headerClientIP)
	b.mu.Lock()
	b.served = append(b.served, servedBy{i, pr.In.Method, pr.In.URL.Path})
	b.mu.Unlock()
}

// servedSince returns who served the requests after the first n recorded.
func (b *balancer) servedSince(n int) []servedBy {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]servedBy(nil), b.served[n:]...)
}

func (b *balancer) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.served)
}

// Two kycvs processes on one PostgreSQL behind one balancer, with one
// issuer URL: verifications whose steps cross the processes complete and
// verify with go-oidc; the OTP tries of a challenge and the sends to a
// mobile are counted in the database, so their limits hold across the
// processes under concurrent attack.
func TestSeveralProcesses(t *testing.T) {
	dbURL := storetest.URL(t, "postgres")
	bin := buildKycvs(t)
	gw := newSMSGateway(t)
	lb := newBalancer(t)
	const dailyLimit, maxTries = 6, 3
	env := []string{"KYCVS_SECRET=" + testSecret, "KYCVS_DATABASE_URL=" + dbURL}
	args := []string{"--issuer", lb.URL(), "--sms", gw.Spec(), "--sms-webhook-secret", gatewaySecret,
		"--trusted-proxy", "127.0.0.1", "--metrics-addr", "off", "--log-level", "warn",
		"--otp-daily-limit", strconv.Itoa(dailyLimit), "--otp-max-tries", strconv.Itoa(maxTries),
		"--otp-hourly-limit", "0", "--ip-limit", "0", "--client-otp-limit", "0", "--otp-resend-interval", "0"}
	// Both start at once on the empty database, as replicas do.
	procs := []*serveProcess{
		launchServe(t, bin, freeLoopbackAddr(t), env, args...),
		launchServe(t, bin, freeLoopbackAddr(t), env, args...),
	}
	for _, p := range procs {
		p.waitHealthy()
		u, _ := url.Parse(p.URL)
		lb.backends = append(lb.backends, u)
	}

	st, err := store.Open(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	people := loadPeople(t, st, "multi", 5)
	bombed := people[4] // only the send-limit case sends to this one
	people = people[:4]
	c, secret, err := oauth.NewClients(st, []byte(testSecret)).Create(context.Background(),
		oauth.ClientSpec{Name: "Multi Air", RedirectURIs: []string{"http://127.0.0.1:9/callback"}})
	if err != nil {
		t.Fatal(err)
	}
	d := &flowDriver{Issuer: lb.URL(), ClientID: c.ID, ClientSecret: secret, RedirectURI: "http://127.0.0.1:9/callback", Gateway: gw}

	t.Run("a verification crosses the processes", func(t *testing.T) {
		// authorize on A; the sign-in and the OTP, which issues the code,
		// on B; the token on A, userinfo on B.
		route := map[string]int64{"authorize": 0, "login": 1, "send": 1, "otp": 1, "token": 0, "userinfo": 1}
		d := *d
		d.Route = func(step string) { lb.pin.Store(route[step]) }
		defer lb.pin.Store(-1)
		mark := lb.count()
		r := d.run(context.Background(), people[0].Mobile, people[0].Name)
		lb.pin.Store(-1)
		if r.Err != nil {
			t.Fatalf("crossing verification: %v%s", r.Err, lastBody(r))
		}
		served := map[string]int{}
		for _, s := range lb.servedSince(mark) {
			switch {
			case s.path == oauth.PathAuth:
				served["authorize"] = s.backend
			case s.method == http.MethodPost && strings.HasSuffix(s.path, "/otp"):
				served["otp"] = s.backend
			case s.path == oauth.PathToken:
				served["token"] = s.backend
			case s.path == oauth.PathUserinfo:
				served["userinfo"] = s.backend
			}
		}
		for step, want := range map[string]int{"authorize": 0, "otp": 1, "token": 0, "userinfo": 1} {
			if got, ok := served[step]; !ok || got != want {
				t.Errorf("%s served by process %d, want %d (%v)", step, got, want, served)
			}
		}
		// A relying party library accepts the result; discovery and keys
		// come from whichever process the balancer picks.
		ctx := context.Background()
		provider, err := oidc.NewProvider(ctx, lb.URL())
		if err != nil {
			t.Fatal(err)
		}
		idt, err := provider.Verifier(&oidc.Config{ClientID: c.ID}).Verify(ctx, r.IDToken)
		if err != nil || idt.Nonce != r.Nonce {
			t.Fatalf("ID token from process A: %v (nonce %q)", err, idt.Nonce)
		}
		var claims struct {
			Status int `json:"vaccination_status"`
		}
		if err := idt.Claims(&claims); err != nil || claims.Status != 2 || r.Status != 2 {
			t.Errorf("status in the ID token %d, in userinfo %d, want 2", claims.Status, r.Status)
		}
	})

	t.Run("verifications round robin", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make(chan error, 12)
		for i := range 12 {
			p := people[i%len(people)]
			wg.Go(func() {
				if r := d.run(context.Background(), p.Mobile, p.Name); r.Err != nil {
					errs <- fmt.Errorf("%v%s", r.Err, lastBody(r))
				}
			})
			if i%len(people) == len(people)-1 {
				wg.Wait() // one flow per mobile at a time: codes go to one inbox
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})

	t.Run("concurrent wrong OTPs across the processes", func(t *testing.T) {
		p := people[1]
		s := openSignIn(t, lb.URL(), c.ID, p)
		before := gw.Delivered(p.Mobile)
		if status, _, err := s.post(); err != nil || status != http.StatusSeeOther {
			t.Fatalf("send: %d %v", status, err)
		}
		code, ok := gw.waitCode(context.Background(), p.Mobile, before)
		if !ok {
			t.Fatal("no code")
		}
		n, _ := strconv.Atoi(code)
		const guesses = 50
		var wg sync.WaitGroup
		statuses := make([]int, guesses)
		bodies := make([]string, guesses)
		locations := make([]string, guesses)
		for i := range guesses {
			wrong := fmt.Sprintf("%06d", (n+1+i)%1_000_000)
			wg.Go(func() {
				statuses[i], bodies[i] = s.postTo(t, s.url+"/otp", url.Values{"otp": {wrong}}, i%2)
				if statuses[i] == http.StatusSeeOther {
					locations[i] = bodies[i]
				}
			})
		}
		wg.Wait()
		// Tries are counted on the locked row in the database: the first
		// maxTries-1 guesses are sent to the page that says they are wrong
		// (303 to ?m=wrong), the next kills the challenge (303 to its page,
		// which says so), and every other one finds it dead (410).
		wrong, gone := 0, 0
		for i, st := range statuses {
			switch {
			case st == http.StatusSeeOther && strings.HasSuffix(locations[i], "?m=wrong"):
				wrong++
			case st == http.StatusSeeOther && strings.HasPrefix(locations[i], "/login/") && !strings.Contains(locations[i], "?"),
				st == http.StatusGone && strings.Contains(bodies[i], "Too many wrong codes"):
				gone++
			default:
				t.Errorf("wrong guess answered %d: %.200s", st, bodies[i])
			}
		}
		t.Logf("50 wrong guesses: %d told to try again, %d refused as the challenge died", wrong, gone)
		if wrong != maxTries-1 {
			t.Errorf("%d guesses were told to try again, want %d", wrong, maxTries-1)
		}
		challenge := strings.TrimPrefix(mustParse(t, s.url).Path, "/login/")
		lr, err := st.GetLoginRequest(context.Background(), challenge)
		if err != nil {
			t.Fatal(err)
		}
		if lr.State != store.LoginDead || lr.OTPTries != maxTries {
			t.Errorf("challenge %s with %d tries, want dead with %d", lr.State, lr.OTPTries, maxTries)
		}
		// Even the right code does nothing now, on either process.
		for backend := range 2 {
			if st, _ := s.postTo(t, s.url+"/otp", url.Values{"otp": {code}}, backend); st != http.StatusGone {
				t.Errorf("the right code after the challenge died, on process %d: %d", backend, st)
			}
		}
	})

	t.Run("sends to one mobile counted across the processes and IPs", func(t *testing.T) {
		p := bombed
		const attempts = 16
		sends := make([]*pendingSend, attempts)
		for i := range sends {
			sends[i] = openSignIn(t, lb.URL(), c.ID, p)
		}
		var wg sync.WaitGroup
		statuses := make([]int, attempts)
		retry := make([]string, attempts)
		for i, s := range sends {
			wg.Go(func() {
				statuses[i], retry[i] = s.postSend(t, i%2, fmt.Sprintf("203.0.113.%d", i+1))
			})
		}
		wg.Wait()
		sent, limited := 0, 0
		for i, st := range statuses {
			switch st {
			case http.StatusSeeOther:
				sent++
			case http.StatusTooManyRequests:
				limited++
				if s, err := strconv.Atoi(retry[i]); err != nil || s < 1 || s > 24*3600+60 {
					t.Errorf("429 with Retry-After %q", retry[i])
				}
			default:
				t.Errorf("send answered %d", st)
			}
		}
		// Racing sends see each other's counts: some may be refused early
		// (their counts are taken back; when all sixteen are counted before
		// any is checked, all are), none may go beyond the limit.
		t.Logf("%d concurrent sends: %d went out, %d refused", attempts, sent, limited)
		if sent > dailyLimit {
			t.Errorf("%d of %d concurrent sends went out, want at most %d", sent, attempts, dailyLimit)
		}
		// One at a time, alternating processes and IPs, the rest of the
		// day's allowance goes out, and not one more.
		for i := range dailyLimit - sent + 2 {
			status, _ := openSignIn(t, lb.URL(), c.ID, p).postSend(t, i%2, fmt.Sprintf("198.51.100.%d", i+1))
			want := http.StatusSeeOther
			if sent == dailyLimit {
				want = http.StatusTooManyRequests
			}
			if status != want {
				t.Fatalf("sequential send %d with %d sent: %d, want %d", i, sent, status, want)
			}
			if status == http.StatusSeeOther {
				sent++
			}
		}
		time.Sleep(100 * time.Millisecond)
		if got := gw.Delivered(p.Mobile); got != dailyLimit {
			t.Errorf("%d codes reached the mobile, want %d", got, dailyLimit)
		}
	})

	if n := checkConsistency(t, st); n == 0 {
		t.Error("no codes were issued")
	}
}

// postTo posts form to u on the given backend (through the balancer),
// with this sign-in's cookies and CSRF token, and returns the status and
// body of the answer, or for a redirect (not followed) its Location.
func (p *pendingSend) postTo(t *testing.T, u string, form url.Values, backend int) (int, string) {
	form.Set("csrf_token", p.form.Get("csrf_token"))
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set(headerBackend, strconv.Itoa(backend))
	hc := *p.client
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := hc.Do(req)
	if err != nil {
		t.Error(err)
		return 0, ""
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusSeeOther {
		// A redirect's body is empty; where it points is the answer.
		return resp.StatusCode, resp.Header.Get("Location")
	}
	return resp.StatusCode, readAll(resp)
}

// postSend posts the sign-in form on backend, as a person at clientIP.
func (p *pendingSend) postSend(t *testing.T, backend int, clientIP string) (status int, retryAfter string) {
	req, _ := http.NewRequest(http.MethodPost, p.url, strings.NewReader(p.form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set(headerBackend, strconv.Itoa(backend))
	req.Header.Set(headerClientIP, clientIP)
	hc := *p.client
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := hc.Do(req)
	if err != nil {
		t.Error(err)
		return 0, ""
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode == http.StatusSeeOther && strings.HasSuffix(loc, "?m=limit") {
		// A refusal redirects to the page that says so: a 429 (read
		// through the other process, as a reload may be).
		req, _ = http.NewRequest(http.MethodGet, resp.Request.URL.ResolveReference(mustParse(t, loc)).String(), nil)
		req.Header.Set(headerBackend, strconv.Itoa(1-backend))
		req.Header.Set(headerClientIP, clientIP)
		if resp, err = hc.Do(req); err != nil {
			t.Error(err)
			return 0, ""
		}
		resp.Body.Close()
	}
	return resp.StatusCode, resp.Header.Get("Retry-After")
}

func mustParse(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
