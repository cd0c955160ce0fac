package otp

import (
	"context"
	"errors"
)

// ErrSenderBusy is what a BoundedSender returns when all its slots are
// taken: the message was not sent, and the caller answers 503 at once.
var ErrSenderBusy = errors.New("otp: SMS sender busy: too many messages in flight")

// SenderBusyRetry is how long a person or client refused with
// ErrSenderBusy is asked to wait (Retry-After): a slot frees up within the
// webhook timeout at the latest.
const SenderBusyRetry = 5

// BoundedSender passes at most a fixed number of messages at a time to
// the sender it wraps and refuses the rest at once with ErrSenderBusy.
//
// A slow or hanging SMS gateway then ties up at most that many requests,
// each for at most the webhook timeout: every other request (sign-in
// pages, tokens, userinfo, health checks) goes on as usual, and a request
// that cannot get a slot hears so immediately instead of queueing behind
// the gateway. Sends hold no database connection or transaction, so the
// slots are the only resource a stuck gateway can exhaust. It is safe for
// concurrent use.
type BoundedSender struct {
	next  Sender
	slots chan struct{}
}

var _ Sender = (*BoundedSender)(nil)

// NewBoundedSender wraps next with n slots; it panics when n < 1 (a
// wiring mistake: leave the sender unwrapped for no bound).
func NewBoundedSender(next Sender, n int) *BoundedSender {
	if n < 1 {
		panic("otp: NewBoundedSender needs at least one slot")
	}
	return &BoundedSender{next: next, slots: make(chan struct{}, n)}
}

// Send sends msg through the wrapped sender when a slot is free, and
// returns ErrSenderBusy without waiting when none is.
func (b *BoundedSender) Send(ctx context.Context, msg SMS) error {
	select {
	case b.slots <- struct{}{}:
	default:
		return ErrSenderBusy
	}
	defer func() { <-b.slots }()
	return b.next.Send(ctx, msg)
}

// InFlight is how many messages are being sent now.
func (b *BoundedSender) InFlight() int { return len(b.slots) }
