package oauth

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/web"
)

// Back-Channel Logout 1.0, the delivery half: LogoutSender takes queued
// deliveries (see Logouts) from the database, signs a logout token for
// each and POSTs it to the client's backchannel_logout_uri, retrying with
// backoff until the client accepts it or it is too old.

// LogoutEvent is the events member that makes a JWT a logout token
// (Back-Channel Logout 1.0 2.4).
const LogoutEvent = "http://schemas.openid.net/event/backchannel-logout"

// LogoutTokenType is the typ header of logout tokens (Back-Channel Logout
// 1.0 2.4, RFC 8725 3.11), so no other JWT of kycvs's passes for one.
const LogoutTokenType = "logout+jwt"

// LogoutTokenTTL is how long a logout token is valid: it is signed afresh
// at each attempt, so it only has to outlive one request.
const LogoutTokenTTL = 2 * time.Minute

// DefaultLogoutRetries are the waits after each failed attempt; the last
// repeats until DefaultLogoutMaxAge.
var DefaultLogoutRetries = []time.Duration{10 * time.Second, 30 * time.Second, 2 * time.Minute, 10 * time.Minute, 30 * time.Minute, time.Hour}

// DefaultLogoutMaxAge is how long a logout is retried before it is dropped.
const DefaultLogoutMaxAge = 24 * time.Hour

// LogoutDeliveryConfig is how LogoutSender delivers. The URI is the
// client's to choose, so, as for jwks_uri, the request must not become a
// way into the private network (SSRF) or a way to hold a server process.
type LogoutDeliveryConfig struct {
	// Timeout bounds one POST, connection to last byte; default 5 s.
	Timeout time.Duration
	// Retries are the waits after each failed attempt, the last repeating;
	// default DefaultLogoutRetries.
	Retries []time.Duration
	// MaxAge drops a logout not delivered this long after it happened;
	// default DefaultLogoutMaxAge.
	MaxAge time.Duration
	// Poll is how often the queue is read when nothing signals it;
	// default 5 s.
	Poll time.Duration
	// Batch is how many deliveries one pass takes, sent concurrently;
	// default 16.
	Batch int
	// AllowPrivateAddresses lets a backchannel_logout_uri resolve to
	// loopback, private or link-local addresses: development (--dev),
	// tests and closed networks only.
	AllowPrivateAddresses bool
	// RootCAs replaces the system roots (tests); nil uses the system's.
	RootCAs *x509.CertPool
	// Now is the clock; default time.Now.
	Now func() time.Time
}

func (c *LogoutDeliveryConfig) defaults() {
	if c.Timeout <= 0 {
		c.Timeout = 5 * time.Second
	}
	if len(c.Retries) == 0 {
		c.Retries = DefaultLogoutRetries
	}
	if c.MaxAge <= 0 {
		c.MaxAge = DefaultLogoutMaxAge
	}
	if c.Poll <= 0 {
		c.Poll = 5 * time.Second
	}
	if c.Batch <= 0 {
		c.Batch = 16
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// LogoutMetrics counts deliveries by result: "delivered", "failed" (an
// attempt failed; it will be retried) and "dropped" (too old, or the
// client is gone or has no backchannel_logout_uri any more). web.Metrics
// provides it.
type LogoutMetrics interface {
	LogoutDelivered(result string)
}

var _ LogoutMetrics = (*web.Metrics)(nil)

type noLogoutMetrics struct{}

func (noLogoutMetrics) LogoutDelivered(string) {}

// LogoutSender delivers queued logout tokens. Run it in every server
// process: deliveries are claimed with a lease (store.ClaimLogoutDeliveries),
// so processes share the queue without sending one twice, and a process
// that dies leaves its claimed rows to the others once the lease ends.
type LogoutSender struct {
	cfg     LogoutDeliveryConfig
	st      *store.Store
	keys    *Keys
	issuer  string
	logouts *Logouts
	http    *http.Client
	log     *slog.Logger
	metrics LogoutMetrics
}

// NewLogoutSender returns the sender for the provider p's tokens; metrics
// and logger may be nil.
func NewLogoutSender(cfg LogoutDeliveryConfig, p *Provider, metrics LogoutMetrics, logger *slog.Logger) *LogoutSender {
	cfg.defaults()
	if metrics == nil {
		metrics = noLogoutMetrics{}
	}
	if logger == nil {
		logger = slog.Default()
	}
	return &LogoutSender{
		cfg: cfg, st: p.st, keys: p.keys, issuer: p.cfg.Issuer, logouts: p.logouts, log: logger, metrics: metrics,
		http: guardedHTTPClient(cfg.Timeout, cfg.RootCAs, cfg.AllowPrivateAddresses, "backchannel_logout_uri"),
	}
}

// lease is how long a claimed delivery is left to this process: longer
// than the attempts of one pass, which run concurrently, each within
// Timeout.
func (s *LogoutSender) lease() time.Duration { return 2*s.cfg.Timeout + 30*time.Second }

// Run delivers until ctx ends: at once when this process queued something,
// and every Poll for what other processes queued or what is due for a
// retry.
func (s *LogoutSender) Run(ctx context.Context) {
	t := time.NewTicker(s.cfg.Poll)
	defer t.Stop()
	for {
		for {
			n, err := s.RunOnce(ctx)
			if err != nil && ctx.Err() == nil {
				s.log.Error("back-channel logout: read the queue", "err", err)
			}
			// A full batch may mean more is due.
			if err != nil || n < s.cfg.Batch {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.logouts.Queued():
		}
	}
}

// RunOnce claims the deliveries due now (at most Batch), attempts them
// concurrently and records each outcome. It returns how many it claimed.
func (s *LogoutSender) RunOnce(ctx context.Context) (int, error) {
	rows, err := s.st.ClaimLogoutDeliveries(ctx, s.cfg.Now(), s.lease(), s.cfg.Batch)
	if err != nil {
		return 0, err
	}
	var wg sync.WaitGroup
	for _, d := range rows {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.attempt(ctx, d)
		}()
	}
	wg.Wait()
	return len(rows), nil
}

// attempt delivers one logout token and records the outcome. The log
// lines name the client and the delivery, never the token or the sub.
func (s *LogoutSender) attempt(ctx context.Context, d store.LogoutDelivery) {
	log := s.log.With("client_id", d.ClientID, "delivery", d.ID, "attempt", d.Attempts+1)
	c, err := s.st.GetClient(ctx, d.ClientID)
	if err == nil && c.BackchannelLogoutURI == "" {
		err = store.ErrNotFound
	}
	if errors.Is(err, store.ErrNotFound) {
		log.Warn("back-channel logout dropped: the client is gone or takes no logout tokens")
		s.drop(ctx, d, log)
		return
	}
	if err == nil {
		err = s.post(ctx, c, d)
	}
	if err == nil {
		if err := s.st.DeleteLogoutDelivery(ctx, d.ID); err != nil {
			log.Error("back-channel logout delivered, but not removed from the queue", "err", err)
		}
		s.metrics.LogoutDelivered("delivered")
		log.Info("back-channel logout delivered")
		return
	}
	if ctx.Err() != nil {
		// The process is stopping: the row stays claimed until its lease
		// ends, then this or another process tries again.
		return
	}
	now := s.cfg.Now()
	next := now.Add(s.wait(d.Attempts))
	if next.Sub(d.CreatedAt) > s.cfg.MaxAge {
		log.Warn("back-channel logout dropped: not delivered in time", "err", err, "age", now.Sub(d.CreatedAt).Round(time.Second))
		s.metrics.LogoutDelivered("failed")
		s.drop(ctx, d, log)
		return
	}
	s.metrics.LogoutDelivered("failed")
	log.Warn("back-channel logout failed; will retry", "err", err, "next_attempt", next.UTC().Format(time.RFC3339))
	if err := s.st.RetryLogoutDelivery(ctx, d.ID, next, truncate(err.Error(), 500)); err != nil {
		log.Error("back-channel logout: record the failed attempt", "err", err)
	}
}

func (s *LogoutSender) drop(ctx context.Context, d store.LogoutDelivery, log *slog.Logger) {
	s.metrics.LogoutDelivered("dropped")
	if err := s.st.DeleteLogoutDelivery(ctx, d.ID); err != nil {
		log.Error("back-channel logout: remove a dropped delivery", "err", err)
	}
}

// wait is the wait after the attempt numbered attempts (0 for the first).
func (s *LogoutSender) wait(attempts int) time.Duration {
	if attempts >= len(s.cfg.Retries) {
		return s.cfg.Retries[len(s.cfg.Retries)-1]
	}
	return s.cfg.Retries[attempts]
}

// post sends one logout token (Back-Channel Logout 1.0 2.5): a form POST
// of logout_token; 200 or 204 is success (2.8), anything else a failure
// to retry. No redirect is followed.
func (s *LogoutSender) post(ctx context.Context, c *store.Client, d store.LogoutDelivery) error {
	token, err := s.logoutToken(c, d)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	body := url.Values{"logout_token": {token}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.BackchannelLogoutURI, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := s.http.Do(req)
	if err != nil {
		return scrubURLError(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

// logoutToken signs the logout token of one delivery (Back-Channel Logout
// 1.0 2.4) with the key and algorithm of the client's ID tokens: iss, aud,
// iat, exp, a fresh jti, the logout event, sub (the one the client knows)
// and sid (the one its ID tokens carried); never a nonce.
func (s *LogoutSender) logoutToken(c *store.Client, d store.LogoutDelivery) (string, error) {
	now := s.cfg.Now().UTC()
	claims := map[string]any{
		"iss":    s.issuer,
		"aud":    c.ID,
		"iat":    now.Unix(),
		"exp":    now.Add(LogoutTokenTTL).Unix(),
		"jti":    randomToken(16),
		"events": map[string]any{LogoutEvent: map[string]any{}},
	}
	if d.Subject != "" {
		claims["sub"] = d.Subject
	}
	if d.SID != "" {
		claims["sid"] = d.SID
	}
	alg := c.IDTokenSignedResponseAlg
	if alg == "" {
		alg = RS256
	}
	return s.keys.SignJWS(alg, LogoutTokenType, claims)
}

// scrubURLError keeps the reason of a failed request and drops the URL,
// which is the client's and may carry a query it considers private.
func scrubURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
