package otp

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/kycvs/kycvs/claims"
	"github.com/kycvs/kycvs/locale"
	"github.com/kycvs/kycvs/secrets"
	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/web"
)

// Defaults follow DESIGN.md's policies (Co-WIN's published limits, with a
// shorter resend wait); cmd/kycvs takes its flag defaults from them.
const (
	DefaultTTL            = 3 * time.Minute
	DefaultMaxTries       = 3
	DefaultResendInterval = 60 * time.Second
	DefaultDailyLimit     = 50
	DefaultHourlyLimit    = 10
	DefaultIPLimit        = 100
	DefaultClientLimit    = 600
)

// Limits are the code policy an operator sets (DESIGN.md, Policies): a
// code's lifetime and tries, the wait before another, and the send limits
// by mobile, client IP and client. cmd/kycvs fills them once from its
// flags. TTL defaults when zero; the others are taken as given, 0 turning
// each off.
type Limits struct {
	// TTL is how long a code is valid. Default DefaultTTL.
	TTL time.Duration
	// MaxTries wrong codes kill the code; 0 = unlimited.
	MaxTries int
	// ResendInterval is the least time between two codes for one
	// challenge; 0 = no wait.
	ResendInterval time.Duration
	// DailyLimit caps codes sent to one mobile in 24 hours; 0 = off.
	DailyLimit int
	// HourlyLimit caps codes sent to one mobile in one hour; 0 = off. With
	// DailyLimit alone, a mobile could be sent its whole day's allowance
	// in a minute by requests from many IPs (OTP bombing).
	HourlyLimit int
	// IPLimit caps code requests from one client IP in 5 minutes; 0 = off.
	IPLimit int
	// ClientLimit caps codes sent on behalf of one verifying entity (its
	// client ID) in one minute; 0 = off. It bounds what a compromised or
	// misbehaving client can spend on SMS and send to people.
	ClientLimit int
}

// Config is the OTP service's configuration: the policy's Limits and what
// the service needs besides.
type Config struct {
	// Secret is the server secret; the OTP-hash and limit keys derive from
	// it. Required.
	Secret []byte
	Limits
	// ConsoleHourlyLimit and ConsoleDailyLimit cap admin console codes per
	// mobile; 0 means the defaults, ConsoleHourlyLimit and
	// ConsoleDailyLimit (always on: the console has no "off").
	ConsoleHourlyLimit, ConsoleDailyLimit int
	// ServiceName names this service in the SMS. Default "kycvs".
	ServiceName string
	// WebOTPHost is the host (and port, if any) of the pages where the
	// codes are typed: the issuer's. When set, the sign-in and admin SMS
	// end with the WebOTP line "@host #code", so a browser on that origin
	// can offer the code (WebOTP API, "origin-bound one-time codes").
	WebOTPHost string
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Rand is the randomness for codes; default crypto/rand.Reader.
	Rand io.Reader
	// Metrics counts sends and checks by outcome; nil counts nothing.
	Metrics Metrics
}

// Metrics is what the OTP service reports for monitoring (web.Metrics
// provides it): one call per send attempt and per code checked, with an
// outcome from a small fixed set, never a code or a number.
type Metrics interface {
	// OTPSent: sent, failed, busy, limited_ip, limited_mobile,
	// limited_resend, limited_client, error.
	OTPSent(result string)
	// OTPChecked: ok, wrong, too_many_tries, expired.
	OTPChecked(result string)
}

var _ Metrics = (*web.Metrics)(nil)

// noMetrics counts nothing.
type noMetrics struct{}

func (noMetrics) OTPSent(string)    {}
func (noMetrics) OTPChecked(string) {}

// Service issues and checks one-time codes. It is the one place the OTP
// policy lives: how codes are made, hashed, sent, limited and checked.
// cmd/kycvs builds one Service and hands it to every channel that sends
// codes (the browser flow in package consent, the KYC-VS compatible API in
// package kycvsapi, the admin console's sign-in), so all channels count sends under the same
// keys in the same database table: codes sent through either count toward
// one mobile's daily limit and one client IP's limit, and neither channel
// can be used to get around the other's limits.
//
// A Service stores nothing itself but the send counters: each channel keeps
// a code's State in its own row (a login request, an API transaction), and
// Issue and Verify work on that state inside the channel's locked
// read-modify-write. It is safe for concurrent use.
type Service struct {
	cfg    Config
	st     *store.Store
	sender Sender
	// otpKey keys the OTP hashes; mobileKey the per-mobile limit keys;
	// logKey the mobile tags in logs.
	otpKey    []byte
	mobileKey []byte
	logKey    []byte
	// background counts the console codes still being sent (Wait).
	background sync.WaitGroup
}

// New returns the OTP service over st (for the send counters) and
// sender. It panics when cfg.Secret is empty, a wiring mistake.
func New(cfg Config, st *store.Store, sender Sender) *Service {
	if len(cfg.Secret) == 0 {
		panic("otp: Config.Secret is empty")
	}
	if cfg.ConsoleHourlyLimit <= 0 {
		cfg.ConsoleHourlyLimit = ConsoleHourlyLimit
	}
	if cfg.ConsoleDailyLimit <= 0 {
		cfg.ConsoleDailyLimit = ConsoleDailyLimit
	}
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.ServiceName == "" {
		cfg.ServiceName = "kycvs"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.Metrics == nil {
		cfg.Metrics = noMetrics{}
	}
	return &Service{
		cfg:    cfg,
		st:     st,
		sender: sender,
		// The labels predate this package (the service lived in
		// consent): changing them would reset every running counter.
		otpKey:    secrets.Derive(cfg.Secret, secrets.OTPHash),
		mobileKey: secrets.Derive(cfg.Secret, secrets.MobileLimit),
		logKey:    secrets.Derive(cfg.Secret, secrets.LogTag),
	}
}

// LogTag returns what logs say instead of a mobile number: 12 hex digits
// of a keyed hash. One number always gets the same tag, so an operator can
// follow the events about it (an OTP-bombing attack, a support call whose
// caller's tag an admin computes), but a log holds no phone number, not
// even in part, and without the server secret a tag cannot be traced back
// by trying every number.
func (o *Service) LogTag(mobile string) string {
	m := hmac.New(sha256.New, o.logKey)
	m.Write([]byte(mobile))
	return hex.EncodeToString(m.Sum(nil)[:6])
}

// MaxTries is how many wrong codes kill a code; 0 means no limit.
func (o *Service) MaxTries() int { return o.cfg.MaxTries }

// TriesLeft is how many more codes may be tried after tries wrong ones,
// and false when the policy sets no limit. Every channel that tells a
// person "N tries left" counts here, so they all say the same number.
func (o *Service) TriesLeft(tries int) (left int, limited bool) {
	if o.cfg.MaxTries <= 0 {
		return 0, false
	}
	return o.cfg.MaxTries - tries, true
}

// State is one code as its channel stores it. The code itself is never
// stored, only Hash (see Issue).
type State struct {
	// Hash is nil when no code is outstanding: none sent, used, or dead.
	Hash      []byte
	SentAt    *time.Time
	ExpiresAt *time.Time
	// Tries counts wrong codes since the last send.
	Tries int
}

// Notice is what the SMS tells the person besides the code.
type Notice int

const (
	// NoticeSignIn: the person types the code into kycvs's own page, which
	// lists what is shared with whom; the SMS names the entity and says
	// that entering the code gives consent.
	NoticeSignIn Notice = iota
	// NoticeShare: the person tells the code to the verifying entity (the
	// KYC-VS compatible API). kycvs shows the person no page, so the SMS
	// is the notice (DPDP Act s.5): it names the entity and what it will
	// learn, and says that sharing the code gives consent.
	NoticeShare
	// NoticeAdmin: the code signs an administrator in to the admin
	// console; the SMS says so and that it must not be shared.
	NoticeAdmin
	// NoticeOwnPage: the code signs a person in to their own page (/me),
	// which shares nothing with anyone; the SMS says what it opens and
	// that it must not be shared. It is short, without a link (a link in
	// an SMS is a phishing pattern people are taught to distrust).
	NoticeOwnPage
)

// Request is one code to issue.
type Request struct {
	// Binding is the ID of the challenge or transaction the code is good
	// for; the stored hash is bound to it, so a code cannot be replayed on
	// another.
	Binding string
	// Mobile is the E.164 number the SMS goes to.
	Mobile string
	// ClientIP is the address the per-IP limit counts.
	ClientIP string
	// Client is the ID of the verifying entity the code is sent for, which
	// the per-client limit counts; "" for codes no client asked for (the
	// admin console's sign-in).
	Client string
	// Name is the person's name as given, for the resend wait (see
	// ResendScope).
	Name string
	// Entity is the verifying entity's name, for the SMS.
	Entity string
	Notice Notice
	// Lang is the language of the SMS: the language of the page the
	// person is on, or the KYC-VS API's lang. The zero Lang is English.
	// The admin console's code is always in English.
	Lang locale.Lang
	// ResendScope, when not empty, enforces the resend wait through the
	// shared send counters, keyed by (ResendScope, Mobile, Name): the API,
	// where every generateOTP is a new transaction, passes the client ID,
	// so the same entity asking a new code for the same person waits. When
	// empty, the caller enforces the wait on its own row with ResendWait
	// (the browser flow, per challenge).
	ResendScope string
	// Save writes the new code's state into the caller's row. It runs
	// after the limits were charged and before the SMS goes out; its error
	// is returned unchanged and nothing is sent.
	Save func(ctx context.Context, s State) error
	// Undo puts the row back as it was when the SMS could not be sent, so
	// a previous code still works and no wait is imposed. Its context is
	// not cancelled with the request's. Optional.
	Undo func(ctx context.Context, s State)
	// Withhold charges the limits and saves a code's state like any other
	// but sends no SMS: for a recipient who must not get one (a mobile that
	// belongs to no admin), so that the answer, the limits and the checks
	// of later codes are the same as for one who does (no enumeration).
	// Nobody knows the code, so every code entered for it is wrong.
	//
	// A withheld code is never charged to the mobile's limits: no SMS
	// warns the mobile's owner, so charging them would let anyone lock a
	// stranger out of verification, silently, by asking codes for their
	// mobile at the console.
	Withhold bool
	// Console marks an admin console sign-in. It is charged to a console
	// bucket per client IP (ConsoleIPLimit an hour) besides the IP limit,
	// and to the mobile's limits only for a code actually sent. Its SMS
	// goes out in the background, so an admin's mobile and any other get
	// their answer in the same time (timing would otherwise tell admins'
	// mobiles apart); a failed send is counted in the metrics and undone.
	Console bool
}

// ConsoleIPLimit is how many admin console sign-ins one client IP may
// start in an hour, whether or not the mobile is an admin's.
const ConsoleIPLimit = 20

// Console codes per mobile, whether or not it is an admin's (so the
// limits tell nobody who is), apart from the verification counters: at
// most ConsoleHourlyLimit an hour and ConsoleDailyLimit a day. With 3
// tries a code, that is at most 30 guesses at an admin's codes a day, and
// the console asks an owner for an authenticator code too.
// Config.ConsoleHourlyLimit and ConsoleDailyLimit replace them (tests).
const (
	ConsoleHourlyLimit = 3
	ConsoleDailyLimit  = 10
)

// Limit names one send limit.
type Limit string

const (
	LimitIP     Limit = "ip"     // IPLimit codes per client IP in 5 minutes
	LimitMobile Limit = "mobile" // HourlyLimit per hour, DailyLimit per 24 hours, per mobile
	LimitResend Limit = "resend" // ResendInterval between two codes
	LimitClient Limit = "client" // ClientLimit codes per verifying entity in a minute
	// LimitConsole: ConsoleHourlyLimit or ConsoleDailyLimit console codes
	// for one mobile.
	LimitConsole Limit = "console"
)

// LimitError is Issue's answer when a send limit is reached; nothing was
// recorded, saved or sent. RetryAfter is how long until a send can succeed
// (at least a second), for a Retry-After header.
type LimitError struct {
	Limit      Limit
	RetryAfter time.Duration
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("otp: OTP %s limit reached, retry after %s", e.Limit, e.RetryAfter)
}

// Is makes errors.Is(err, store.ErrLimited) hold.
func (e *LimitError) Is(target error) bool { return target == store.ErrLimited }

// SendError is Issue's answer when the sender did not accept the SMS; the
// caller's row was put back with Undo. Err is the sender's error, which
// holds no code or full mobile number and may be logged.
type SendError struct{ Err error }

func (e *SendError) Error() string { return "otp: SMS not sent: " + e.Err.Error() }
func (e *SendError) Unwrap() error { return e.Err }

// Issue sends a new code for req.Binding to req.Mobile:
//
//  1. charges the send limits (per IP, per mobile, and the resend wait
//     when req.ResendScope is set): a *LimitError when one is reached;
//  2. makes a code (6 digits from Rand) and its state, valid TTL from now;
//  3. calls req.Save with the state: its error is returned as it is;
//  4. sends the SMS: when the sender fails, calls req.Undo and returns a
//     *SendError.
//
// It never reads the registry, so its answer does not depend on whether
// the mobile is registered (no enumeration). The limits are charged even
// when the SMS then fails, so a failing gateway cannot be used to probe
// past them.
func (o *Service) Issue(ctx context.Context, req Request) error {
	now := o.now()
	if err := o.st.RecordOTPSend(ctx, now, o.limits(req, now)...); err != nil {
		var le *store.LimitError
		if errors.As(err, &le) {
			e := o.limitError(le, now)
			o.cfg.Metrics.OTPSent("limited_" + string(e.Limit))
			return e
		}
		o.cfg.Metrics.OTPSent("error")
		return err
	}
	code, err := o.newCode()
	if err != nil {
		return fmt.Errorf("otp: OTP randomness: %w", err)
	}
	sentAt, expires := now, now.Add(o.cfg.TTL)
	state := State{Hash: o.hash(req.Binding, digest(code)), SentAt: &sentAt, ExpiresAt: &expires}
	if err := req.Save(ctx, state); err != nil {
		return err
	}
	if req.Withhold {
		o.cfg.Metrics.OTPSent("withheld")
		return nil
	}
	msg := SMS{To: req.Mobile, Text: o.text(req, code), Language: o.smsLang(req).Code(), SentAt: now}
	if req.Console {
		o.background.Go(func() { _ = o.send(context.WithoutCancel(ctx), req, msg, state, now) })
		return nil
	}
	return o.send(ctx, req, msg, state, now)
}

// Wait blocks until every code sent in the background (Request.Console)
// has been handed to the sender or failed: a shutdown calls it so a code
// asked for a moment before still goes out.
func (o *Service) Wait() { o.background.Wait() }

// send hands msg to the sender; when that fails it undoes req's code (see
// Issue) and returns a *SendError.
func (o *Service) send(ctx context.Context, req Request, msg SMS, state State, now time.Time) error {
	if err := o.sender.Send(ctx, msg); err != nil {
		ctx := context.WithoutCancel(ctx)
		if req.Undo != nil {
			req.Undo(ctx, state)
		}
		// No code went out, so none is there to wait for (the send limits
		// stay charged). A failure here only leaves a wait behind.
		if key := o.resendKey(req); key != "" {
			_ = o.st.ForgetOTPSend(ctx, now, key)
		}
		if errors.Is(err, ErrSenderBusy) {
			o.cfg.Metrics.OTPSent("busy")
		} else {
			o.cfg.Metrics.OTPSent("failed")
		}
		return &SendError{Err: err}
	}
	o.cfg.Metrics.OTPSent("sent")
	return nil
}

// ResendWait is how long until a new code may follow the one in s; 0 when
// it may now (or no code was sent).
func (o *Service) ResendWait(s State, now time.Time) time.Duration {
	if o.cfg.ResendInterval <= 0 || s.SentAt == nil {
		return 0
	}
	return max(s.SentAt.Add(o.cfg.ResendInterval).Sub(now), 0)
}

// Errors of Verify and VerifyDigest.
var (
	// ErrExpired: no code is outstanding, or it is past its TTL.
	ErrExpired = errors.New("otp: code expired")
	// ErrWrong: a wrong code; the try was counted in the state.
	ErrWrong = errors.New("otp: wrong code")
	// ErrTooManyTries: a wrong code that was the last try allowed; the
	// code is dead (its hash cleared).
	ErrTooManyTries = errors.New("otp: too many wrong codes")
)

// Verify checks code, the six digits the person typed, against s at now,
// changing s: a right code is used up (its hash cleared), a wrong one
// counts a try and, at MaxTries, kills the code. The caller writes s back
// on every answer but ErrExpired, which changes nothing.
func (o *Service) Verify(s *State, binding, code string, now time.Time) error {
	return o.verify(s, binding, digest(code), now)
}

// VerifyDigest is Verify for a client that sends the hex SHA-256 of the
// code instead of the code (the KYC-VS API's confirmOTP). Upper- and
// lower-case hex are accepted; anything that is not 64 hex digits is a
// wrong code.
func (o *Service) VerifyDigest(s *State, binding, hexDigest string, now time.Time) error {
	return o.verify(s, binding, strings.ToLower(hexDigest), now)
}

func (o *Service) verify(s *State, binding, hexDigest string, now time.Time) error {
	if len(s.Hash) == 0 || s.ExpiresAt == nil || !now.Before(*s.ExpiresAt) {
		o.cfg.Metrics.OTPChecked("expired")
		return ErrExpired
	}
	if !hmac.Equal(s.Hash, o.hash(binding, hexDigest)) {
		s.Tries++
		if o.cfg.MaxTries > 0 && s.Tries >= o.cfg.MaxTries {
			s.Hash = nil
			o.cfg.Metrics.OTPChecked("too_many_tries")
			return ErrTooManyTries
		}
		o.cfg.Metrics.OTPChecked("wrong")
		return ErrWrong
	}
	s.Hash = nil
	o.cfg.Metrics.OTPChecked("ok")
	return nil
}

// IsDigest reports whether s is a hex SHA-256 (64 hex digits, either case),
// the form VerifyDigest takes.
func IsDigest(s string) bool {
	if len(s) != 2*sha256.Size {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// digest is the lower-case hex SHA-256 of a code: what a KYC-VS client
// sends, and what the stored hash is computed over.
func digest(code string) string {
	sum := sha256.Sum256([]byte(code))
	return hex.EncodeToString(sum[:])
}

// hash is what is stored instead of a code: HMAC(otpKey, binding ":"
// hex(SHA-256(code))). Keyed by the server secret and bound to the
// challenge or transaction, so a database read reveals no code (without the
// key, trying all 10^6 codes against it is impossible) and a code cannot be
// replayed on another challenge. Hashing over the code's SHA-256 rather
// than the code lets one stored hash check both a typed code and the
// digest a KYC-VS client sends; it adds or removes no secrecy, because
// SHA-256 of a 6-digit code is no secret: anyone can invert it by trying
// 10^6 codes. What keeps a code safe is the key, the TTL and MaxTries.
func (o *Service) hash(binding, hexDigest string) []byte {
	m := hmac.New(sha256.New, o.otpKey)
	m.Write([]byte(binding + ":" + hexDigest))
	return m.Sum(nil)
}

// Windows of the send limits.
const (
	ipLimitWindow           = 5 * time.Minute
	mobileLimitWindow       = 24 * time.Hour
	mobileHourlyLimitWindow = time.Hour
	clientLimitWindow       = time.Minute
)

// LongestLimitWindow is the longest window any send limit counts over;
// send counters older than it can be deleted.
const LongestLimitWindow = mobileLimitWindow

// Prefixes of the send-counter keys, shared by every channel.
const (
	keyIP     = "ip:"
	keyMobile = "mobile:"
	keyResend = "resend:"
	keyClient = "client:"
	// keyConsoleIP counts admin console sign-ins per client IP.
	keyConsoleIP = "console-ip:"
	// keyConsoleMobile counts admin console codes per mobile.
	keyConsoleMobile = "console-mobile:"
)

// limits are the send limits charged for one code. The mobile is keyed by
// an HMAC, so the counters table holds no phone numbers; the resend wait,
// when the caller asks for it, comes first, so a send that is only too
// soon is reported as such.
func (o *Service) limits(req Request, now time.Time) []store.Limit {
	var ls []store.Limit
	if key := o.resendKey(req); key != "" {
		ls = append(ls, store.Limit{Key: key, Max: 1, Since: now.Add(-o.cfg.ResendInterval)})
	}
	if o.cfg.IPLimit > 0 {
		ls = append(ls, store.Limit{Key: keyIP + req.ClientIP, Max: o.cfg.IPLimit, Since: now.Add(-ipLimitWindow)})
	}
	if req.Console {
		ls = append(ls, store.Limit{Key: keyConsoleIP + req.ClientIP, Max: ConsoleIPLimit, Since: now.Add(-time.Hour)})
		// Withheld or not, so the answers are the same for every mobile.
		mobile := keyConsoleMobile + o.mobileMAC(req.Mobile)
		ls = append(ls, store.Limit{Key: mobile, Max: o.cfg.ConsoleHourlyLimit, Since: now.Add(-time.Hour)},
			store.Limit{Key: mobile, Max: o.cfg.ConsoleDailyLimit, Since: now.Add(-24 * time.Hour)})
	}
	if req.Withhold {
		return ls // never the mobile's counters: see OTPRequest.Withhold
	}
	// Both mobile windows count the same events (one per send).
	if o.cfg.HourlyLimit > 0 {
		ls = append(ls, store.Limit{Key: keyMobile + o.mobileMAC(req.Mobile), Max: o.cfg.HourlyLimit, Since: now.Add(-mobileHourlyLimitWindow)})
	}
	if o.cfg.DailyLimit > 0 {
		ls = append(ls, store.Limit{Key: keyMobile + o.mobileMAC(req.Mobile), Max: o.cfg.DailyLimit, Since: now.Add(-mobileLimitWindow)})
	}
	if o.cfg.ClientLimit > 0 && req.Client != "" {
		ls = append(ls, store.Limit{Key: keyClient + req.Client, Max: o.cfg.ClientLimit, Since: now.Add(-clientLimitWindow)})
	}
	return ls
}

// resendKey is the counter key of the resend wait for req: per scope,
// mobile and person (the name's claims.NameKey), so that the people who
// share one mobile need not wait for each other; "" when the caller
// enforces the wait itself or there is none.
func (o *Service) resendKey(req Request) string {
	if req.ResendScope == "" || o.cfg.ResendInterval <= 0 {
		return ""
	}
	return keyResend + o.mobileMAC(req.ResendScope+"\x00"+req.Mobile+"\x00"+claims.NameKey(req.Name))
}

func (o *Service) mobileMAC(s string) string {
	m := hmac.New(sha256.New, o.mobileKey)
	m.Write([]byte(s))
	return hex.EncodeToString(m.Sum(nil))
}

// limitError names the limit a store refusal came from and how long it
// lasts, rounded up to whole seconds.
func (o *Service) limitError(le *store.LimitError, now time.Time) *LimitError {
	e := &LimitError{Limit: LimitMobile}
	switch {
	case strings.HasPrefix(le.Key, keyIP), strings.HasPrefix(le.Key, keyConsoleIP):
		e.Limit = LimitIP
	case strings.HasPrefix(le.Key, keyResend):
		e.Limit = LimitResend
	case strings.HasPrefix(le.Key, keyClient):
		e.Limit = LimitClient
	case strings.HasPrefix(le.Key, keyConsoleMobile):
		e.Limit = LimitConsole
	}
	wait := le.RetryAt.Sub(now)
	e.RetryAfter = max((wait+time.Second-1)/time.Second*time.Second, time.Second)
	return e
}

// newCode returns 6 uniformly random digits. Values of 4 random bytes at
// or above the largest multiple of 10^6 are drawn again (rejection
// sampling), so no code is likelier than another.
func (o *Service) newCode() (string, error) {
	const n = 1_000_000
	const limit = (1 << 32) / n * n
	var b [4]byte
	for {
		if _, err := io.ReadFull(o.cfg.Rand, b[:]); err != nil {
			return "", err
		}
		if v := binary.BigEndian.Uint32(b[:]); v < limit {
			return fmt.Sprintf("%06d", v%n), nil
		}
	}
}

// text is the SMS, in req's language. The code comes first, so phones
// offer it for autofill and a digit run in an entity's name is never taken
// for it. Each language's text stays within two Unicode SMS segments
// (docs/translations.md).
//
// A code typed into kycvs's own pages (sign-in, the person's own page,
// admin console) ends with
// the WebOTP line on its own last line; a code told to a verifier
// (NoticeShare) does not, since no page of this origin waits for it.
func (o *Service) text(req Request, code string) string {
	l := o.smsLang(req)
	valid := smsDuration(l, o.cfg.TTL)
	switch req.Notice {
	case NoticeAdmin:
		return fmt.Sprintf("%s is your code to sign in to the %s admin console. Valid %s. Never share it: %s staff will not ask for it.",
			code, o.cfg.ServiceName, valid, o.cfg.ServiceName) + o.webOTPLine(code)
	case NoticeShare:
		return l.Text("sms.share", "Code", code, "Client", req.Entity, "Service", o.cfg.ServiceName, "Valid", valid)
	case NoticeOwnPage:
		return l.Text("sms.me", "Code", code, "Client", req.Entity, "Service", o.cfg.ServiceName, "Valid", valid) + o.webOTPLine(code)
	}
	return l.Text("sms.sign_in", "Code", code, "Client", req.Entity, "Service", o.cfg.ServiceName, "Valid", valid) + o.webOTPLine(code)
}

// webOTPLine is "\n@host #code", the last line the WebOTP API reads, or ""
// without a WebOTPHost.
func (o *Service) webOTPLine(code string) string {
	if o.cfg.WebOTPHost == "" {
		return ""
	}
	return "\n@" + o.cfg.WebOTPHost + " #" + code
}

// smsLang is the language req's SMS is written in.
func (o *Service) smsLang(req Request) locale.Lang {
	if req.Notice == NoticeAdmin {
		return locale.English
	}
	return req.Lang
}

// smsDuration writes an OTP's validity in l: "3 minutes", "90 seconds".
func smsDuration(l locale.Lang, d time.Duration) string {
	if d >= time.Minute && d%time.Minute == 0 {
		return l.Text("time.minutes", "Count", int(d/time.Minute))
	}
	return l.Text("time.seconds", "Count", int((d+time.Second-1)/time.Second))
}

func (o *Service) now() time.Time { return o.cfg.Now().UTC() }

// MaxNameLen is the longest name a person may give, in characters after
// trimming.
const MaxNameLen = 100

// ValidName reports whether name (already trimmed) is acceptable as a
// person's full name: 1 to MaxNameLen characters of valid UTF-8 without
// control characters. Both channels accept the same names.
func ValidName(name string) bool {
	if name == "" || !utf8.ValidString(name) || utf8.RuneCountInString(name) > MaxNameLen {
		return false
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}
