package otp_test

import (
	"context"
	"sync"
	"time"

	"github.com/kycvs/kycvs/otp"
)

// mobileAsha is the number the tests send codes to.
const mobileAsha = "+919876543210"

// fakeClock is a clock tests advance by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// fakeSender captures every SMS; SendFunc, when set, decides whether it
// is accepted.
type fakeSender struct {
	SendFunc func(ctx context.Context, msg otp.SMS) error

	mu   sync.Mutex
	sent []otp.SMS
}

func (s *fakeSender) Send(ctx context.Context, msg otp.SMS) error {
	if s.SendFunc != nil {
		if err := s.SendFunc(ctx, msg); err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent = append(s.sent, msg)
	return nil
}

func (s *fakeSender) all() []otp.SMS {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]otp.SMS(nil), s.sent...)
}
