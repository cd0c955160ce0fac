package loadtest

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kycvs/kycvs/otp"
)

func newTestGateway(t *testing.T) *Gateway {
	t.Helper()
	g, err := NewGateway("127.0.0.1:0", []byte("webhook-secret"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Close() })
	return g
}

// send delivers msg through the server's own webhook sender.
func send(t *testing.T, url, secret string, msg otp.SMS) error {
	t.Helper()
	s, err := otp.NewWebhookSender(url, []byte(secret), time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s.Send(context.Background(), msg)
}

func TestGatewayDeliversTheCodeToItsMobile(t *testing.T) {
	g := newTestGateway(t)
	a, b := g.Inbox("+917000000001"), g.Inbox("+917000000002")
	if err := send(t, g.URL(), "webhook-secret", otp.SMS{To: "+917000000002", Text: "Your kycvs code is 482913. Valid 3 minutes."}); err != nil {
		t.Fatal(err)
	}
	code, err := b.Wait(context.Background(), time.Second)
	if err != nil || code != "482913" {
		t.Fatalf("inbox of the addressee: %q, %v", code, err)
	}
	if code, err := a.Wait(context.Background(), 10*time.Millisecond); err == nil {
		t.Fatalf("another mobile's inbox got %q", code)
	}
	if n := g.Stats().Received.Load(); n != 1 {
		t.Fatalf("received = %d, want 1", n)
	}
}

func TestGatewayKeepsOnlyTheNewestCode(t *testing.T) {
	g := newTestGateway(t)
	in := g.Inbox("+917000000001")
	for _, text := range []string{"code 111111", "code 222222"} {
		if err := send(t, g.URL(), "webhook-secret", otp.SMS{To: "+917000000001", Text: text}); err != nil {
			t.Fatal(err)
		}
	}
	if code, _ := in.Wait(context.Background(), time.Second); code != "222222" {
		t.Fatalf("got %q, want the newer code", code)
	}
	in.Clear()
	if _, err := in.Wait(context.Background(), 10*time.Millisecond); err == nil {
		t.Fatal("a cleared inbox must be empty")
	}
}

func TestGatewayRejects(t *testing.T) {
	g := newTestGateway(t)
	g.Inbox("+917000000001")
	err := send(t, g.URL(), "wrong-secret", otp.SMS{To: "+917000000001", Text: "code 123456"})
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("bad signature: sender got %v, want a 401", err)
	}
	if err := send(t, g.URL(), "webhook-secret", otp.SMS{To: "+919999999999", Text: "code 123456"}); err != nil {
		t.Fatal(err)
	}
	if err := send(t, g.URL(), "webhook-secret", otp.SMS{To: "+917000000001", Text: "no code here"}); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(g.URL())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	s := g.Stats()
	if s.BadSignature.Load() != 1 || s.Unknown.Load() != 1 || s.NoCode.Load() != 1 || s.Malformed.Load() != 1 || s.Received.Load() != 0 {
		t.Fatalf("stats bad=%d unknown=%d nocode=%d malformed=%d received=%d, want 1 1 1 1 0",
			s.BadSignature.Load(), s.Unknown.Load(), s.NoCode.Load(), s.Malformed.Load(), s.Received.Load())
	}
}

func TestGatewayListensOnLoopbackOnly(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "192.0.2.1:9099"} {
		if g, err := NewGateway(addr, []byte("s")); err == nil {
			g.Close()
			t.Errorf("NewGateway(%q) succeeded, want a refusal", addr)
		}
	}
}

func TestFindForm(t *testing.T) {
	page := `<html><head><title>Enter the code</title></head><body>
<form method="post" action="/login/abc/otp"><input type="hidden" name="csrf_token" value="tok&amp;1">
<input id="otp" name="otp" autocomplete="one-time-code"><button>Share</button></form>
<form method="post" action="/login/abc/cancel"><input type="hidden" name="csrf_token" value="tok&amp;1"></form>
</body></html>`
	f, ok := findForm([]byte(page), "otp")
	if !ok || f.action != "/login/abc/otp" || f.csrf != "tok&1" {
		t.Fatalf("findForm(otp) = %+v, %v", f, ok)
	}
	if _, ok := findForm([]byte(page), "mobile"); ok {
		t.Fatal("found a mobile form that is not there")
	}
	if got := pageTitle([]byte(page)); got != "Enter the code" {
		t.Fatalf("pageTitle = %q", got)
	}
}
