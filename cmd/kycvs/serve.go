package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kycvs/kycvs/admin"
	"github.com/kycvs/kycvs/claims"
	"github.com/kycvs/kycvs/consent"
	"github.com/kycvs/kycvs/demo"
	"github.com/kycvs/kycvs/home"
	"github.com/kycvs/kycvs/kycvsapi"
	"github.com/kycvs/kycvs/me"
	"github.com/kycvs/kycvs/oauth"
	"github.com/kycvs/kycvs/otp"
	"github.com/kycvs/kycvs/registration"
	"github.com/kycvs/kycvs/secrets"
	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/web"
)

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg serveConfig
	fs := newFlagSet("serve", stderr)
	cfg.flags(fs)
	if _, err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	if err := cfg.resolveDev(); err != nil {
		return err
	}
	if err := cfg.validate(); err != nil {
		return usageError{err.Error()}
	}
	logger := newLogger(cfg.LogFormat, cfg.LogLevel, stderr)
	srv, err := newServer(ctx, cfg, logger, stdout)
	if err != nil {
		return err
	}
	defer srv.close()
	return srv.listenAndServe(ctx)
}

func newLogger(format, level string, w io.Writer) *slog.Logger {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		lv = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: lv}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// server is one wired kycvs process.
type server struct {
	cfg     serveConfig
	logger  *slog.Logger
	st      *store.Store
	handler http.Handler
	// engine serves every page and endpoint but the admin API; tests walk
	// its routes.
	engine  *gin.Engine
	cancel  context.CancelFunc
	cleaner *cleaner
	metrics *web.Metrics
	otps    *otp.Service
	// stopFlushes ends the OTP tally flushes startTallies began;
	// flushesDone is closed when they have.
	stopFlushes context.CancelFunc
	flushesDone chan struct{}
	demo        *devDemo // --dev only
	// provider is the OpenID provider, whose EndGrant withdraws grants.
	provider *oauth.Provider
}

// newServer opens the database, migrates it, loads the keys and wires every
// package, each reading the time from cfg's clock (fosite itself reads
// time.Now: see oauth.Config.Now). Background work (key refresh, clean-up)
// stops with ctx or close.
func newServer(ctx context.Context, cfg serveConfig, logger *slog.Logger, stdout io.Writer) (*server, error) {
	s, bg, err := openServer(ctx, cfg, logger)
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			s.close()
		}
	}()
	keys, err := s.startKeys(ctx, bg)
	if err != nil {
		return nil, err
	}
	now := cfg.clock()
	s.cleaner = &cleaner{st: s.st, logger: logger, interval: cfg.CleanupInterval, retention: cfg.Retention, now: now}
	go s.cleaner.run(bg)
	s.startTallies(bg)
	if s.otps, err = s.newOTPs(); err != nil {
		return nil, err
	}
	secret, secure := []byte(cfg.Secret), cfg.secure()
	registry, pairwise := claims.NewRegistry(s.st), claims.NewPairwise(secret)
	flow, provider, err := s.newSignIn(keys, registry, pairwise)
	if err != nil {
		return nil, err
	}
	api, err := kycvsapi.New(kycvsapi.Config{Issuer: cfg.Issuer, Logger: logger, Metrics: s.metrics, Now: now},
		s.st, kycvsapi.NewAPIKeys(s.st, secret).WithClock(now), s.otps, registry, pairwise, keys)
	if err != nil {
		return nil, err
	}
	engine, err := web.NewEngine(web.Config{Logger: logger, TrustedProxies: cfg.TrustedProxies, SecureCookies: secure, HSTS: secure, Metrics: s.metrics, TooLarge: kycvsapi.TooLarge(), Now: now})
	if err != nil {
		return nil, err
	}
	go oauth.NewLogoutSender(cfg.logoutDelivery(), provider, s.metrics, logger).Run(bg)
	clients := oauth.NewClients(s.st, secret).WithFetch(cfg.fetchConfig()).WithClock(now)
	adminSvc := admin.NewService(s.st, secret, clients, keys, kycvsapi.NewAPIKeys(s.st, secret).WithClock(now), now).WithLogouts(provider.Logouts())
	adminHandler, err := wireAdmin(cfg, adminSvc, s.otps, engine, logger, secure, s.metrics)
	if err != nil {
		return nil, err
	}
	s.engine, s.provider = engine, provider
	provider.Register(engine)
	flow.Register(engine)
	api.Register(engine)
	registration.New(registration.Config{Issuer: cfg.Issuer, IPLimit: cfg.RegistrationIPLimit, Logger: logger, Now: now}, adminSvc).Register(engine)
	if err := s.mountPages(ctx, engine, stdout); err != nil {
		return nil, err
	}
	s.handler = adminHandler
	ok = true
	return s, nil
}

// openServer opens the database (migrating it, or checking that it was
// migrated) and makes the server around it, with the pool's metrics
// registered. bg is the context of the server's background work, which
// close cancels.
func openServer(ctx context.Context, cfg serveConfig, logger *slog.Logger) (*server, context.Context, error) {
	st, err := openStore(ctx, cfg.DatabaseURL, cfg.Migrate)
	if err != nil {
		return nil, nil, err
	}
	if err := st.SetMaxConns(cfg.DatabaseMaxConns); err != nil {
		st.Close()
		return nil, nil, err
	}
	if !cfg.Migrate {
		if err := checkSchema(ctx, st); err != nil {
			st.Close()
			return nil, nil, err
		}
	}
	bg, cancel := context.WithCancel(context.Background())
	s := &server{cfg: cfg, logger: logger, st: st, cancel: cancel, metrics: web.NewMetrics()}
	if db, err := st.DB(); err == nil {
		s.metrics.RegisterDB("kycvs", db)
	}
	s.metrics.RegisterDBCounts(st.Counts)
	return s, bg, nil
}

// startKeys loads the signing keys, making the first ones in an empty
// database, and reloads them every oauth.KeyRefreshInterval until bg ends.
func (s *server) startKeys(ctx, bg context.Context) (*oauth.Keys, error) {
	keys, err := oauth.NewKeys(s.st, []byte(s.cfg.Secret))
	if err != nil {
		return nil, err
	}
	// A key that stops signing stays published until everything it signed
	// has expired.
	keys.WithClock(s.cfg.clock()).WithRetireGrace(retireGrace(s.cfg.lifetimes().IDTokenTTL))
	if err := keys.Ensure(ctx); err != nil {
		return nil, err
	}
	go keys.Refresh(bg, oauth.KeyRefreshInterval, func(err error) { s.logger.Error("reload signing keys", "err", err) })
	return keys, nil
}

// startTallies writes the OTP tallies the store counts in memory every
// cfg.tallyFlush, until bg ends or stopTallies; a failed write is logged
// and its counts wait for the next.
func (s *server) startTallies(bg context.Context) {
	ctx, stop := context.WithCancel(bg)
	done := make(chan struct{})
	s.stopFlushes, s.flushesDone = stop, done
	go func() {
		defer close(done)
		s.st.RunOTPTallies(ctx, s.cfg.tallyFlush, func(err error) { s.logger.Warn("OTP tallies not written", "err", err) })
	}()
}

// stopTallies ends the flushes and writes what was counted since the
// last one, within talliesShutdown. listenAndServe calls it once the last
// request and SMS are done; close calls it again, with nothing left to
// write after a graceful stop.
func (s *server) stopTallies() {
	if s.stopFlushes == nil {
		return
	}
	s.stopFlushes()
	<-s.flushesDone
	ctx, cancel := context.WithTimeout(context.Background(), talliesShutdown)
	defer cancel()
	if err := s.st.FlushOTPTallies(ctx); err != nil {
		s.logger.Warn("OTP tallies not written at shutdown", "err", err)
	}
}

// talliesShutdown bounds the last write of the OTP tallies at shutdown,
// after the requests' 10 seconds: one INSERT when the database answers.
const talliesShutdown = 5 * time.Second

// newOTPs is the one OTP service for every channel that sends codes (the
// sign-in pages, the KYC-VS compatible API, the admin console, /me), so
// they share its policy and send counters; its SMS are timed.
func (s *server) newOTPs() (*otp.Service, error) {
	sender, err := newSender(s.cfg, s.logger)
	if err != nil {
		return nil, err
	}
	return otp.New(otp.Config{
		Secret:      []byte(s.cfg.Secret),
		Limits:      s.cfg.otpLimits(),
		ServiceName: "kycvs",
		WebOTPHost:  issuerHost(s.cfg.Issuer),
		Metrics:     s.metrics,
		Now:         s.cfg.clock(),
	}, s.st, timedSender{sender, s.metrics}), nil
}

// newSignIn builds the sign-in and consent pages and the OpenID provider
// that sends people to them and takes them back.
func (s *server) newSignIn(keys *oauth.Keys, registry *claims.Registry, pairwise *claims.Pairwise) (*consent.Flow, *oauth.Provider, error) {
	cfg, secret := s.cfg, []byte(s.cfg.Secret)
	flow, err := consent.New(consent.Config{
		SessionTTL:    cfg.SessionTTL,
		SecureCookies: cfg.secure(),
		CSRFKey:       secrets.Derive(secret, secrets.CSRF),
		FinishURL:     oauth.ResumeURL,
		Logger:        s.logger,
		Now:           cfg.clock(),
	}, s.st, registry, s.otps)
	if err != nil {
		return nil, nil, err
	}
	provider, err := oauth.New(oauth.Config{
		Issuer:      cfg.Issuer,
		Secret:      secret,
		Lifetimes:   cfg.lifetimes(),
		LoginURL:    flow.LoginURL,
		NewLoginURL: flow.NewLoginURL,
		Assurance:   claims.Assurance{TrustFramework: cfg.TrustFramework, RegistryName: cfg.RegistryName},
		Logger:      s.logger,
		Metrics:     s.metrics,
		RequirePAR:  cfg.RequirePAR,
		DPoPNonce:   cfg.DPoPNonce,
		JWKSFetch:   cfg.fetchConfig(),
		Now:         cfg.clock(),
	}, s.st, keys, registry, pairwise, flow)
	if err != nil {
		return nil, nil, err
	}
	// An approval answers the relying party at once, not through a redirect
	// to the resume URL (kept for form_post and for denials).
	flow.FinishWith(provider)
	return flow, provider, nil
}

// mountPages mounts the person's own page (/me), the public pages, the
// health checks and, in --dev, the way to Demo Airlines.
func (s *server) mountPages(ctx context.Context, engine *gin.Engine, stdout io.Writer) error {
	cfg := s.cfg
	loc, err := time.LoadLocation(cfg.AdminTimeZone)
	if err != nil {
		return err
	}
	// Withdraw on /me revokes the person's grant to the client and tells
	// the client by back-channel logout.
	endGrant := func(ctx context.Context, clientID, beneficiaryID string) error {
		_, err := s.provider.EndGrant(ctx, clientID, beneficiaryID)
		return err
	}
	me.New(me.Config{CSRFKey: secrets.Derive([]byte(cfg.Secret), secrets.CSRF), SecureCookies: cfg.secure(), Grievance: cfg.GrievanceContact, Location: loc, Logger: s.logger, Now: cfg.clock()}, s.st, s.otps, endGrant).Register(engine)
	home.New(home.Config{Retention: cfg.Retention, Lifetimes: cfg.lifetimes(), SessionTTL: cfg.SessionTTL}).Register(engine)
	engine.GET("/healthz", alive)
	engine.GET("/readyz", func(c *gin.Context) { ready(c, s.st) })
	if cfg.Dev {
		if s.demo, err = setupDev(ctx, cfg, s.st, stdout); err != nil {
			return err
		}
		// Demo Airlines lives on its own origin; /demo here points there.
		engine.GET(demo.HomePath, func(c *gin.Context) { c.Redirect(http.StatusFound, s.demo.URL+demo.HomePath) })
	}
	return nil
}

func (s *server) close() {
	s.cancel()
	if s.demo != nil {
		s.demo.close()
	}
	s.stopTallies()
	s.st.Close()
}

// listenAndServe serves until ctx ends, then drains for up to 10 seconds:
// the listener closes at once (a load balancer's next connection goes to
// another process), requests in flight are finished, then the metrics
// listener stops, the OTP tallies not yet written are written
// (stopTallies), and newServer's background work and database pool go
// (runServe's close). The metrics listener, unless --metrics-addr is off,
// is opened first, so a taken port fails the start.
func (s *server) listenAndServe(ctx context.Context) error {
	var metrics *http.Server
	if addr := s.cfg.MetricsAddr; addr != "" && addr != "off" {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("--metrics-addr: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", s.metrics.Handler())
		// Profiles for operators, on the same private listener as metrics.
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		metrics = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second}
		go func() {
			if err := metrics.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.logger.Error("metrics listener failed", "err", err)
			}
		}()
		s.logger.Info("metrics listening", "addr", ln.Addr().String())
	}
	hs := &http.Server{
		Addr:              s.cfg.Addr,
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    32 << 10,
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.ListenAndServe() }()
	if s.demo != nil {
		go s.demo.serve()
	}
	s.logger.Info("kycvs listening", "addr", s.cfg.Addr, "issuer", s.cfg.Issuer, "database", redactURL(s.cfg.DatabaseURL))
	select {
	case err := <-errc:
		if metrics != nil {
			metrics.Close()
		}
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	if metrics != nil {
		_ = metrics.Shutdown(shutdown)
	}
	s.otps.Wait()   // console codes still on their way to the gateway
	s.stopTallies() // what the last requests and codes counted
	s.logger.Info("kycvs stopped")
	return nil
}

// redactURL hides a database password in logs.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	return u.Redacted()
}

// newSender builds the SMS sender; --dev defaults to a file and the log.
func newSender(cfg serveConfig, logger *slog.Logger) (otp.Sender, error) {
	if cfg.SMS == "" && cfg.Dev {
		file, err := otp.NewFileSender(filepath.Join(cfg.DataDir, "sms.jsonl"))
		if err != nil {
			return nil, err
		}
		return teeSender{file, otp.NewLogSender(logger)}, nil
	}
	return otp.NewSender(otp.SenderConfig{
		Spec:          cfg.SMS,
		WebhookSecret: []byte(cfg.SMSWebhookSecret),
		Timeout:       cfg.SMSTimeout,
		MaxConcurrent: cfg.SMSMaxConcurrent,
		Logger:        logger,
	})
}

// timedSender times every SMS the sender takes or refuses, for the
// kycvs_sms_send_duration_seconds histogram (the SMS gateway's latency).
type timedSender struct {
	next    otp.Sender
	metrics *web.Metrics
}

func (t timedSender) Send(ctx context.Context, msg otp.SMS) error {
	start := time.Now()
	err := t.next.Send(ctx, msg)
	t.metrics.SMSSent(err == nil, time.Since(start))
	return err
}

// teeSender sends through each sender in turn; the first failure wins.
type teeSender []otp.Sender

func (t teeSender) Send(ctx context.Context, msg otp.SMS) error {
	for _, s := range t {
		if err := s.Send(ctx, msg); err != nil {
			return err
		}
	}
	return nil
}

// cleaner deletes what has expired: sign-ins, sessions, tokens and KYC-VS
// API transactions past their expiry, and OTP send counters older than the
// longest limit window. Every process runs one; deletions are idempotent,
// so several processes on one database do not get in each other's way.
type cleaner struct {
	st       *store.Store
	logger   *slog.Logger
	interval time.Duration
	// retention: disclosures and audit entries about people older than
	// this are deleted too; 0 keeps them.
	retention time.Duration
	now       func() time.Time
}

// run cleans every interval until ctx ends. A failed pass (the database
// is away) is logged and the next one tries again.
func (c *cleaner) run(ctx context.Context) {
	t := time.NewTicker(c.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := c.once(ctx); err != nil && ctx.Err() == nil {
				c.logger.Error("clean-up of expired rows failed", "err", err)
			}
		}
	}
}

// once deletes what has expired by now and reports how many rows went.
func (c *cleaner) once(ctx context.Context) (store.CleanupResult, error) {
	// An hour beyond the longest window, so no clock skew between
	// processes shortens a limit.
	res, err := c.st.DeleteExpired(ctx, c.now(), otp.LongestLimitWindow+time.Hour)
	if err != nil {
		return res, err
	}
	if res != (store.CleanupResult{}) {
		c.logger.Debug("expired rows deleted", "login_requests", res.LoginRequests, "sessions", res.Sessions, "tokens", res.Tokens, "otp_events", res.OTPEvents, "api_transactions", res.APITransactions, "rp_sessions", res.RPSessions)
	}
	if c.retention > 0 {
		old, err := c.st.DeletePersonalData(ctx, c.now().Add(-c.retention))
		if err != nil {
			return res, err
		}
		if old != (store.RetentionResult{}) {
			c.logger.Info("personal data past its retention deleted", "disclosures", old.Disclosures, "audit_entries", old.AuditEntries)
		}
	}
	return res, nil
}

// alive is the liveness check: 200 while the process serves requests. It
// does not look at the database: an orchestrator that restarted every
// process during a database outage would only add a thundering herd of
// restarts to it, and the processes recover on their own (/readyz).
func alive(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// ready is the readiness check: 200 when the database answers within 2
// seconds, 503 otherwise, so a load balancer sends traffic elsewhere.
func ready(c *gin.Context, st *store.Store) {
	c.Header("Cache-Control", "no-store")
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	if err := st.Ping(ctx); err != nil {
		c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "unavailable"})
		return
	}
	c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// wireAdmin mounts the admin console on engine and returns the handler of
// the whole server: the admin API, on an engine of its own (JSON errors,
// registry CSVs larger than the forms' limit), under admin.APIPrefix, and
// engine for everything else.
func wireAdmin(cfg serveConfig, svc *admin.Service, otps *otp.Service, engine *gin.Engine, logger *slog.Logger, secure bool, metrics *web.Metrics) (http.Handler, error) {
	secret := []byte(cfg.Secret)
	loc, err := time.LoadLocation(cfg.AdminTimeZone)
	if err != nil {
		return nil, err
	}
	admin.NewConsole(admin.ConsoleConfig{Secret: secret, SecureCookies: secure, IdleTimeout: cfg.AdminIdleTimeout, Location: loc, Logger: logger, Lockouts: metrics, Now: cfg.clock()}, svc, otps).Register(engine)
	apiEngine, err := web.NewEngine(web.Config{Logger: logger, TrustedProxies: cfg.TrustedProxies, SecureCookies: secure, HSTS: secure, Metrics: metrics, MaxBodyBytes: admin.MaxImportBytes, NotFound: admin.NotFound, Now: cfg.clock()})
	if err != nil {
		return nil, err
	}
	admin.NewAPI(admin.APIConfig{Location: loc, Logger: logger}, svc).Register(apiEngine)
	mux := http.NewServeMux()
	mux.Handle(admin.APIPrefix, apiEngine)
	mux.Handle(admin.APIPrefix+"/", apiEngine)
	mux.Handle("/", engine)
	return mux, nil
}

// logoutDelivery is how back-channel logout tokens are sent: within
// --backchannel-logout-timeout, and to private addresses only with
// --backchannel-logout-allow-private or --dev, retried on the server's
// clock.
func (c serveConfig) logoutDelivery() oauth.LogoutDeliveryConfig {
	d := c.backchannel
	d.Now = c.clock()
	d.Timeout = c.BackchannelTimeout
	d.AllowPrivateAddresses = d.AllowPrivateAddresses || c.BackchannelAllowPrivate || c.Dev
	return d
}

// secure is whether cookies are Secure and HSTS is sent: an https issuer.
func (c serveConfig) secure() bool { return strings.HasPrefix(c.Issuer, "https://") }

// fetchConfig is the limits of fetching documents at URLs clients
// register: jwks_uri and sector_identifier_uri.
func (c serveConfig) fetchConfig() oauth.JWKSFetchConfig {
	f := c.jwksFetch
	if c.JWKSFetchTimeout > 0 {
		f.Timeout = c.JWKSFetchTimeout
	}
	return f
}

// issuerHost is the host (with its port, if any) of the issuer URL, where
// people type their codes; "" when the issuer is not a URL.
func issuerHost(issuer string) string {
	u, err := url.Parse(issuer)
	if err != nil {
		return ""
	}
	return u.Host
}
