package web

import (
	"database/sql"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics is kycvs's Prometheus registry: HTTP requests by route, method
// and status with their latencies (through the engine's middleware), OTP
// sends and checks by outcome, disclosures by channel and vaccination
// status, the database pool, and the Go runtime and process. Its labels
// carry no personal data: routes are templates (/login/:challenge, never
// the challenge), outcomes and statuses are small fixed sets.
//
// cmd/kycvs makes one, passes it to NewEngine (Config.Metrics) and to the
// packages that count events (they declare the small interfaces they
// need), and serves Handler on a listener of its own. Safe for concurrent
// use.
type Metrics struct {
	reg         *prometheus.Registry
	requests    *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	inFlight    prometheus.Gauge
	otpSends    *prometheus.CounterVec
	lockouts    *prometheus.CounterVec
	otpChecks   *prometheus.CounterVec
	disclosures *prometheus.CounterVec
	smsDuration *prometheus.HistogramVec
	logouts     *prometheus.CounterVec
}

// NewMetrics returns a registry with every kycvs metric and the Go runtime
// and process collectors registered.
func NewMetrics() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kycvs_http_requests_total",
			Help: "HTTP requests answered, by route template, method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "kycvs_http_request_duration_seconds",
			Help: "Time to answer HTTP requests, by route template and method.",
			// From a cached page (~1 ms) to a slow SMS gateway (seconds).
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "method"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "kycvs_http_requests_in_flight",
			Help: "HTTP requests being answered now.",
		}),
		otpSends: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kycvs_otp_sends_total",
			Help: "OTP send attempts by result: sent, failed (the SMS sender refused), busy (all SMS slots taken), limited_ip, limited_mobile, limited_resend, limited_client, error (database).",
		}, []string{"result"}),
		lockouts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kycvs_admin_console_lockouts_total",
			Help: "Admin console sign-ins locked out, by reason: codes (wrong SMS codes), totp (wrong authenticator codes), limit (a mobile's console code limit reached).",
		}, []string{"reason"}),
		otpChecks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kycvs_otp_verifications_total",
			Help: "OTPs checked, by result: ok, wrong, too_many_tries (the wrong code that killed the challenge), expired.",
		}, []string{"result"}),
		disclosures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kycvs_verifications_total",
			Help: "Vaccination status disclosures recorded, by channel (authorize, userinfo, refresh, kycvs-api) and vaccination_status (0, 1, 2, or none when the claim was not asked for).",
		}, []string{"channel", "vaccination_status"}),
		smsDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "kycvs_sms_send_duration_seconds",
			Help: "Time the SMS sender took to accept or refuse one SMS, by result: ok, error (refused, timed out or no free slot).",
			// A gateway answers in tens of milliseconds to seconds; the
			// webhook times out at --sms-timeout (5 s by default).
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"result"}),
		logouts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kycvs_backchannel_logouts_total",
			Help: "Back-channel logout token deliveries by result: delivered, failed (an attempt failed; retried later), dropped (too old, or the client is gone).",
		}, []string{"result"}),
	}
	m.reg.MustRegister(m.requests, m.duration, m.inFlight, m.otpSends, m.lockouts, m.otpChecks, m.disclosures, m.smsDuration, m.logouts,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// RegisterDB adds the connection pool statistics of db (open, in use and
// idle connections, waits for a connection and their total time, ...) as
// the go_sql_* metrics with db_name="name". Call it once per pool.
func (m *Metrics) RegisterDB(name string, db *sql.DB) {
	m.reg.MustRegister(collectors.NewDBStatsCollector(db, name))
}

// RegisterDBCounts adds kycvs_db_statements_total and
// kycvs_db_transactions_total, read from counts (the store's Counts) at
// each scrape. Call it once.
func (m *Metrics) RegisterDBCounts(counts func() (statements, transactions uint64)) {
	m.reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "kycvs_db_statements_total",
			Help: "SQL statements sent to the database (BEGIN and COMMIT not included).",
		}, func() float64 { n, _ := counts(); return float64(n) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "kycvs_db_transactions_total",
			Help: "Database transactions begun.",
		}, func() float64 { _, n := counts(); return float64(n) }),
	)
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// OTPSent counts one OTP send attempt with its result.
func (m *Metrics) OTPSent(result string) { m.otpSends.WithLabelValues(result).Inc() }

// ConsoleLockout counts one admin console sign-in locked out for reason.
func (m *Metrics) ConsoleLockout(reason string) { m.lockouts.WithLabelValues(reason).Inc() }

// OTPChecked counts one OTP checked with its result.
func (m *Metrics) OTPChecked(result string) { m.otpChecks.WithLabelValues(result).Inc() }

// SMSSent times one SMS handed to the sender: ok is whether it accepted it.
func (m *Metrics) SMSSent(ok bool, d time.Duration) {
	result := "ok"
	if !ok {
		result = "error"
	}
	m.smsDuration.WithLabelValues(result).Observe(d.Seconds())
}

// LogoutDelivered counts one back-channel logout delivery outcome.
func (m *Metrics) LogoutDelivered(result string) { m.logouts.WithLabelValues(result).Inc() }

// Disclosed counts one recorded disclosure. status is the disclosed
// vaccination status, or nil when the claim was not part of it.
func (m *Metrics) Disclosed(channel string, status *int) {
	s := "none"
	if status != nil {
		s = strconv.Itoa(*status)
	}
	m.disclosures.WithLabelValues(channel, s).Inc()
}

// middleware counts and times every request. Unmatched paths share the
// route label "unmatched", so scanners cannot grow the label set.
func (m *Metrics) middleware() gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		m.inFlight.Inc()
		defer func() {
			m.inFlight.Dec()
			route := c.FullPath()
			if route == "" {
				route = "unmatched"
			}
			method := c.Request.Method
			switch method {
			case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
			default:
				method = "other"
			}
			m.requests.WithLabelValues(route, method, strconv.Itoa(c.Writer.Status())).Inc()
			m.duration.WithLabelValues(route, method).Observe(time.Since(start).Seconds())
		}()
		c.Next()
	}
}
