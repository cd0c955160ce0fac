package main

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // --admin-time-zone works on images without a zone database
	"unicode"

	"github.com/kycvs/kycvs/admin"
	"github.com/kycvs/kycvs/consent"
	"github.com/kycvs/kycvs/oauth"
	"github.com/kycvs/kycvs/otp"
	"github.com/kycvs/kycvs/registration"
	"github.com/kycvs/kycvs/store"
)

// serveConfig is every setting of `kycvs serve`, validated at once.
type serveConfig struct {
	Addr        string
	Issuer      string
	DatabaseURL string
	// DatabaseMaxConns caps the process's PostgreSQL connections.
	DatabaseMaxConns  int
	Secret            string
	Dev               bool
	DataDir           string
	DemoAddr          string
	Migrate           bool
	SMS               string
	SMSWebhookSecret  string
	SMSTimeout        time.Duration
	SMSMaxConcurrent  int
	OTPTTL            time.Duration
	OTPMaxTries       int
	OTPResendInterval time.Duration
	OTPDailyLimit     int
	OTPHourlyLimit    int
	IPLimit           int
	// RegistrationIPLimit caps dynamic registration requests per client
	// IP in an hour (0: off).
	RegistrationIPLimit int
	ClientOTPLimit      int
	SessionTTL          time.Duration
	LoginTTL            time.Duration
	CodeTTL             time.Duration
	AccessTokenTTL      time.Duration
	IDTokenTTL          time.Duration
	RefreshTokenTTL     time.Duration
	CleanupInterval     time.Duration
	// Retention is how long disclosures and the audit entries about
	// people are kept; 0 keeps them.
	Retention      time.Duration
	MetricsAddr    string
	TrustedProxies stringList
	LogFormat      string
	LogLevel       string
	// TrustFramework and RegistryName are what verified_claims state.
	TrustFramework string
	RegistryName   string
	// AdminTimeZone is the admin console's time zone ("" is UTC), and
	// that of the times on /me.
	AdminTimeZone string
	// GrievanceContact is whom a person writes to with a complaint, as
	// /me states it; "" says "the operator of this service".
	GrievanceContact string
	// AdminIdleTimeout ends an admin console session nobody used for
	// that long (0: the default, 15 minutes).
	AdminIdleTimeout time.Duration
	// RequirePAR refuses authorization requests that were not pushed
	// first, for every client.
	RequirePAR bool
	// DPoPNonce requires server nonces in DPoP proofs at the token and
	// PAR endpoints.
	DPoPNonce bool
	// JWKSFetchTimeout bounds one fetch of a client's jwks_uri.
	JWKSFetchTimeout time.Duration
	// jwksFetch lets tests fetch jwks_uri from loopback TLS servers.
	jwksFetch oauth.JWKSFetchConfig
	// BackchannelTimeout bounds one back-channel logout POST.
	BackchannelTimeout time.Duration
	// BackchannelAllowPrivate lets backchannel_logout_uri reach loopback
	// and private addresses (on in --dev).
	BackchannelAllowPrivate bool
	// backchannel lets tests shorten the retry schedule.
	backchannel oauth.LogoutDeliveryConfig
	// now is the server's clock, which every package newServer wires
	// reads; nil is time.Now. Not a flag: tests set it (a
	// kycvstest.Clock's Now) to move time instead of sleeping. The store
	// stamps the OTP tallies' minutes by time.Now itself.
	now func() time.Time
	// tallyFlush is how often the OTP tallies counted in memory are
	// written; 0 is store.OTPTallyFlushInterval. Not a flag: tests that
	// count statements push it away.
	tallyFlush time.Duration
}

// clock is the server's clock: now, or time.Now.
func (c serveConfig) clock() func() time.Time {
	if c.now != nil {
		return c.now
	}
	return time.Now
}

// DefaultRetention keeps disclosures and personal audit entries for a
// year (DESIGN.md "Retention").
const DefaultRetention = 365 * 24 * time.Hour

// maxDatabaseConns bounds --database-max-conns: PostgreSQL's own
// max_connections is 100 by default, and thousands of connections from one
// process is a typo.
const maxDatabaseConns = 1000

// devDataDir holds the dev database, generated secret and SMS file.
const devDataDir = "kycvs-data"

func (c *serveConfig) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.Addr, "addr", "127.0.0.1:8080", "listen address")
	fs.StringVar(&c.Issuer, "issuer", "", "issuer URL, exactly as clients see it (default in --dev: http://localhost:PORT)")
	fs.StringVar(&c.DatabaseURL, "database-url", "", "postgres://... or sqlite:PATH (default sqlite:kycvs.db; in --dev sqlite:"+devDataDir+"/kycvs.db)")
	fs.IntVar(&c.DatabaseMaxConns, "database-max-conns", store.DefaultMaxConns, "PostgreSQL connections this process opens at most; requests beyond them wait for one")
	fs.StringVar(&c.Secret, "secret", "", "server secret, 32 bytes or more: encrypts keys at rest, keys pairwise subjects and OTP hashes (generated and kept in "+devDataDir+"/secret in --dev)")
	fs.BoolVar(&c.Dev, "dev", false, "development mode: SQLite, generated secret, demo registry and client, SMS to a file and the log")
	fs.StringVar(&c.DataDir, "data-dir", devDataDir, "directory for --dev's database, secret and SMS file")
	fs.StringVar(&c.DemoAddr, "demo-addr", "", "--dev: listen address of the Demo Airlines relying party, on its own origin (default: --addr's port + 1)")
	fs.BoolVar(&c.Migrate, "migrate", true, "apply pending database migrations at start")
	fs.BoolVar(&c.RequirePAR, "require-par", false, "refuse authorization requests of every client that were not pushed to the PAR endpoint first (RFC 9126)")
	fs.BoolVar(&c.DPoPNonce, "dpop-nonce", true, "require a server nonce in DPoP proofs at the token and PAR endpoints (RFC 9449 8)")
	fs.DurationVar(&c.JWKSFetchTimeout, "jwks-fetch-timeout", 5*time.Second, "time limit of one fetch of a private_key_jwt client's jwks_uri")
	fs.DurationVar(&c.BackchannelTimeout, "backchannel-logout-timeout", 5*time.Second, "time limit of one back-channel logout token POST to a client")
	fs.BoolVar(&c.BackchannelAllowPrivate, "backchannel-logout-allow-private", false, "let backchannel_logout_uri reach loopback and private addresses (closed networks; on in --dev)")
	fs.StringVar(&c.SMS, "sms", "", "SMS sender: file:PATH, log, or webhook:URL (default in --dev: file:"+devDataDir+"/sms.jsonl and the log)")
	fs.StringVar(&c.SMSWebhookSecret, "sms-webhook-secret", "", "HMAC key for webhook SMS signatures")
	fs.DurationVar(&c.SMSTimeout, "sms-timeout", 5*time.Second, "webhook SMS request timeout")
	fs.IntVar(&c.SMSMaxConcurrent, "sms-max-concurrent", 64, "webhook SMS requests in flight per process; more are refused at once with 503 (0: no limit)")
	fs.DurationVar(&c.OTPTTL, "otp-ttl", otp.DefaultTTL, "how long an OTP is valid")
	fs.IntVar(&c.OTPMaxTries, "otp-max-tries", otp.DefaultMaxTries, "wrong OTP tries before the sign-in is dead (0: no limit)")
	fs.DurationVar(&c.OTPResendInterval, "otp-resend-interval", otp.DefaultResendInterval, "minimum wait between two OTPs for one sign-in (0: none)")
	fs.IntVar(&c.OTPDailyLimit, "otp-daily-limit", otp.DefaultDailyLimit, "OTPs per mobile number in 24 hours (0: no limit)")
	fs.IntVar(&c.OTPHourlyLimit, "otp-hourly-limit", otp.DefaultHourlyLimit, "OTPs per mobile number in one hour (0: no limit)")
	fs.IntVar(&c.IPLimit, "ip-limit", otp.DefaultIPLimit, "OTP requests per client IP in 5 minutes (0: no limit)")
	fs.IntVar(&c.RegistrationIPLimit, "registration-ip-limit", registration.DefaultIPLimit, "requests to the dynamic client registration endpoints per client IP in one hour (0: no limit)")
	fs.IntVar(&c.ClientOTPLimit, "client-otp-limit", otp.DefaultClientLimit, "OTPs sent for one client (verifying entity) in one minute (0: no limit)")
	fs.DurationVar(&c.SessionTTL, "session-ttl", consent.DefaultSessionTTL, "browser session length after an OTP sign-in")
	fs.DurationVar(&c.LoginTTL, "login-ttl", oauth.DefaultLoginTTL, "time a person has to finish one sign-in (the login challenge's lifetime)")
	fs.DurationVar(&c.CodeTTL, "code-ttl", oauth.DefaultCodeTTL, "authorization code lifetime")
	fs.DurationVar(&c.AccessTokenTTL, "access-token-ttl", oauth.DefaultAccessTokenTTL, "access token lifetime")
	fs.DurationVar(&c.IDTokenTTL, "id-token-ttl", oauth.DefaultIDTokenTTL, "ID token lifetime")
	fs.DurationVar(&c.RefreshTokenTTL, "refresh-token-ttl", oauth.DefaultRefreshTokenTTL, "refresh token lifetime (offline_access)")
	fs.DurationVar(&c.CleanupInterval, "cleanup-interval", time.Minute, "how often expired sign-ins, sessions, tokens and old OTP counters are deleted")
	fs.DurationVar(&c.Retention, "retention", DefaultRetention, "how long disclosures and the audit entries about people are kept before the clean-up deletes them (0: kept for ever)")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", "127.0.0.1:9464", "listen address of the Prometheus /metrics endpoint, apart from --addr (\"off\": none)")
	fs.Var(&c.TrustedProxies, "trusted-proxy", "address or CIDR of a reverse proxy whose X-Forwarded-For is trusted (repeatable)")
	fs.StringVar(&c.LogFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&c.LogLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&c.TrustFramework, "trust-framework", oauth.DefaultAssurance.TrustFramework, "trust_framework that verified_claims state (OpenID Connect for Identity Assurance)")
	fs.StringVar(&c.RegistryName, "registry-name", oauth.DefaultAssurance.RegistryName, "the vaccination registry's name in verified_claims evidence")
	fs.StringVar(&c.AdminTimeZone, "admin-time-zone", "Asia/Kolkata", "time zone of the admin console's times and of \"today\" on its dashboard")
	fs.DurationVar(&c.AdminIdleTimeout, "admin-idle-timeout", admin.DefaultIdleTimeout, "admin console sessions end after this long without a request")
	fs.StringVar(&c.GrievanceContact, "grievance-contact", "", "whom people write to with a complaint about their data (an e-mail or postal address), stated on /me")
}

// resolveDev fills --dev's defaults: database, generated secret and SMS
// file in the data directory, and a localhost issuer.
func (c *serveConfig) resolveDev() error {
	if c.Dev {
		if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
			return err
		}
		if c.DatabaseURL == "" {
			c.DatabaseURL = "sqlite:" + filepath.Join(c.DataDir, "kycvs.db")
		}
		if c.Secret == "" {
			s, err := loadOrCreateSecret(filepath.Join(c.DataDir, "secret"))
			if err != nil {
				return err
			}
			c.Secret = s
		}
		if c.Issuer == "" {
			_, port, err := net.SplitHostPort(c.Addr)
			if err != nil {
				return fmt.Errorf("--addr %q: %v", c.Addr, err)
			}
			c.Issuer = "http://localhost:" + port
		}
		if c.DemoAddr == "" {
			c.DemoAddr = nextPort(c.Addr)
		}
	}
	if c.DatabaseURL == "" {
		c.DatabaseURL = "sqlite:kycvs.db"
	}
	return nil
}

// validate reports every problem at once.
func (c *serveConfig) validate() error {
	var p []string
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		p = append(p, fmt.Sprintf("--addr %q: %v", c.Addr, err))
	}
	for flag, v := range map[string]string{"--trust-framework": c.TrustFramework, "--registry-name": c.RegistryName} {
		if len(v) > 100 || strings.ContainsFunc(v, unicode.IsControl) {
			p = append(p, flag+": at most 100 characters, no control characters")
		}
	}
	if c.Issuer == "" {
		p = append(p, "--issuer is required (the URL clients use, e.g. https://kycvs.example)")
	} else if u, err := url.Parse(c.Issuer); err != nil || !u.IsAbs() || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		p = append(p, fmt.Sprintf("--issuer %q: must be an absolute URL without query or fragment", c.Issuer))
	} else if u.Scheme != "https" && !(u.Scheme == "http" && isLocalHost(u.Hostname())) {
		p = append(p, fmt.Sprintf("--issuer %q: must be https (http only on localhost)", c.Issuer))
	}
	if _, _, err := store.ParseURL(c.DatabaseURL); err != nil {
		p = append(p, "--database-url: "+err.Error())
	}
	if c.DatabaseMaxConns < 1 || c.DatabaseMaxConns > maxDatabaseConns {
		p = append(p, fmt.Sprintf("--database-max-conns: between 1 and %d", maxDatabaseConns))
	}
	if len(c.Secret) < 32 {
		p = append(p, "--secret: 32 bytes or more are required (e.g. openssl rand -base64 48)")
	}
	if _, _, err := net.SplitHostPort(c.DemoAddr); c.Dev && c.DemoAddr != "" && err != nil {
		p = append(p, fmt.Sprintf("--demo-addr %q: %v", c.DemoAddr, err))
	}
	if c.JWKSFetchTimeout < 0 || c.JWKSFetchTimeout > time.Minute {
		p = append(p, "--jwks-fetch-timeout: between 0 (the default, 5s) and 1m")
	}
	if c.SMS == "" && !c.Dev {
		p = append(p, "--sms is required: file:PATH, log or webhook:URL")
	}
	if strings.HasPrefix(c.SMS, "webhook:") && c.SMSWebhookSecret == "" {
		p = append(p, "--sms-webhook-secret is required with a webhook sender")
	}
	for name, d := range map[string]time.Duration{"--otp-ttl": c.OTPTTL, "--session-ttl": c.SessionTTL, "--login-ttl": c.LoginTTL, "--sms-timeout": c.SMSTimeout,
		"--code-ttl": c.CodeTTL, "--access-token-ttl": c.AccessTokenTTL, "--id-token-ttl": c.IDTokenTTL, "--refresh-token-ttl": c.RefreshTokenTTL,
		"--cleanup-interval": c.CleanupInterval} {
		if d <= 0 {
			p = append(p, name+" must be positive")
		}
	}
	if c.Retention < 0 {
		p = append(p, "--retention must be 0 (keep) or positive")
	}
	if c.MetricsAddr != "off" && c.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			p = append(p, fmt.Sprintf("--metrics-addr %q: %v (or off)", c.MetricsAddr, err))
		} else if c.MetricsAddr == c.Addr {
			p = append(p, "--metrics-addr must differ from --addr")
		}
	}
	for name, n := range map[string]int{"--otp-max-tries": c.OTPMaxTries, "--otp-daily-limit": c.OTPDailyLimit, "--otp-hourly-limit": c.OTPHourlyLimit,
		"--ip-limit": c.IPLimit, "--client-otp-limit": c.ClientOTPLimit, "--sms-max-concurrent": c.SMSMaxConcurrent,
		"--registration-ip-limit": c.RegistrationIPLimit} {
		if n < 0 {
			p = append(p, name+" must be 0 (off) or more")
		}
	}
	if c.OTPResendInterval < 0 {
		p = append(p, "--otp-resend-interval must be 0 (off) or more")
	}
	if _, err := time.LoadLocation(c.AdminTimeZone); err != nil {
		p = append(p, fmt.Sprintf("--admin-time-zone %q: %v", c.AdminTimeZone, err))
	}
	if c.AdminIdleTimeout < 0 {
		p = append(p, "--admin-idle-timeout must be 0 (the default) or more")
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		p = append(p, "--log-format: text or json")
	}
	if len(p) > 0 {
		return errors.New("configuration:\n  " + strings.Join(p, "\n  "))
	}
	return nil
}

// lifetimes are --login-ttl, --code-ttl and the token lifetimes, filled
// once for the provider and for the privacy notice that states them.
func (c serveConfig) lifetimes() oauth.Lifetimes {
	return oauth.Lifetimes{
		LoginTTL:        c.LoginTTL,
		CodeTTL:         c.CodeTTL,
		AccessTokenTTL:  c.AccessTokenTTL,
		IDTokenTTL:      c.IDTokenTTL,
		RefreshTokenTTL: c.RefreshTokenTTL,
	}
}

// otpLimits are the --otp-* settings, --ip-limit and --client-otp-limit:
// the policy of the one OTP service every channel shares.
func (c serveConfig) otpLimits() otp.Limits {
	return otp.Limits{
		TTL:            c.OTPTTL,
		MaxTries:       c.OTPMaxTries,
		ResendInterval: c.OTPResendInterval,
		DailyLimit:     c.OTPDailyLimit,
		HourlyLimit:    c.OTPHourlyLimit,
		IPLimit:        c.IPLimit,
		ClientLimit:    c.ClientOTPLimit,
	}
}

// nextPort is addr with its port plus one (port 0 stays 0: any free port).
func nextPort(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	n, perr := strconv.Atoi(port)
	if err != nil || perr != nil || n == 0 || n >= 65535 {
		return net.JoinHostPort(host, "0")
	}
	return net.JoinHostPort(host, strconv.Itoa(n+1))
}

func isLocalHost(h string) bool { return h == "localhost" || h == "127.0.0.1" || h == "::1" }

// loadOrCreateSecret reads the dev secret, creating it (0600) on first run.
func loadOrCreateSecret(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	raw := make([]byte, 48)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	s := base64.RawURLEncoding.EncodeToString(raw)
	if err := os.WriteFile(path, []byte(s+"\n"), 0o600); err != nil {
		return "", err
	}
	return s, nil
}
