package loadtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kycvs/kycvs/otp"
)

// GatewayPath is the path the gateway receives SMS on; the server's
// --sms flag is webhook:http://ADDR/sms.
const GatewayPath = "/sms"

// maxSMSBody bounds a webhook body; an SMS is a few hundred bytes.
const maxSMSBody = 64 << 10

// Gateway is the SMS gateway of a load run: an HTTP server on a loopback
// address that receives the server's webhook SMS, checks each signature
// and delivers the code to the Inbox of the mobile it was sent to.
type Gateway struct {
	secret []byte
	ln     net.Listener
	srv    *http.Server
	done   chan struct{}

	mu      sync.Mutex
	inboxes map[string]*Inbox

	stats GatewayStats
}

// GatewayStats counts what the gateway received. A healthy run has no
// rejections and as many codes as flows that reached send_otp.
type GatewayStats struct {
	Received     atomic.Uint64 // well-signed SMS with a code, for a known mobile
	BadSignature atomic.Uint64 // refused: signature or timestamp wrong
	Unknown      atomic.Uint64 // well signed, but for no virtual user's mobile
	NoCode       atomic.Uint64 // well signed, but no 6-digit code in the text
	Malformed    atomic.Uint64 // not a JSON SMS, or not a POST
}

// NewGateway listens on addr, which must be a loopback address with a
// port (port 0 picks a free one), and serves until Close. secret is the
// server's --sms-webhook-secret. It fails when the address is not loopback
// or cannot be bound.
func NewGateway(addr string, secret []byte) (*Gateway, error) {
	if len(secret) == 0 {
		return nil, errors.New("loadtest: the gateway needs the webhook secret")
	}
	if err := CheckLoopbackAddr("gateway address", addr); err != nil {
		return nil, fmt.Errorf("loadtest: %w", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("loadtest: gateway: %w", err)
	}
	g := &Gateway{
		secret:  secret,
		ln:      ln,
		done:    make(chan struct{}),
		inboxes: make(map[string]*Inbox),
	}
	mux := http.NewServeMux()
	mux.HandleFunc(GatewayPath, g.receive)
	g.srv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       time.Minute,
	}
	go func() {
		defer close(g.done)
		_ = g.srv.Serve(ln)
	}()
	return g, nil
}

// URL is the webhook URL to give the server: --sms webhook:URL.
func (g *Gateway) URL() string { return "http://" + g.ln.Addr().String() + GatewayPath }

// Stats returns the gateway's counters.
func (g *Gateway) Stats() *GatewayStats { return &g.stats }

// Close stops the gateway, waiting up to 5 seconds for requests in flight.
func (g *Gateway) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := g.srv.Shutdown(ctx)
	<-g.done
	return err
}

// Inbox returns the inbox of the E.164 mobile, creating it on first use.
// Register every mobile before the run starts: an SMS for a number without
// an inbox is counted as unknown and dropped.
func (g *Gateway) Inbox(mobile string) *Inbox {
	g.mu.Lock()
	defer g.mu.Unlock()
	in, ok := g.inboxes[mobile]
	if !ok {
		in = &Inbox{codes: make(chan string, 1)}
		g.inboxes[mobile] = in
	}
	return in
}

func (g *Gateway) inbox(mobile string) (*Inbox, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	in, ok := g.inboxes[mobile]
	return in, ok
}

// receive is the webhook endpoint: it answers 2xx once the SMS is accepted,
// as a gateway does, and 401 for a bad signature, so the server's sender
// reports the failure.
func (g *Gateway) receive(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		g.stats.Malformed.Add(1)
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxSMSBody+1))
	if err != nil || len(body) > maxSMSBody {
		g.stats.Malformed.Add(1)
		http.Error(w, "body unreadable or too large", http.StatusBadRequest)
		return
	}
	err = otp.VerifyWebhookSignature(g.secret,
		r.Header.Get(otp.WebhookTimestampHeader), r.Header.Get(otp.WebhookSignatureHeader),
		body, time.Now(), 0)
	if err != nil {
		g.stats.BadSignature.Add(1)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var msg otp.SMS
	if err := json.Unmarshal(body, &msg); err != nil || msg.To == "" {
		g.stats.Malformed.Add(1)
		http.Error(w, "not an SMS", http.StatusBadRequest)
		return
	}
	// The SMS is accepted from here on: what the load tool does with it is
	// not the sender's concern.
	w.WriteHeader(http.StatusNoContent)
	code, ok := otp.LastCode([]otp.SMS{msg}, msg.To)
	if !ok {
		g.stats.NoCode.Add(1)
		return
	}
	in, ok := g.inbox(msg.To)
	if !ok {
		g.stats.Unknown.Add(1)
		return
	}
	g.stats.Received.Add(1)
	in.deliver(code)
}

// Inbox holds the latest code sent to one mobile. One virtual user reads
// it; the gateway writes it.
type Inbox struct {
	codes chan string
}

// deliver keeps only the newest code: a code that replaces an unread one
// means the older one is stale anyway.
func (in *Inbox) deliver(code string) {
	for {
		select {
		case in.codes <- code:
			return
		default:
		}
		select {
		case <-in.codes:
		default:
		}
	}
}

// Clear drops a code left over from an earlier flow. Call it before asking
// for a new code.
func (in *Inbox) Clear() {
	select {
	case <-in.codes:
	default:
	}
}

// Wait returns the next code, or an error when none arrives within
// timeout or ctx ends first.
func (in *Inbox) Wait(ctx context.Context, timeout time.Duration) (string, error) {
	select {
	case code := <-in.codes:
		return code, nil
	default:
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case code := <-in.codes:
		return code, nil
	case <-t.C:
		return "", errNoSMS
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

var errNoSMS = errors.New("no SMS arrived")
