package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/kycvs/kycvs/internal/kycvstest"
	"github.com/kycvs/kycvs/oauth"
	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/store/storetest"
)

// pendingSend is a sign-in at its mobile-and-name form, ready to post.
type pendingSend struct {
	client *http.Client
	url    string
	form   url.Values
}

// openSignIn starts an authorization at issuer (where the server
// listens) and loads the sign-in form for the person.
func openSignIn(t *testing.T, issuer, clientID string, person store.Beneficiary) *pendingSend {
	t.Helper()
	b := kycvstest.NewBrowser(t)
	b.Client.CheckRedirect = func(r *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(r.URL.String(), issuer) {
			return nil
		}
		return http.ErrUseLastResponse
	}
	q := url.Values{"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {"http://127.0.0.1:9/callback"},
		"scope": {"openid vaccination_status"}, "state": {randomString()}, "nonce": {randomString()},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())}, "code_challenge_method": {"S256"}}
	login := b.Get(issuer + oauth.PathAuth + "?" + q.Encode())
	token := login.Hidden("csrf_token")
	if login.Status != http.StatusOK || token == "" {
		t.Fatalf("sign-in page: %d %s", login.Status, login.Body)
	}
	// The form posts to the page's address without its query.
	action := *login.URL
	action.RawQuery = ""
	return &pendingSend{client: b.Client, url: action.String(),
		form: url.Values{"mobile": {person.Mobile}, "name": {person.Name}, "csrf_token": {token}}}
}

// post submits the form and returns the status of the first answer
// (redirects are not followed) and how long it took.
func (p *pendingSend) post() (int, time.Duration, error) {
	status, _, took, err := p.send()
	return status, took, err
}

// send is post that also returns where a redirect points: a send the SMS
// gateway refused is a 303 to the form's page with ?m=unsent or ?m=busy.
func (p *pendingSend) send() (status int, location string, took time.Duration, err error) {
	hc := *p.client
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	start := time.Now()
	resp, err := hc.PostForm(p.url, p.form)
	if err != nil {
		return 0, "", time.Since(start), err
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Location"), time.Since(start), nil
}

// SIGTERM while a request is in flight: the server stops taking new
// connections at once, finishes the request it has (here a code send that
// waits 1.5 s for the SMS gateway), and exits with status 0.
func TestGracefulShutdown(t *testing.T) {
	bin := buildKycvs(t)
	gw := newSMSGateway(t)
	gw.Delay.Store(int64(1500 * time.Millisecond))
	dbURL := "sqlite:" + filepath.Join(t.TempDir(), "kycvs.db")
	addr := freeLoopbackAddr(t)
	p := startServe(t, bin, addr, []string{"KYCVS_SECRET=" + testSecret, "KYCVS_DATABASE_URL=" + dbURL},
		"--issuer", "http://"+addr, "--sms", gw.Spec(), "--sms-webhook-secret", gatewaySecret, "--metrics-addr", "off")

	st, err := store.Open(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	person := loadPeople(t, st, "shutdown", 1)[0]
	c, _, err := oauth.NewClients(st, []byte(testSecret)).Create(context.Background(),
		oauth.ClientSpec{Name: "Shutdown Air", RedirectURIs: []string{"http://127.0.0.1:9/callback"}})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()

	send := openSignIn(t, p.URL, c.ID, person)
	type result struct {
		status int
		took   time.Duration
		err    error
	}
	done := make(chan result, 1)
	go func() {
		s, d, err := send.post()
		done <- result{s, d, err}
	}()
	if !gw.WaitArrived(1, 10*time.Second) {
		t.Fatal("the SMS never reached the gateway")
	}
	p.signal(syscall.SIGTERM)

	// New connections are refused while the request is still being served.
	refused := false
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		conn, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err != nil {
			refused = true
			break
		}
		conn.Close()
	}
	if !refused {
		t.Error("the server still accepted connections a second after SIGTERM")
	}
	r := <-done
	if r.err != nil || r.status != http.StatusSeeOther {
		t.Fatalf("the in-flight send: %d %v, want 303 (finished)", r.status, r.err)
	}
	if gw.Delivered(person.Mobile) != 1 {
		t.Errorf("the in-flight send's SMS was not delivered")
	}
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		t.Fatal("the server did not exit within 10 seconds of SIGTERM")
	}
	var exit *exec.ExitError
	if p.err != nil && !errors.As(p.err, &exit) {
		t.Fatal(p.err)
	}
	if p.err != nil {
		t.Errorf("exit status %v, want 0", p.err)
	}
	if !strings.Contains(p.log.String(), "kycvs stopped") {
		t.Errorf("no orderly stop in the log:\n%s", p.log.String())
	}
	// The in-flight send's code is counted: the stop wrote the tallies.
	st, err = store.Open(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tallies, err := st.SumOTPTalliesByClient(context.Background(), time.Now().Add(-time.Hour), time.Now().Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if got := tallies[c.ID].Sent; got != 1 {
		t.Errorf("%d codes sent counted for the client, want the in-flight one", got)
	}
}

// A graceful stop writes the OTP tallies counted since the last flush:
// with the flushes an hour apart, the codes of a sign-in made just before
// the stop are in otp_tallies once listenAndServe has returned.
func TestShutdownWritesTallies(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dialect string) {
		addr := freeLoopbackAddr(t)
		ts := newTestServer(t, dialect, func(c *serveConfig) { c.tallyFlush, c.Addr = time.Hour, addr })
		id, secret := ts.client(oauth.ClientSpec{})
		if back := ts.newBrowser().signIn(ts.newRP(id, secret).authorize(), "9999900001", "Asha Verma"); back.Query().Get("code") == "" {
			t.Fatalf("no code: %s", back)
		}
		ctx := context.Background()
		counted := func() store.OTPTotals {
			t.Helper()
			tallies, err := ts.store().SumOTPTalliesByClient(ctx, time.Now().Add(-time.Hour), time.Now().Add(time.Minute))
			must(t, err)
			return tallies[id]
		}
		if got := counted(); got != (store.OTPTotals{}) {
			t.Fatalf("tallies written before the stop: %+v", got)
		}

		serve, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- ts.srv.listenAndServe(serve) }()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
				resp.Body.Close()
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the server never listened")
			}
		}
		stop()
		select {
		case err := <-done:
			must(t, err)
		case <-time.After(20 * time.Second):
			t.Fatal("listenAndServe did not return")
		}
		if got, want := counted(), (store.OTPTotals{Sent: 1, Accepted: 1}); got != want {
			t.Errorf("tallies after the stop: %+v, want %+v", got, want)
		}
	})
}

func readAll(resp *http.Response) string {
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			return b.String()
		}
	}
}
