package otp_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kycvs/kycvs/internal/kycvstest"
	"github.com/kycvs/kycvs/otp"
	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/store/storetest"
)

// mobileAsha is the number the tests send codes to.
const mobileAsha = "+919876543210"

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// otpBench is an OTPs on a fresh store with a fake clock and sender.
type otpBench struct {
	otps  *otp.Service
	clock *kycvstest.Clock
	sms   *kycvstest.Inbox
	st    *store.Store
}

func newOTPs(t *testing.T, dialect string, tweak func(*otp.Config)) *otpBench {
	t.Helper()
	clock := kycvstest.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	cfg := otp.Config{
		Secret: []byte("0123456789abcdef0123456789abcdef"),
		Limits: otp.Limits{
			MaxTries:       otp.DefaultMaxTries,
			ResendInterval: otp.DefaultResendInterval,
			DailyLimit:     otp.DefaultDailyLimit,
			IPLimit:        otp.DefaultIPLimit,
		},
		Now: clock.Now,
	}
	if tweak != nil {
		tweak(&cfg)
	}
	st := storetest.Open(t, dialect)
	sms := &kycvstest.Inbox{}
	return &otpBench{otps: otp.New(cfg, st, sms), clock: clock, sms: sms, st: st}
}

// issue sends a code bound to binding and returns its stored state.
func (b *otpBench) issue(t *testing.T, req otp.Request) (otp.State, error) {
	t.Helper()
	var saved otp.State
	if req.Mobile == "" {
		req.Mobile = mobileAsha
	}
	if req.ClientIP == "" {
		req.ClientIP = "203.0.113.1"
	}
	req.Save = func(_ context.Context, s otp.State) error { saved = s; return nil }
	err := b.otps.Issue(context.Background(), req)
	return saved, err
}

func TestOTPVerify(t *testing.T) {
	b := newOTPs(t, string(store.SQLite), nil)
	now := b.clock.Now()
	type try struct {
		input  func(code string) string
		digest bool
		want   error
	}
	typed := func(code string) string { return code }
	hexOf := func(code string) string { return sha256Hex(code) }
	upperHex := func(code string) string { return strings.ToUpper(sha256Hex(code)) }
	wrong := func(code string) string {
		if code == "000000" {
			return "000001"
		}
		return "000000"
	}
	wrongHex := func(code string) string { return sha256Hex(wrong(code)) }
	cases := []struct {
		name      string
		tries     []try
		binding   string
		after     time.Duration
		wantTries int
		wantUsed  bool
	}{
		{name: "typed code", tries: []try{{typed, false, nil}}, wantUsed: true},
		{name: "hex SHA-256 of the code", tries: []try{{hexOf, true, nil}}, wantUsed: true},
		{name: "upper-case hex", tries: []try{{upperHex, true, nil}}, wantUsed: true},
		{name: "the code is used once", tries: []try{{typed, false, nil}, {typed, false, otp.ErrExpired}}, wantUsed: true},
		{name: "typed then digest share one count", tries: []try{{wrong, false, otp.ErrWrong}, {wrongHex, true, otp.ErrWrong}, {hexOf, true, nil}}, wantTries: 2, wantUsed: true},
		{name: "three wrong kill it", tries: []try{{wrong, false, otp.ErrWrong}, {wrongHex, true, otp.ErrWrong}, {wrong, false, otp.ErrTooManyTries}, {typed, false, otp.ErrExpired}}, wantTries: 3, wantUsed: true},
		{name: "the SHA-256 of the digest is not the code", tries: []try{{func(c string) string { return sha256Hex(sha256Hex(c)) }, true, otp.ErrWrong}}, wantTries: 1},
		{name: "bound to its challenge", binding: "other", tries: []try{{typed, false, otp.ErrWrong}}, wantTries: 1},
		{name: "expired", after: otp.DefaultTTL, tries: []try{{typed, false, otp.ErrExpired}}},
		{name: "valid until the last instant", after: otp.DefaultTTL - time.Microsecond, tries: []try{{typed, false, nil}}, wantUsed: true},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			binding := "challenge-" + string(rune('a'+i))
			s, err := b.issue(t, otp.Request{Binding: binding, ClientIP: "198.51.100." + string(rune('0'+i)), Entity: "Air"})
			if err != nil {
				t.Fatal(err)
			}
			code := b.sms.All()[len(b.sms.All())-1].Text[:6]
			if strings.Contains(string(s.Hash), code) || len(s.Hash) != sha256.Size {
				t.Fatalf("state holds %x, want a keyed hash only", s.Hash)
			}
			if !s.ExpiresAt.Equal(now.Add(otp.DefaultTTL)) || !s.SentAt.Equal(now) || s.Tries != 0 {
				t.Fatalf("state %+v", s)
			}
			against := binding
			if tc.binding != "" {
				against = tc.binding
			}
			at := now.Add(tc.after)
			for j, tr := range tc.tries {
				var err error
				if tr.digest {
					err = b.otps.VerifyDigest(&s, against, tr.input(code), at)
				} else {
					err = b.otps.Verify(&s, against, tr.input(code), at)
				}
				if !errors.Is(err, tr.want) || (tr.want == nil && err != nil) {
					t.Fatalf("try %d: %v, want %v", j+1, err, tr.want)
				}
			}
			if s.Tries != tc.wantTries || (len(s.Hash) == 0) != tc.wantUsed {
				t.Errorf("after: tries %d, hash %x; want tries %d, used %v", s.Tries, s.Hash, tc.wantTries, tc.wantUsed)
			}
		})
	}
}

func TestIsDigest(t *testing.T) {
	for s, want := range map[string]bool{
		sha256Hex("123456"):                  true,
		strings.ToUpper(sha256Hex("123456")): true,
		"123456":                             false,
		"":                                   false,
		sha256Hex("1")[:63] + "g":            false,
		sha256Hex("1") + "00":                false,
	} {
		if got := otp.IsDigest(s); got != want {
			t.Errorf("IsDigest(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestOTPLimits(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dialect string) {
		tests := []struct {
			name  string
			tweak func(*otp.Config)
			// reqs are sent one minute apart; the last must be refused.
			reqs      []otp.Request
			wantLimit otp.Limit
			wantRetry time.Duration
		}{
			{
				name:  "per IP",
				tweak: func(c *otp.Config) { c.IPLimit = 2 },
				reqs: []otp.Request{
					{Binding: "a", Mobile: "+919876543211"}, {Binding: "b", Mobile: "+919876543212"}, {Binding: "c", Mobile: "+919876543213"},
				},
				wantLimit: otp.LimitIP, wantRetry: 3 * time.Minute, // the first ages out of 5 minutes
			},
			{
				name:  "per mobile, whatever the IP",
				tweak: func(c *otp.Config) { c.DailyLimit = 2 },
				reqs: []otp.Request{
					{Binding: "a", ClientIP: "203.0.113.1"}, {Binding: "b", ClientIP: "203.0.113.2"}, {Binding: "c", ClientIP: "203.0.113.3"},
				},
				wantLimit: otp.LimitMobile, wantRetry: 24*time.Hour - 2*time.Minute,
			},
			{
				name:  "resend wait per scope and mobile",
				tweak: func(c *otp.Config) { c.ResendInterval = 90 * time.Second },
				reqs: []otp.Request{
					{Binding: "a", ResendScope: "air"},
					{Binding: "b", ResendScope: "rail"},                         // another entity: no wait
					{Binding: "c", ResendScope: "air", Mobile: "+919876543219"}, // another mobile: no wait
					{Binding: "d", ResendScope: ""},                             // no scope: the caller's business
					{Binding: "e", ResendScope: "air"},                          // 4 minutes after "a": fine
					{Binding: "f", ResendScope: "air"},                          // 1 minute after "e": too soon
				},
				wantLimit: otp.LimitResend, wantRetry: 30 * time.Second,
			},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				b := newOTPs(t, dialect, tc.tweak)
				for i, req := range tc.reqs {
					if i > 0 {
						b.clock.Advance(time.Minute)
					}
					_, err := b.issue(t, req)
					if i < len(tc.reqs)-1 {
						if err != nil {
							t.Fatalf("send %d: %v", i+1, err)
						}
						continue
					}
					var le *otp.LimitError
					if !errors.As(err, &le) || !errors.Is(err, store.ErrLimited) {
						t.Fatalf("last send: %v, want a *LimitError", err)
					}
					if le.Limit != tc.wantLimit || le.RetryAfter != tc.wantRetry {
						t.Errorf("limit %s retry after %s, want %s after %s", le.Limit, le.RetryAfter, tc.wantLimit, tc.wantRetry)
					}
				}
				if n := len(b.sms.All()); n != len(tc.reqs)-1 {
					t.Errorf("%d SMS sent, want %d", n, len(tc.reqs)-1)
				}
			})
		}
	})
}

func TestOTPIssueFailures(t *testing.T) {
	b := newOTPs(t, string(store.SQLite), nil)
	ctx := context.Background()

	t.Run("Save fails: nothing sent", func(t *testing.T) {
		errSave := errors.New("save failed")
		err := b.otps.Issue(ctx, otp.Request{Binding: "s", Mobile: mobileAsha, ClientIP: "203.0.113.1",
			Save: func(context.Context, otp.State) error { return errSave }})
		if !errors.Is(err, errSave) {
			t.Fatalf("Issue: %v, want the Save error", err)
		}
		if n := len(b.sms.All()); n != 0 {
			t.Fatalf("%d SMS sent", n)
		}
	})

	t.Run("sender fails: Undo runs, uncancelled", func(t *testing.T) {
		errGateway := errors.New("gateway down")
		b.sms.SendFunc = func(context.Context, otp.SMS) error { return errGateway }
		defer func() { b.sms.SendFunc = nil }()
		cctx, cancel := context.WithCancel(ctx)
		var undone otp.State
		var undoCtxErr error
		err := b.otps.Issue(cctx, otp.Request{Binding: "u", Mobile: mobileAsha, ClientIP: "203.0.113.1",
			Save: func(context.Context, otp.State) error { cancel(); return nil },
			Undo: func(ctx context.Context, s otp.State) { undone, undoCtxErr = s, ctx.Err() }})
		var se *otp.SendError
		if !errors.As(err, &se) || !errors.Is(err, errGateway) {
			t.Fatalf("Issue: %v, want a *SendError wrapping the gateway's", err)
		}
		if len(undone.Hash) == 0 || undoCtxErr != nil {
			t.Fatalf("Undo got state %+v, context error %v", undone, undoCtxErr)
		}
	})
}

// TestOTPShareNotice: the API's SMS is the notice: who asks, what they
// learn, that sharing the code is consent, how long it is valid.
func TestOTPShareNotice(t *testing.T) {
	b := newOTPs(t, string(store.SQLite), func(c *otp.Config) { c.ServiceName = "kycvs" })
	if _, err := b.issue(t, otp.Request{Binding: "n", Entity: "Example Air 737800", Notice: otp.NoticeShare}); err != nil {
		t.Fatal(err)
	}
	msg := b.sms.All()[0]
	code, ok := otp.LastCode([]otp.SMS{msg}, mobileAsha)
	if !ok {
		t.Fatalf("no code in %q", msg.Text)
	}
	want := code + " is your OTP. Example Air 737800 asks to see your vaccination status (not, partially or fully vaccinated) via kycvs. Sharing this OTP with them gives consent. Valid 3 minutes."
	if msg.Text != want {
		t.Errorf("SMS %q, want %q", msg.Text, want)
	}
}

// A withheld code is charged and saved like any other, and its answers
// are the same, but no SMS goes out and no code the person could know
// matches.
func TestOTPWithheld(t *testing.T) {
	b := newOTPs(t, string(store.SQLite), func(c *otp.Config) { c.ResendInterval = time.Minute })
	s, err := b.issue(t, otp.Request{Binding: "w1", Withhold: true, ResendScope: "admin"})
	if err != nil || len(s.Hash) == 0 || s.SentAt == nil {
		t.Fatalf("withheld issue: %+v %v", s, err)
	}
	if n := len(b.sms.All()); n != 0 {
		t.Fatalf("%d SMS sent for a withheld code", n)
	}
	// The resend wait was charged, as for a code that went out.
	var le *otp.LimitError
	if _, err := b.issue(t, otp.Request{Binding: "w2", Withhold: true, ResendScope: "admin"}); !errors.As(err, &le) || le.Limit != otp.LimitResend {
		t.Fatalf("second withheld code at once: %v", err)
	}
	for _, code := range []string{"000000", "123456"} {
		if err := b.otps.Verify(&s, "w1", code, b.clock.Now()); !errors.Is(err, otp.ErrWrong) {
			t.Fatalf("code %s: %v", code, err)
		}
	}
}

// Every channel's "N tries left" comes from here: the policy's limit less
// the wrong tries so far, and no count at all when there is no limit.
func TestOTPTriesLeft(t *testing.T) {
	limited := newOTPs(t, string(store.SQLite), nil)
	for tries, want := range []int{3, 2, 1} {
		if left, ok := limited.otps.TriesLeft(tries); !ok || left != want {
			t.Errorf("after %d wrong: %d, %v; want %d, true", tries, left, ok, want)
		}
	}
	unlimited := newOTPs(t, string(store.SQLite), func(c *otp.Config) { c.MaxTries = 0 })
	if _, ok := unlimited.otps.TriesLeft(5); ok {
		t.Error("no limit, yet a count of tries left")
	}
}
