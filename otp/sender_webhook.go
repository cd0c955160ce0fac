package otp

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Headers of a webhook request. The signature is
// "sha256=" + hex(HMAC-SHA256(secret, timestamp + "." + body)), where the
// timestamp is the X-Kycvs-Timestamp value in Unix seconds; signing the
// timestamp with the body lets a gateway reject replays (see
// VerifyWebhookSignature).
const (
	WebhookTimestampHeader = "X-Kycvs-Timestamp"
	WebhookSignatureHeader = "X-Kycvs-Signature"
)

// DefaultWebhookMaxSkew is the timestamp tolerance VerifyWebhookSignature
// uses when given a maxSkew of zero or less.
const DefaultWebhookMaxSkew = 5 * time.Minute

// ErrWebhookSignature is wrapped by every error VerifyWebhookSignature
// returns.
var ErrWebhookSignature = errors.New("otp: invalid webhook signature")

// maxWebhookResponse bounds how much of a gateway's response is read, so a
// misbehaving gateway cannot make the server buffer without limit.
const maxWebhookResponse = 64 << 10

// webhookIdleConns is how many connections to the gateway a
// WebhookSender keeps open between sends. The gateway is one host that
// every code goes to: with net/http's default of 2, each send beyond two at
// once opened a connection of its own and closed it after.
const webhookIdleConns = 64

// WebhookSender POSTs each SMS as JSON to an SMS gateway, signed with an
// HMAC header. It is safe for concurrent use.
type WebhookSender struct {
	url     string
	secret  []byte
	timeout time.Duration
	client  *http.Client
}

var _ Sender = (*WebhookSender)(nil)

// NewWebhookSender returns a WebhookSender posting to rawURL, which must be
// an absolute http or https URL, signing with secret, which must not be
// empty. A timeout of zero means DefaultWebhookTimeout. client may be nil;
// it is copied, and the copy gets the timeout and does not follow redirects
// (the body holds an OTP, which must not travel to a host the operator did
// not configure). Errors never repeat the URL, which may carry a token.
func NewWebhookSender(rawURL string, secret []byte, timeout time.Duration, client *http.Client) (*WebhookSender, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, errors.New("otp: SMS sender webhook: malformed URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, errors.New("otp: SMS sender webhook: URL must start with http:// or https://")
	}
	if u.Host == "" {
		return nil, errors.New("otp: SMS sender webhook: URL has no host")
	}
	if len(secret) == 0 {
		return nil, errors.New("otp: SMS sender webhook needs a webhook secret")
	}
	if timeout < 0 {
		return nil, errors.New("otp: SMS sender webhook: negative timeout")
	}
	if timeout == 0 {
		timeout = DefaultWebhookTimeout
	}
	c := &http.Client{}
	if client != nil {
		*c = *client
	}
	if c.Transport == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = webhookIdleConns
		c.Transport = t
	}
	c.Timeout = timeout
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &WebhookSender{
		url:     u.String(),
		secret:  bytes.Clone(secret),
		timeout: timeout,
		client:  c,
	}, nil
}

// Send POSTs msg (SentAt set to now if zero) as application/json with the
// timestamp and signature headers, giving up after the sender's timeout or
// when ctx ends, whichever is first. It succeeds only on a 2xx response; a
// transport error, a timeout or any other status is an error that names
// neither the text nor the number. The response body is read up to 64 KiB
// (so the connection can be reused) and closed.
func (s *WebhookSender) Send(ctx context.Context, msg SMS) error {
	body, err := json.Marshal(stamped(msg))
	if err != nil {
		return fmt.Errorf("otp: SMS webhook: encode: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return errors.New("otp: SMS webhook: cannot build request")
	}
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "kycvs")
	req.Header.Set(WebhookTimestampHeader, ts)
	req.Header.Set(WebhookSignatureHeader, webhookSignature(s.secret, ts, body))

	resp, err := s.client.Do(req)
	if err != nil {
		// *url.Error repeats the URL; keep only the cause.
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err
		}
		return fmt.Errorf("otp: SMS webhook: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxWebhookResponse))
	_ = resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("otp: SMS webhook: gateway answered %s", resp.Status)
	}
	return nil
}

// webhookSignature returns the X-Kycvs-Signature value for timestamp and body.
func webhookSignature(secret []byte, timestamp string, body []byte) string {
	return "sha256=" + hex.EncodeToString(webhookMAC(secret, timestamp, body))
}

func webhookMAC(secret []byte, timestamp string, body []byte) []byte {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(timestamp))
	mac.Write([]byte("."))
	mac.Write(body)
	return mac.Sum(nil)
}

// VerifyWebhookSignature checks a webhook request as an SMS gateway (or the
// project's load tool) receives it: timestamp and signature are the
// X-Kycvs-Timestamp and X-Kycvs-Signature header values and body the raw
// request body. It returns nil only if the signature is the HMAC of
// timestamp + "." + body under secret, compared in constant time (hmac.Equal,
// so response timing does not reveal how much of a forgery matched), and
// the timestamp is within maxSkew of now in either direction, which bounds
// replays of a captured request. maxSkew <= 0 means DefaultWebhookMaxSkew.
// Every error wraps ErrWebhookSignature.
func VerifyWebhookSignature(secret []byte, timestamp, signature string, body []byte, now time.Time, maxSkew time.Duration) error {
	if len(secret) == 0 {
		return fmt.Errorf("%w: empty secret", ErrWebhookSignature)
	}
	if maxSkew <= 0 {
		maxSkew = DefaultWebhookMaxSkew
	}
	sec, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: malformed timestamp", ErrWebhookSignature)
	}
	if skew := now.Sub(time.Unix(sec, 0)).Abs(); skew > maxSkew {
		return fmt.Errorf("%w: timestamp outside the allowed %s window", ErrWebhookSignature, maxSkew)
	}
	got, ok := strings.CutPrefix(signature, "sha256=")
	if !ok {
		return fmt.Errorf("%w: want sha256=<hex>", ErrWebhookSignature)
	}
	gotMAC, err := hex.DecodeString(got)
	if err != nil {
		return fmt.Errorf("%w: malformed hex", ErrWebhookSignature)
	}
	if !hmac.Equal(gotMAC, webhookMAC(secret, timestamp, body)) {
		return fmt.Errorf("%w: mismatch", ErrWebhookSignature)
	}
	return nil
}
