package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kycvs/kycvs/otp"
)

const gatewaySecret = "test-gateway-secret-0123456789"

// smsGateway is an SMS gateway for tests: it checks each webhook's
// signature and keeps the codes per mobile. Behaviour can be changed while
// it runs: Delay makes it answer late, Fail makes it answer 502, and Hold
// parks every request until Release (or the sender gives up).
type smsGateway struct {
	t   testing.TB
	srv *httptest.Server

	Delay atomic.Int64 // nanoseconds to wait before answering
	Fail  atomic.Bool

	mu       sync.Mutex
	codes    map[string][]string
	hold     chan struct{} // nil: answer at once
	arrived  chan struct{} // one value per request that came in
	inFlight atomic.Int64
	maxIn    atomic.Int64
	bad      atomic.Int64
}

func newSMSGateway(t testing.TB) *smsGateway {
	t.Helper()
	g := &smsGateway{t: t, codes: map[string][]string{}, arrived: make(chan struct{}, 10000)}
	g.srv = httptest.NewServer(http.HandlerFunc(g.serve))
	t.Cleanup(func() {
		g.Release()
		g.srv.Close()
	})
	return g
}

// Spec is the --sms value that sends to this gateway.
func (g *smsGateway) Spec() string { return "webhook:" + g.srv.URL + "/sms" }

func (g *smsGateway) serve(w http.ResponseWriter, r *http.Request) {
	n := g.inFlight.Add(1)
	defer g.inFlight.Add(-1)
	for {
		m := g.maxIn.Load()
		if n <= m || g.maxIn.CompareAndSwap(m, n) {
			break
		}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil {
		http.Error(w, "read", http.StatusBadRequest)
		return
	}
	if err := otp.VerifyWebhookSignature([]byte(gatewaySecret), r.Header.Get(otp.WebhookTimestampHeader),
		r.Header.Get(otp.WebhookSignatureHeader), body, time.Now(), 0); err != nil {
		g.bad.Add(1)
		http.Error(w, "signature", http.StatusUnauthorized)
		return
	}
	var msg otp.SMS
	if err := json.Unmarshal(body, &msg); err != nil {
		g.bad.Add(1)
		http.Error(w, "json", http.StatusBadRequest)
		return
	}
	g.arrived <- struct{}{}
	g.mu.Lock()
	hold := g.hold
	g.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-r.Context().Done():
			return
		}
	}
	if d := time.Duration(g.Delay.Load()); d > 0 {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
	}
	if g.Fail.Load() {
		http.Error(w, "gateway down", http.StatusBadGateway)
		return
	}
	if code, ok := otp.LastCode([]otp.SMS{msg}, msg.To); ok {
		g.mu.Lock()
		g.codes[msg.To] = append(g.codes[msg.To], code)
		g.mu.Unlock()
	}
	w.WriteHeader(http.StatusAccepted)
}

// Hold parks every request from now on until Release.
func (g *smsGateway) Hold() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.hold == nil {
		g.hold = make(chan struct{})
	}
}

// Release lets parked requests answer and stops parking.
func (g *smsGateway) Release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.hold != nil {
		close(g.hold)
		g.hold = nil
	}
}

// WaitArrived waits until n more requests have come in.
func (g *smsGateway) WaitArrived(n int, timeout time.Duration) bool {
	deadline := time.After(timeout)
	for range n {
		select {
		case <-g.arrived:
		case <-deadline:
			return false
		}
	}
	return true
}

// LastCode is the code last delivered to mobile (E.164).
func (g *smsGateway) LastCode(mobile string) (string, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	c := g.codes[mobile]
	if len(c) == 0 {
		return "", false
	}
	return c[len(c)-1], true
}

// Delivered counts the codes delivered to mobile.
func (g *smsGateway) Delivered(mobile string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.codes[mobile])
}

// waitCode polls for a code to mobile other than not (the previous one).
func (g *smsGateway) waitCode(ctx context.Context, mobile string, before int) (string, bool) {
	for {
		g.mu.Lock()
		c := g.codes[mobile]
		g.mu.Unlock()
		if len(c) > before {
			return c[len(c)-1], true
		}
		select {
		case <-ctx.Done():
			return "", false
		case <-time.After(5 * time.Millisecond):
		}
	}
}
