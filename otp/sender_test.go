package otp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kycvs/kycvs/otp"
)

var testSecret = []byte("test-webhook-secret-0123456789ab")

func testSMS(to, code string) otp.SMS {
	return otp.SMS{
		To:     to,
		Text:   code + " is your kycvs OTP. Valid for 3 minutes.",
		SentAt: time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC),
	}
}

func TestNewSender(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		cfg     otp.SenderConfig
		want    string // %T of the sender, or "" for an error
		wantErr string
	}{
		{name: "log", cfg: otp.SenderConfig{Spec: "log"}, want: "*otp.LogSender"},
		{name: "file", cfg: otp.SenderConfig{Spec: "file:" + filepath.Join(dir, "sms.jsonl")}, want: "*otp.FileSender"},
		{name: "webhook", cfg: otp.SenderConfig{Spec: "webhook:https://sms.example/send", WebhookSecret: testSecret}, want: "*otp.WebhookSender"},
		{name: "empty", cfg: otp.SenderConfig{}, wantErr: "empty SMS sender"},
		{name: "unknown", cfg: otp.SenderConfig{Spec: "carrier-pigeon"}, wantErr: "unknown SMS sender"},
		{name: "log with argument", cfg: otp.SenderConfig{Spec: "log:x"}, wantErr: "no argument"},
		{name: "file without colon", cfg: otp.SenderConfig{Spec: "file"}, wantErr: "needs an argument"},
		{name: "file empty path", cfg: otp.SenderConfig{Spec: "file:"}, wantErr: "needs a path"},
		{name: "file unwritable", cfg: otp.SenderConfig{Spec: "file:" + filepath.Join(dir, "missing", "sms.jsonl")}, wantErr: "SMS file"},
		{name: "webhook without URL", cfg: otp.SenderConfig{Spec: "webhook:", WebhookSecret: testSecret}, wantErr: "http:// or https://"},
		{name: "webhook ftp", cfg: otp.SenderConfig{Spec: "webhook:ftp://user:tok3n@sms.example/", WebhookSecret: testSecret}, wantErr: "http:// or https://"},
		{name: "webhook relative", cfg: otp.SenderConfig{Spec: "webhook:sms.example/send", WebhookSecret: testSecret}, wantErr: "http:// or https://"},
		{name: "webhook malformed", cfg: otp.SenderConfig{Spec: "webhook:http://sms.example/%zz?token=tok3n", WebhookSecret: testSecret}, wantErr: "malformed URL"},
		{name: "webhook no host", cfg: otp.SenderConfig{Spec: "webhook:https:///send", WebhookSecret: testSecret}, wantErr: "no host"},
		{name: "webhook no secret", cfg: otp.SenderConfig{Spec: "webhook:https://sms.example/send"}, wantErr: "secret"},
		{name: "webhook negative timeout", cfg: otp.SenderConfig{Spec: "webhook:https://sms.example/send", WebhookSecret: testSecret, Timeout: -time.Second}, wantErr: "timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := otp.NewSender(tt.cfg)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("NewSender(%q) = %T, want error containing %q", tt.cfg.Spec, s, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error %q does not contain %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "tok3n") {
					t.Errorf("error %q repeats the URL's token", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewSender(%q): %v", tt.cfg.Spec, err)
			}
			if got := fmt.Sprintf("%T", s); got != tt.want {
				t.Errorf("NewSender(%q) = %s, want %s", tt.cfg.Spec, got, tt.want)
			}
		})
	}
}

func TestFileSenderConcurrentAppends(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sms.jsonl")
	s, err := otp.NewFileSender(path)
	if err != nil {
		t.Fatal(err)
	}
	const n = 50
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			errs <- s.Send(context.Background(), testSMS(fmt.Sprintf("+9198765%05d", i), fmt.Sprintf("%06d", i)))
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("Send: %v", err)
		}
	}

	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
	if len(lines) != n {
		t.Fatalf("got %d lines, want %d", len(lines), n)
	}
	for i, line := range lines {
		var fields map[string]any
		if err := json.Unmarshal([]byte(line), &fields); err != nil {
			t.Fatalf("line %d %q: %v", i+1, line, err)
		}
		for _, k := range []string{"to", "text", "sent_at"} {
			if _, ok := fields[k]; !ok {
				t.Errorf("line %d lacks %q: %s", i+1, k, line)
			}
		}
	}
	if fi, err := os.Stat(path); err != nil {
		t.Fatal(err)
	} else if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("file mode %o, want 600", perm)
	}

	msgs, err := otp.ReadSMSFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != n {
		t.Fatalf("ReadSMSFile: %d messages, want %d", len(msgs), n)
	}
	for i := range n {
		to, want := fmt.Sprintf("+9198765%05d", i), fmt.Sprintf("%06d", i)
		if got, ok := otp.LastCode(msgs, to); !ok || got != want {
			t.Errorf("LastOTP(%s) = %q, %v; want %q", to, got, ok, want)
		}
	}
}

func TestFileSenderStampsSentAt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sms.jsonl")
	s, err := otp.NewFileSender(path)
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	if err := s.Send(context.Background(), otp.SMS{To: "+919876543210", Text: "123456"}); err != nil {
		t.Fatal(err)
	}
	msgs, err := otp.ReadSMSFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 || msgs[0].SentAt.Before(before.Add(-time.Second)) {
		t.Errorf("got %+v, want one message with SentAt set to now", msgs)
	}
}

func TestReadSMSFile(t *testing.T) {
	good := `{"to":"+919876543210","text":"111111 is your OTP","sent_at":"2025-03-01T10:00:00Z"}` + "\n"
	tests := []struct {
		name    string
		content string
		want    int
		wantErr string
	}{
		{name: "empty", content: "", want: 0},
		{name: "two lines", content: good + "\n" + good, want: 2},
		{name: "append in progress", content: good + `{"to":"+9198`, want: 1},
		{name: "last line without newline", content: good + strings.TrimSuffix(good, "\n"), want: 2},
		{name: "malformed line", content: good + "not json\n" + good, wantErr: "line 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "sms.jsonl")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			msgs, err := otp.ReadSMSFile(path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(msgs) != tt.want {
				t.Errorf("got %d messages, want %d", len(msgs), tt.want)
			}
		})
	}

	if _, err := otp.ReadSMSFile(filepath.Join(t.TempDir(), "none")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: err = %v, want fs.ErrNotExist", err)
	}
}

func TestLastOTP(t *testing.T) {
	msgs := []otp.SMS{
		testSMS("+919876543210", "111111"),
		testSMS("+919999999999", "222222"),
		testSMS("+919876543210", "333333"),
		{To: "+919876543210", Text: "Your beneficiary 1234567 is verified."},
	}
	tests := []struct {
		name, to, want string
		ok             bool
	}{
		{name: "latest code wins", to: "+919876543210", want: "333333", ok: true},
		{name: "other number", to: "+919999999999", want: "222222", ok: true},
		{name: "unknown number", to: "+911111111111"},
		{name: "different form of number", to: "9876543210"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := otp.LastCode(msgs, tt.to)
			if got != tt.want || ok != tt.ok {
				t.Errorf("LastOTP(%q) = %q, %v; want %q, %v", tt.to, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestLogSender(t *testing.T) {
	var buf bytes.Buffer
	s, err := otp.NewSender(otp.SenderConfig{Spec: "log", Logger: slog.New(slog.NewJSONHandler(&buf, nil))})
	if err != nil {
		t.Fatal(err)
	}
	msg := testSMS("+919876543210", "123456")
	if err := s.Send(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	var rec struct {
		Level string  `json:"level"`
		SMS   otp.SMS `json:"sms"`
	}
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("log output %q: %v", buf.String(), err)
	}
	if rec.Level != "INFO" || rec.SMS.To != msg.To || rec.SMS.Text != msg.Text || !rec.SMS.SentAt.Equal(msg.SentAt) {
		t.Errorf("logged %+v at %s, want %+v at INFO", rec.SMS, rec.Level, msg)
	}
}

// gateway is a fake SMS gateway that checks each request's signature.
type gateway struct {
	t      *testing.T
	status int
	mu     sync.Mutex
	got    []otp.SMS
}

func (g *gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		g.t.Errorf("read body: %v", err)
	}
	if ct := r.Header.Get("Content-Type"); r.Method != http.MethodPost || ct != "application/json" {
		g.t.Errorf("got %s with Content-Type %q, want POST application/json", r.Method, ct)
	}
	ts, sig := r.Header.Get(otp.WebhookTimestampHeader), r.Header.Get(otp.WebhookSignatureHeader)
	if err := otp.VerifyWebhookSignature(testSecret, ts, sig, body, time.Now(), time.Minute); err != nil {
		g.t.Errorf("signature: %v", err)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var msg otp.SMS
	if err := json.Unmarshal(body, &msg); err != nil {
		g.t.Errorf("body %q: %v", body, err)
	}
	g.mu.Lock()
	g.got = append(g.got, msg)
	g.mu.Unlock()
	w.WriteHeader(g.status)
	_, _ = io.WriteString(w, strings.Repeat("x", 1<<20)) // more than the sender reads
}

func newWebhook(t *testing.T, h http.Handler, timeout time.Duration) (otp.Sender, *httptest.Server) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	s, err := otp.NewSender(otp.SenderConfig{
		Spec:          "webhook:" + srv.URL + "/sms",
		WebhookSecret: testSecret,
		Timeout:       timeout,
		HTTPClient:    srv.Client(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return s, srv
}

// assertNoLeak fails if err repeats the message text or the full number.
func assertNoLeak(t *testing.T, err error, msg otp.SMS) {
	t.Helper()
	if strings.Contains(err.Error(), msg.Text) || strings.Contains(err.Error(), msg.To) || strings.Contains(err.Error(), "123456") {
		t.Errorf("error %q leaks the message", err)
	}
}

func TestWebhookSender(t *testing.T) {
	msg := testSMS("+919876543210", "123456")
	tests := []struct {
		name    string
		status  int
		wantErr bool
	}{
		{name: "200", status: http.StatusOK},
		{name: "202", status: http.StatusAccepted},
		{name: "500", status: http.StatusInternalServerError, wantErr: true},
		{name: "400", status: http.StatusBadRequest, wantErr: true},
		{name: "3xx", status: http.StatusNotModified, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := &gateway{t: t, status: tt.status}
			s, _ := newWebhook(t, g, 0)
			err := s.Send(context.Background(), msg)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Send: err = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil {
				assertNoLeak(t, err, msg)
			}
			if len(g.got) != 1 || g.got[0].To != msg.To || g.got[0].Text != msg.Text || !g.got[0].SentAt.Equal(msg.SentAt) {
				t.Errorf("gateway received %+v, want %+v", g.got, msg)
			}
		})
	}
}

func TestWebhookSenderTimeout(t *testing.T) {
	release := make(chan struct{})
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	const timeout = 200 * time.Millisecond
	s, _ := newWebhook(t, slow, timeout)
	t.Cleanup(func() { close(release) }) // runs before srv.Close
	msg := testSMS("+919876543210", "123456")

	start := time.Now()
	err := s.Send(context.Background(), msg)
	elapsed := time.Since(start)
	if err == nil {
		t.Fatal("Send to a slow gateway succeeded")
	}
	if elapsed > timeout+time.Second {
		t.Errorf("Send took %v, timeout %v", elapsed, timeout)
	}
	assertNoLeak(t, err, msg)
	if strings.Contains(err.Error(), "/sms") {
		t.Errorf("error %q repeats the URL", err)
	}
}

func TestWebhookSenderTransportError(t *testing.T) {
	s, srv := newWebhook(t, http.NotFoundHandler(), time.Second)
	srv.Close()
	msg := testSMS("+919876543210", "123456")
	err := s.Send(context.Background(), msg)
	if err == nil {
		t.Fatal("Send to a closed server succeeded")
	}
	assertNoLeak(t, err, msg)
}

func TestVerifyWebhookSignature(t *testing.T) {
	// Capture one real request, then tamper with it.
	var ts, sig string
	var body []byte
	capture := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ts, sig = r.Header.Get(otp.WebhookTimestampHeader), r.Header.Get(otp.WebhookSignatureHeader)
		body, _ = io.ReadAll(r.Body)
	})
	s, _ := newWebhook(t, capture, 0)
	if err := s.Send(context.Background(), testSMS("+919876543210", "123456")); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tampered := bytes.Replace(body, []byte("123456"), []byte("654321"), 1)

	tests := []struct {
		name      string
		secret    []byte
		ts, sig   string
		body      []byte
		now       time.Time
		wantValid bool
	}{
		{name: "valid", secret: testSecret, ts: ts, sig: sig, body: body, now: now, wantValid: true},
		{name: "valid within skew", secret: testSecret, ts: ts, sig: sig, body: body, now: now.Add(50 * time.Second), wantValid: true},
		{name: "tampered body", secret: testSecret, ts: ts, sig: sig, body: tampered, now: now},
		{name: "wrong secret", secret: []byte("another-secret"), ts: ts, sig: sig, body: body, now: now},
		{name: "empty secret", secret: nil, ts: ts, sig: sig, body: body, now: now},
		{name: "stale timestamp", secret: testSecret, ts: ts, sig: sig, body: body, now: now.Add(2 * time.Minute)},
		{name: "future timestamp", secret: testSecret, ts: ts, sig: sig, body: body, now: now.Add(-2 * time.Minute)},
		{name: "timestamp changed", secret: testSecret, ts: fmt.Sprint(now.Unix() + 1), sig: sig, body: body, now: now},
		{name: "malformed timestamp", secret: testSecret, ts: "yesterday", sig: sig, body: body, now: now},
		{name: "missing prefix", secret: testSecret, ts: ts, sig: strings.TrimPrefix(sig, "sha256="), body: body, now: now},
		{name: "malformed hex", secret: testSecret, ts: ts, sig: "sha256=zz", body: body, now: now},
		{name: "empty signature", secret: testSecret, ts: ts, sig: "", body: body, now: now},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := otp.VerifyWebhookSignature(tt.secret, tt.ts, tt.sig, tt.body, tt.now, time.Minute)
			if tt.wantValid {
				if err != nil {
					t.Fatalf("VerifyWebhookSignature: %v", err)
				}
				return
			}
			if !errors.Is(err, otp.ErrWebhookSignature) {
				t.Fatalf("VerifyWebhookSignature = %v, want ErrWebhookSignature", err)
			}
		})
	}
}

func TestWebhookSenderDoesNotFollowRedirects(t *testing.T) {
	var hits int
	var mu sync.Mutex
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits++
		mu.Unlock()
	}))
	t.Cleanup(elsewhere.Close)
	redirect := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL, http.StatusTemporaryRedirect)
	})
	s, _ := newWebhook(t, redirect, time.Second)
	if err := s.Send(context.Background(), testSMS("+919876543210", "123456")); err == nil {
		t.Error("Send succeeded on a redirect")
	}
	mu.Lock()
	defer mu.Unlock()
	if hits != 0 {
		t.Errorf("redirect followed: the OTP reached another host %d times", hits)
	}
}

// TestWebhookKeepsConnections: sends that run at once reuse the
// connections to the gateway round after round instead of opening one
// each (net/http keeps only 2 per host unless told otherwise).
func TestWebhookKeepsConnections(t *testing.T) {
	var mu sync.Mutex
	opened := 0
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		time.Sleep(5 * time.Millisecond) // the sends of a round overlap
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			mu.Lock()
			opened++
			mu.Unlock()
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	s, err := otp.NewWebhookSender(srv.URL+"/sms", []byte("webhook-secret"), 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	const atOnce, rounds = 16, 5
	for range rounds {
		var wg sync.WaitGroup
		for i := range atOnce {
			wg.Go(func() {
				if err := s.Send(context.Background(), otp.SMS{To: fmt.Sprintf("+9198765%05d", i), Text: "code"}); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	}
	mu.Lock()
	defer mu.Unlock()
	if opened > atOnce {
		t.Errorf("%d rounds of %d sends at once opened %d connections, want at most %d", rounds, atOnce, opened, atOnce)
	}
}
