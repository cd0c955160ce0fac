package loadtest

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Bounds of one run. A load run is a measurement, not a soak test: these
// keep a typo from running for days or opening thousands of connections.
const (
	MaxUsers    = 1024
	MaxDuration = time.Hour
	MaxFlows    = 10_000_000
)

// Defaults of the timeouts.
const (
	DefaultOTPTimeout     = 10 * time.Second
	DefaultRequestTimeout = 30 * time.Second
)

// User is the person one virtual user plays: a registry record of its own,
// so the SMS for its mobile is always its own.
type User struct {
	Mobile string // E.164, the form the server sends SMS to
	Name   string
}

// BenchUsers returns n made-up people, +917000000001 "Bench User 00001"
// and so on (at most 99999). Prepare registers the same people, so a run
// with n virtual users finds each of them in the registry.
func BenchUsers(n int) []User {
	n = min(max(n, 0), 99999)
	us := make([]User, n)
	for i := range us {
		us[i] = User{
			Mobile: fmt.Sprintf("+9170000%05d", i+1),
			Name:   fmt.Sprintf("Bench User %05d", i+1),
		}
	}
	return us
}

// Config is one load run.
type Config struct {
	// Issuer is the server's issuer URL; its host must be loopback.
	// Everything else is found through its discovery document.
	Issuer string
	// ClientID, ClientSecret and RedirectURI are a registered confidential
	// client (client_secret_basic). The redirect URI is never fetched: a
	// flow stops at the redirect to it, as a browser would hand it over.
	ClientID     string
	ClientSecret string
	RedirectURI  string
	// Scopes asked for; default openid vaccination_status.
	Scopes []string
	// Users: one virtual user each, running concurrently.
	Users []User
	// Duration bounds the run: no flow starts after it (flows under way
	// finish). Required, at most MaxDuration.
	Duration time.Duration
	// Flows, if not zero, also bounds the run: at most this many flows
	// start.
	Flows int
	// Warmup, if not zero, runs the users this long before Duration
	// starts, without counting their flows, times or CPU: the server's
	// database connections, prepared statements and caches are in place
	// when the measurement starts. A warm-up flow that fails is still
	// counted as failed. At most MaxDuration.
	Warmup time.Duration
	// Gateway receives the SMS. Required.
	Gateway *Gateway
	// OTPTimeout bounds the wait for an SMS after the send-code request
	// has answered; default DefaultOTPTimeout.
	OTPTimeout time.Duration
	// RequestTimeout bounds every HTTP request; default
	// DefaultRequestTimeout.
	RequestTimeout time.Duration
	// ServerPID, if not zero, is the server process on this machine whose
	// CPU time and memory the result reports.
	ServerPID int
	// DBProcessName, if not empty, names the database's processes on this
	// machine ("postgres") whose CPU time the result reports as well.
	DBProcessName string
	// ServerMetricsURL, if not empty, is the server's Prometheus endpoint
	// (http://127.0.0.1:9464/metrics by default in kycvs serve), on
	// loopback, whose kycvs_db_statements_total and
	// kycvs_db_transactions_total give the SQL statements and
	// transactions per verification.
	ServerMetricsURL string
	// Progress, if not nil, receives a line every ProgressEvery (default
	// 5 seconds) while the run lasts.
	Progress      io.Writer
	ProgressEvery time.Duration
}

func (c *Config) defaults() {
	if len(c.Scopes) == 0 {
		c.Scopes = []string{"openid", "vaccination_status"}
	}
	if c.OTPTimeout == 0 {
		c.OTPTimeout = DefaultOTPTimeout
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.ProgressEvery == 0 {
		c.ProgressEvery = 5 * time.Second
	}
}

// Validate reports every problem with c at once.
func (c *Config) Validate() error {
	var p []string
	if _, err := checkLoopbackURL("issuer", c.Issuer); err != nil {
		p = append(p, err.Error())
	}
	if c.ServerMetricsURL != "" {
		if _, err := checkLoopbackURL("server metrics URL", c.ServerMetricsURL); err != nil {
			p = append(p, err.Error())
		}
	}
	if _, err := checkLoopbackURL("redirect URI", c.RedirectURI); err != nil {
		p = append(p, err.Error())
	}
	if c.ClientID == "" || c.ClientSecret == "" {
		p = append(p, "client ID and client secret are required")
	}
	if len(c.Users) == 0 || len(c.Users) > MaxUsers {
		p = append(p, fmt.Sprintf("virtual users: 1 to %d", MaxUsers))
	}
	seen := make(map[string]bool, len(c.Users))
	for _, u := range c.Users {
		if u.Mobile == "" || u.Name == "" {
			p = append(p, "every virtual user needs a mobile and a name")
			break
		}
		if seen[u.Mobile] {
			p = append(p, fmt.Sprintf("mobile %s is used by two virtual users; each needs its own", u.Mobile))
			break
		}
		seen[u.Mobile] = true
	}
	if c.Duration <= 0 || c.Duration > MaxDuration {
		p = append(p, fmt.Sprintf("duration: more than 0, at most %s", MaxDuration))
	}
	if c.Flows < 0 || c.Flows > MaxFlows {
		p = append(p, fmt.Sprintf("flows: 0 (no limit but the duration) to %d", MaxFlows))
	}
	if c.Warmup < 0 || c.Warmup > MaxDuration {
		p = append(p, fmt.Sprintf("warm-up: 0 to %s", MaxDuration))
	}
	if c.Gateway == nil {
		p = append(p, "an SMS gateway is required")
	}
	if c.OTPTimeout < 0 || c.RequestTimeout < 0 || c.ProgressEvery < 0 {
		p = append(p, "timeouts must not be negative")
	}
	if len(c.DBProcessName) > 15 {
		p = append(p, "database process name: at most 15 characters, as in /proc/PID/stat")
	}
	if c.ServerPID < 0 {
		p = append(p, "server PID must not be negative")
	}
	if len(p) > 0 {
		return errors.New("loadtest: " + strings.Join(p, "; "))
	}
	return nil
}
