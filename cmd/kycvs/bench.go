package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/kycvs/kycvs/loadtest"
)

const benchUsage = `Usage: kycvs bench [flags]

Drives complete verifications (authorize, login page, send OTP, verify OTP,
token, userinfo) with --users concurrent virtual users against a kycvs
server on this machine, for --duration (or --flows), and prints completed
verifications per second, errors by kind and latency per step.

The codes arrive through the server's webhook sender: start the server with
  --sms webhook:http://127.0.0.1:9099/sms --sms-webhook-secret S
  --ip-limit 0 --otp-daily-limit 0 --otp-hourly-limit 0 --client-otp-limit 0
(a load run comes from one IP and one client and sends many codes to each
mobile), and
give bench the same --sms-webhook-secret. With --setup, bench registers the
client kycvs-bench and one registry record per virtual user in the
server's database first (--database-url and --secret of the server, or
--dev). Only loopback addresses are ever contacted.

Flags:
`

// benchConfig is every setting of `kycvs bench`.
type benchConfig struct {
	db             dbFlags
	Setup          bool
	Issuer         string
	Users          int
	Duration       time.Duration
	Flows          int
	Warmup         time.Duration
	WebhookListen  string
	WebhookSecret  string
	ClientID       string
	ClientSecret   string
	RedirectURI    string
	IDTokenAlg     string
	ServerPID      int
	DBProcess      string
	ServerMetrics  string
	OTPTimeout     time.Duration
	RequestTimeout time.Duration
	Progress       time.Duration
	JSON           bool
	CPUProfile     string
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c benchConfig
	fs := newFlagSet("bench", stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), benchUsage)
		fs.PrintDefaults()
	}
	c.flags(fs)
	if _, err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	if err := c.validate(); err != nil {
		return err
	}

	var users []loadtest.User
	if c.Setup {
		p, err := c.prepare(ctx)
		if err != nil {
			return err
		}
		c.ClientID, c.ClientSecret, users = p.ClientID, p.ClientSecret, p.Users
	} else {
		users = loadtest.BenchUsers(c.Users)
	}

	gw, err := loadtest.NewGateway(c.WebhookListen, []byte(c.WebhookSecret))
	if err != nil {
		return err
	}
	defer gw.Close()
	warmup := ""
	if c.Warmup > 0 {
		warmup = fmt.Sprintf(" after a %s warm-up", c.Warmup)
	}
	fmt.Fprintf(stderr, "kycvs bench: %d virtual users for %s%s against %s; SMS gateway at %s\n", len(users), c.Duration, warmup, c.Issuer, gw.URL())

	if c.CPUProfile != "" {
		stop, err := startCPUProfile(c.CPUProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	res, err := loadtest.Run(ctx, c.runConfig(users, gw, stderr))
	if err != nil {
		return err
	}
	if c.JSON {
		err = writeJSON(stdout, res)
	} else {
		err = loadtest.WriteText(stdout, res)
	}
	if err != nil {
		return err
	}
	return benchOutcome(res)
}

func (c *benchConfig) flags(fs *flag.FlagSet) {
	c.db.register(fs)
	fs.BoolVar(&c.Setup, "setup", false, "register the bench client and the virtual users' registry records in the server's database (--database-url and --secret, or --dev) before the run")
	fs.StringVar(&c.Issuer, "issuer", "", "the server's issuer URL, on loopback (default http://127.0.0.1:8080; with --dev http://localhost:8080)")
	fs.IntVar(&c.Users, "users", 32, fmt.Sprintf("concurrent virtual users, 1 to %d", loadtest.MaxUsers))
	fs.DurationVar(&c.Duration, "duration", 30*time.Second, "how long to start new verifications, at most "+loadtest.MaxDuration.String())
	fs.IntVar(&c.Flows, "flows", 0, "stop after this many verifications (0: only --duration bounds the run)")
	fs.DurationVar(&c.Warmup, "warmup", 0, "run the users this long first without counting their verifications, so the server's connections and caches are warm (failures still count), at most "+loadtest.MaxDuration.String())
	fs.StringVar(&c.WebhookListen, "webhook-listen", "127.0.0.1:9099", "loopback address where bench receives the server's webhook SMS at /sms")
	fs.StringVar(&c.WebhookSecret, "sms-webhook-secret", "", "the server's --sms-webhook-secret, to check the SMS signatures")
	fs.StringVar(&c.ClientID, "client-id", "", "a registered confidential client (not with --setup)")
	fs.StringVar(&c.ClientSecret, "client-secret", "", "its secret (not with --setup)")
	fs.StringVar(&c.RedirectURI, "redirect-uri", loadtest.DefaultRedirectURI, "the client's loopback redirect URI; nothing needs to listen there")
	fs.StringVar(&c.IDTokenAlg, "id-token-alg", "", "with --setup: the bench client's ID token algorithm, RS256 or ES256 (default: the server's, RS256)")
	fs.IntVar(&c.ServerPID, "server-pid", 0, "the server's process ID, to report its CPU time per verification and its memory")
	fs.StringVar(&c.DBProcess, "db-process", "", "command name of the database's processes on this machine (e.g. postgres), to report their CPU time per verification too")
	fs.StringVar(&c.ServerMetrics, "server-metrics", "http://127.0.0.1:9464/metrics", "the server's Prometheus endpoint (its --metrics-addr), on loopback, for the SQL statements and transactions per verification (\"off\": not measured)")
	fs.DurationVar(&c.OTPTimeout, "otp-timeout", loadtest.DefaultOTPTimeout, "how long to wait for an SMS")
	fs.DurationVar(&c.RequestTimeout, "request-timeout", loadtest.DefaultRequestTimeout, "timeout of every HTTP request")
	fs.DurationVar(&c.Progress, "progress", 5*time.Second, "print progress to stderr this often (0: never)")
	fs.BoolVar(&c.JSON, "json", false, "print the result as JSON")
	fs.StringVar(&c.CPUProfile, "cpuprofile", "", "write the load tool's own CPU profile (go tool pprof) to this file")
}

// runConfig is the load run the flags describe, for users, with the codes
// arriving at gw and progress on stderr.
func (c *benchConfig) runConfig(users []loadtest.User, gw *loadtest.Gateway, stderr io.Writer) loadtest.Config {
	cfg := loadtest.Config{
		Issuer:         c.Issuer,
		ClientID:       c.ClientID,
		ClientSecret:   c.ClientSecret,
		RedirectURI:    c.RedirectURI,
		Users:          users,
		Duration:       c.Duration,
		Flows:          c.Flows,
		Warmup:         c.Warmup,
		Gateway:        gw,
		OTPTimeout:     c.OTPTimeout,
		RequestTimeout: c.RequestTimeout,
		ServerPID:      c.ServerPID,
		DBProcessName:  c.DBProcess,
	}
	if c.ServerMetrics != "off" {
		cfg.ServerMetricsURL = c.ServerMetrics
	}
	if c.Progress > 0 {
		cfg.Progress, cfg.ProgressEvery = stderr, c.Progress
	}
	return cfg
}

// benchOutcome is the error bench exits with after printing res: none
// when every verification completed.
func benchOutcome(res *loadtest.Result) error {
	switch {
	case res.Interrupted:
		return errors.New("interrupted")
	case res.Completed == 0:
		return errors.New("no verification completed")
	case res.Failed > 0:
		return fmt.Errorf("%d verifications failed", res.Failed)
	}
	return nil
}

// validate reports every problem at once, as a usage error.
func (c *benchConfig) validate() error {
	if c.Issuer == "" {
		c.Issuer = "http://127.0.0.1:8080"
		if c.db.Dev {
			c.Issuer = "http://localhost:8080" // what `serve --dev` makes its issuer
		}
	}
	var p []string
	// Checked before --setup writes anything: only this machine is a target.
	for _, err := range []error{
		loadtest.CheckLoopbackURL("--issuer", c.Issuer),
		loadtest.CheckLoopbackURL("--redirect-uri", c.RedirectURI),
		loadtest.CheckLoopbackAddr("--webhook-listen", c.WebhookListen),
	} {
		if err != nil {
			p = append(p, err.Error())
		}
	}
	if c.Users < 1 || c.Users > loadtest.MaxUsers {
		p = append(p, fmt.Sprintf("--users: 1 to %d", loadtest.MaxUsers))
	}
	if c.Duration <= 0 || c.Duration > loadtest.MaxDuration {
		p = append(p, "--duration: more than 0, at most "+loadtest.MaxDuration.String())
	}
	if c.Flows < 0 || c.Flows > loadtest.MaxFlows {
		p = append(p, fmt.Sprintf("--flows: 0 to %d", loadtest.MaxFlows))
	}
	if c.Warmup < 0 || c.Warmup > loadtest.MaxDuration {
		p = append(p, "--warmup: 0 to "+loadtest.MaxDuration.String())
	}
	if c.WebhookSecret == "" {
		p = append(p, "--sms-webhook-secret (or KYCVS_SMS_WEBHOOK_SECRET) is required: the server's, to check the SMS signatures")
	}
	switch {
	case c.Setup && (c.ClientID != "" || c.ClientSecret != ""):
		p = append(p, "--client-id and --client-secret are not used with --setup, which registers its own client")
	case !c.Setup && (c.ClientID == "" || c.ClientSecret == ""):
		p = append(p, "--client-id and --client-secret are required without --setup")
	}
	if c.IDTokenAlg != "" && !c.Setup {
		p = append(p, "--id-token-alg needs --setup")
	}
	if c.OTPTimeout <= 0 || c.RequestTimeout <= 0 || c.Progress < 0 {
		p = append(p, "--otp-timeout and --request-timeout must be positive, --progress 0 or more")
	}
	if c.ServerPID < 0 {
		p = append(p, "--server-pid must be a process ID")
	}
	if len(p) > 0 {
		return usageError{"bench:\n  " + strings.Join(p, "\n  ")}
	}
	return nil
}

// startCPUProfile profiles this process until stop is called.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// prepare registers the bench client and registry records in the
// server's database.
func (c *benchConfig) prepare(ctx context.Context) (*loadtest.Prepared, error) {
	st, err := openCLIStore(ctx, &c.db, true)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	return loadtest.Prepare(ctx, st, []byte(c.db.Secret), c.Users, c.RedirectURI, c.IDTokenAlg)
}
