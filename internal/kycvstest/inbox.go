package kycvstest

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/kycvs/kycvs/otp"
)

// Inbox is an SMS gateway (an otp.Sender) that keeps every message it
// accepts, so a test reads the codes a person would receive.
type Inbox struct {
	// SendFunc, when set, decides whether a message is accepted: an error
	// is the gateway's refusal, and the message is not kept.
	SendFunc func(ctx context.Context, msg otp.SMS) error
	// Settle, when set, runs before every read, so a read sees every send
	// asked for so far: otp.Service.Wait, where codes are sent in the
	// background.
	Settle func()

	mu   sync.Mutex
	sent []otp.SMS
}

var _ otp.Sender = (*Inbox)(nil)

// Send keeps msg unless SendFunc refuses it.
func (in *Inbox) Send(ctx context.Context, msg otp.SMS) error {
	if in.SendFunc != nil {
		if err := in.SendFunc(ctx, msg); err != nil {
			return err
		}
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	in.sent = append(in.sent, msg)
	return nil
}

// All returns every message kept, oldest first.
func (in *Inbox) All() []otp.SMS {
	if in.Settle != nil {
		in.Settle()
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	return slices.Clone(in.sent)
}

// Last returns the last message kept; it fails the test when there is none.
func (in *Inbox) Last(t testing.TB) otp.SMS {
	t.Helper()
	all := in.All()
	if len(all) == 0 {
		t.Fatal("no SMS sent")
	}
	return all[len(all)-1]
}

// LastCode returns the code of the last message to mobile (E.164); it
// fails the test when none was sent.
func (in *Inbox) LastCode(t testing.TB, mobile string) string {
	t.Helper()
	if in.Settle != nil {
		in.Settle()
	}
	in.mu.Lock()
	code, ok := otp.LastCode(in.sent, mobile) // from the newest: cheap in benchmarks
	in.mu.Unlock()
	if !ok {
		t.Fatalf("no code sent to %s", mobile)
	}
	return code
}
