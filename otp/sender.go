package otp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"time"
)

// SMS is one text message. Its JSON form is the format of the file sender,
// the log sender and the webhook body:
//
//	{"to":"+919876543210","text":"... 123456 ...","language":"hi","sent_at":"<RFC 3339>"}
type SMS struct {
	To   string `json:"to"`
	Text string `json:"text"`
	// Language is the BCP 47 code of the language Text is written in
	// ("en", "hi", "ur"), so a gateway can pick the operator's DLT
	// template registered for that language.
	Language string    `json:"language,omitempty"`
	SentAt   time.Time `json:"sent_at"`
}

// Sender delivers an SMS. Send returns an error when the message was not
// accepted; the OTP flow then shows the person a retry message. Errors never
// contain the message text or the full mobile number, so callers may log them.
// Implementations are safe for concurrent use.
type Sender interface {
	Send(ctx context.Context, msg SMS) error
}

// DefaultWebhookTimeout is the webhook request timeout when
// SenderConfig.Timeout is zero.
const DefaultWebhookTimeout = 5 * time.Second

// SenderConfig configures NewSender.
type SenderConfig struct {
	Spec          string        // "file:PATH", "log" or "webhook:URL"
	WebhookSecret []byte        // HMAC key for webhook signatures; required for webhook:
	Timeout       time.Duration // webhook request timeout; DefaultWebhookTimeout if zero
	// MaxConcurrent bounds the webhook requests in flight (a
	// BoundedSender); 0 means no bound.
	MaxConcurrent int
	Logger        *slog.Logger // for "log"; slog.Default() if nil
	HTTPClient    *http.Client // optional, for tests; copied, never modified
}

// NewSender builds the Sender that cfg.Spec names: "file:PATH" (a
// *FileSender), "log" (a *LogSender) or "webhook:URL" (a *WebhookSender).
// It is called once at start-up and returns a clear error for an empty,
// unknown or malformed spec: an empty path, a URL that is not absolute http(s),
// or a webhook without a secret. The error never repeats a webhook URL, which
// may carry a gateway token.
func NewSender(cfg SenderConfig) (Sender, error) {
	kind, arg, hasArg := strings.Cut(cfg.Spec, ":")
	switch {
	case kind == "log" && !hasArg:
		return NewLogSender(cfg.Logger), nil
	case kind == "log":
		return nil, errors.New("otp: SMS sender log takes no argument")
	case kind == "file" && hasArg:
		return NewFileSender(arg)
	case kind == "webhook" && hasArg:
		w, err := NewWebhookSender(arg, cfg.WebhookSecret, cfg.Timeout, cfg.HTTPClient)
		if err != nil || cfg.MaxConcurrent <= 0 {
			return w, err
		}
		return NewBoundedSender(w, cfg.MaxConcurrent), nil
	case kind == "file" || kind == "webhook":
		return nil, fmt.Errorf("otp: SMS sender %s needs an argument; want file:PATH or webhook:URL", kind)
	case cfg.Spec == "":
		return nil, errors.New("otp: empty SMS sender; want file:PATH, log or webhook:URL")
	default:
		return nil, fmt.Errorf("otp: unknown SMS sender %q; want file:PATH, log or webhook:URL", kind)
	}
}

// LogSender writes each SMS to a slog logger at Info level under the key
// "sms". It is for development only: the log then contains OTPs, which the
// production senders never log.
type LogSender struct {
	logger *slog.Logger
}

var _ Sender = (*LogSender)(nil)

// NewLogSender returns a LogSender writing to logger, or to slog.Default()
// if logger is nil.
func NewLogSender(logger *slog.Logger) *LogSender {
	if logger == nil {
		logger = slog.Default()
	}
	return &LogSender{logger: logger}
}

// Send logs msg as the group "sms" with the fields to, text and sent_at
// (set to now if zero). It never fails.
func (s *LogSender) Send(ctx context.Context, msg SMS) error {
	msg = stamped(msg)
	s.logger.LogAttrs(ctx, slog.LevelInfo, "sms sent (development sender)",
		slog.Group("sms",
			slog.String("to", msg.To),
			slog.String("text", msg.Text),
			slog.Time("sent_at", msg.SentAt),
		))
	return nil
}

// stamped returns msg with SentAt set to the current UTC time if it was zero.
func stamped(msg SMS) SMS {
	if msg.SentAt.IsZero() {
		msg.SentAt = time.Now().UTC()
	}
	return msg
}

var otpPattern = regexp.MustCompile(`\b\d{6}\b`)

// LastCode returns the 6-digit code in the latest message of msgs sent to
// to (compared exactly, so use the same E.164 form the server sends to),
// and false if no message to that number holds one. Messages are taken in
// slice order, the order ReadSMSFile returns. Tests and the load tool use it
// to read the OTP a person would have received.
func LastCode(msgs []SMS, to string) (string, bool) {
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].To != to {
			continue
		}
		if code := otpPattern.FindString(msgs[i].Text); code != "" {
			return code, true
		}
	}
	return "", false
}
