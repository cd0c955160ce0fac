package loadtest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// runner is one load run under way.
type runner struct {
	cfg       Config
	transport *http.Transport
	issuer    *url.URL
	redirect  *url.URL
	provider  *oidc.Provider
	verifier  *oidc.IDTokenVerifier
	oauth2    *oauth2.Config

	hist      map[string]*Histogram // read-only map; the histograms are concurrent
	completed atomic.Uint64

	mu      sync.Mutex
	errs    map[string]uint64
	example map[string]string
}

type virtualUser struct {
	User
	inbox *Inbox
}

func (r *runner) record(step string, since time.Time) { r.hist[step].Record(time.Since(since)) }

func (r *runner) recordError(err error) {
	kind, detail := "other", err.Error()
	var fe *flowError
	if errors.As(err, &fe) {
		kind, detail = fe.step+": "+fe.kind, fe.detail
	} else if errors.Is(err, context.DeadlineExceeded) {
		kind = "run deadline: a flow was still running"
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs[kind]++
	if _, ok := r.example[kind]; !ok {
		if len(detail) > 300 {
			detail = detail[:300] + "..."
		}
		r.example[kind] = detail
	}
}

func (r *runner) errorCount() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	var n uint64
	for _, c := range r.errs {
		n += c
	}
	return n
}

// Run performs one load run and returns its measurements. It fails before
// the first flow when the configuration is bad, discovery cannot be read,
// or discovery names an endpoint that is not on loopback; failed flows are
// counted in the result, not returned. When ctx ends, flows under way are
// abandoned and the result, marked Interrupted, covers what finished.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	cfg.defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := &runner{
		cfg:       cfg,
		transport: newTransport(len(cfg.Users)),
		hist:      make(map[string]*Histogram, len(Steps)),
		errs:      make(map[string]uint64),
		example:   make(map[string]string),
	}
	defer r.transport.CloseIdleConnections()
	for _, s := range Steps {
		r.hist[s] = new(Histogram)
	}
	r.issuer, _ = checkLoopbackURL("issuer", cfg.Issuer)
	r.redirect, _ = checkLoopbackURL("redirect URI", cfg.RedirectURI)

	// The relying party's back-channel client: token endpoint, userinfo,
	// discovery and keys. go-oidc and oauth2 find it in the context.
	api := &http.Client{Transport: r.transport, Timeout: cfg.RequestTimeout}
	ctx = oidc.ClientContext(ctx, api)
	if err := r.discover(ctx); err != nil {
		return nil, err
	}

	users := make([]*virtualUser, len(cfg.Users))
	for i, u := range cfg.Users {
		users[i] = &virtualUser{User: u, inbox: cfg.Gateway.Inbox(u.Mobile)}
	}

	if cfg.Warmup > 0 {
		warmed := time.Now().Add(cfg.Warmup)
		warmCtx, cancel := context.WithDeadline(ctx, warmed.Add(cfg.RequestTimeout+cfg.OTPTimeout))
		r.drive(ctx, warmCtx, users, warmed, nil)
		cancel()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("loadtest: interrupted during the warm-up, before anything was measured: %w", ctx.Err())
		}
		r.forgetWarmup()
	}

	before, err := r.snapshot()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	deadline := start.Add(cfg.Duration)
	// The hard bound: flows under way at the deadline get as long as one
	// step can take to finish, then are abandoned and counted as errors.
	runCtx, cancel := context.WithDeadline(ctx, deadline.Add(cfg.RequestTimeout+cfg.OTPTimeout))
	defer cancel()

	stopProgress := r.progress(start)
	var tickets *atomic.Int64
	if cfg.Flows > 0 {
		tickets = new(atomic.Int64)
	}
	r.drive(ctx, runCtx, users, deadline, tickets)
	elapsed := time.Since(start)
	stopProgress()
	after, err := r.snapshot()
	if err != nil {
		return nil, err
	}
	return r.result(elapsed, before, after, ctx.Err() != nil), nil
}

// drive runs every user's flows, one after the other, until deadline (or
// until tickets, when not nil, counts past cfg.Flows), recording them; it
// returns when every user's last flow has ended. runCtx bounds the flows
// under way at the deadline; ctx's end is an interruption.
func (r *runner) drive(ctx, runCtx context.Context, users []*virtualUser, deadline time.Time, tickets *atomic.Int64) {
	var wg sync.WaitGroup
	for _, u := range users {
		wg.Go(func() {
			for time.Now().Before(deadline) && ctx.Err() == nil {
				if tickets != nil && tickets.Add(1) > int64(r.cfg.Flows) {
					return
				}
				err := r.verify(runCtx, u)
				switch {
				case err == nil:
					r.completed.Add(1)
				case ctx.Err() != nil:
					return // interrupted: not the server's failure
				default:
					r.recordError(err)
				}
			}
		})
	}
	wg.Wait()
}

// forgetWarmup drops what the warm-up's completed flows recorded: their
// count and their steps' times. Failures stay: one is never hidden.
func (r *runner) forgetWarmup() {
	r.completed.Store(0)
	for _, s := range Steps {
		r.hist[s] = new(Histogram)
	}
}

// discover reads the discovery document, refuses endpoints off loopback,
// and prepares the relying party's OAuth2 and ID token verifier.
func (r *runner) discover(ctx context.Context) error {
	dctx, cancel := context.WithTimeout(ctx, r.cfg.RequestTimeout)
	defer cancel()
	p, err := oidc.NewProvider(dctx, r.cfg.Issuer)
	if err != nil {
		return fmt.Errorf("loadtest: discovery at %s: %w", r.cfg.Issuer, err)
	}
	var meta struct {
		JWKS string `json:"jwks_uri"`
	}
	if err := p.Claims(&meta); err != nil {
		return fmt.Errorf("loadtest: discovery: %w", err)
	}
	ep := p.Endpoint()
	for what, u := range map[string]string{
		"authorization endpoint": ep.AuthURL, "token endpoint": ep.TokenURL,
		"userinfo endpoint": p.UserInfoEndpoint(), "jwks_uri": meta.JWKS,
	} {
		if _, err := checkLoopbackURL("discovery: "+what, u); err != nil {
			return fmt.Errorf("loadtest: %w", err)
		}
	}
	// client_secret_basic, as a confidential relying party registered
	// without an auth method uses it (RFC 6749 2.3.1).
	ep.AuthStyle = oauth2.AuthStyleInHeader
	r.provider = p
	r.verifier = p.Verifier(&oidc.Config{ClientID: r.cfg.ClientID})
	r.oauth2 = &oauth2.Config{
		ClientID:     r.cfg.ClientID,
		ClientSecret: r.cfg.ClientSecret,
		RedirectURL:  r.cfg.RedirectURI,
		Endpoint:     ep,
		Scopes:       r.cfg.Scopes,
	}
	return nil
}

// progress prints a line every ProgressEvery until the returned function
// is called.
func (r *runner) progress(start time.Time) (stop func()) {
	if r.cfg.Progress == nil {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(r.cfg.ProgressEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case now := <-t.C:
				s := now.Sub(start).Seconds()
				n := r.completed.Load()
				fmt.Fprintf(r.cfg.Progress, "%5.0fs  %7d flows  %7.1f/s  %d errors\n", s, n, float64(n)/s, r.errorCount())
			}
		}
	}()
	return func() { close(done); <-finished }
}

// snapshot is the CPU counters at one moment.
type snapshot struct {
	sql     dbCounts
	server  time.Duration
	db      time.Duration
	self    time.Duration
	machine machineCPU
	hasMach bool
}

func (r *runner) snapshot() (snapshot, error) {
	s := snapshot{self: selfCPU()}
	if r.cfg.ServerMetricsURL != "" {
		s.sql = readDBCounts(context.Background(), &http.Client{}, r.cfg.ServerMetricsURL)
	}
	s.machine, s.hasMach = readMachineCPU()
	if r.cfg.ServerPID != 0 {
		cpu, err := ProcessCPU(r.cfg.ServerPID)
		if err != nil {
			return s, fmt.Errorf("loadtest: server process %d: %w", r.cfg.ServerPID, err)
		}
		s.server = cpu
	}
	if r.cfg.DBProcessName != "" {
		cpu, n, err := ProcessesCPU(r.cfg.DBProcessName)
		if err != nil {
			return s, fmt.Errorf("loadtest: database processes: %w", err)
		}
		if n == 0 {
			return s, fmt.Errorf("loadtest: no process named %q on this machine", r.cfg.DBProcessName)
		}
		s.db = cpu
	}
	return s, nil
}

// Result is what a run measured.
type Result struct {
	Issuer         string        `json:"issuer"`
	Users          int           `json:"users"`
	ElapsedSeconds float64       `json:"elapsed_seconds"`
	WarmupSeconds  float64       `json:"warmup_seconds"`
	Completed      uint64        `json:"flows_completed"`
	Failed         uint64        `json:"flows_failed"`
	FlowsPerSecond float64       `json:"flows_per_second"`
	Errors         []ErrorCount  `json:"errors"`
	Steps          []StepStats   `json:"steps"`
	Server         *ProcessStats `json:"server,omitempty"`
	Database       *ProcessStats `json:"database,omitempty"`
	SQL            *SQLStats     `json:"sql,omitempty"`
	Tool           ProcessStats  `json:"load_tool"`
	Machine        *MachineStats `json:"machine,omitempty"`
	SMS            SMSCounts     `json:"sms"`
	Interrupted    bool          `json:"interrupted"`
}

// ErrorCount is one kind of failure ("step: kind"), how often it happened,
// and the detail of the first one.
type ErrorCount struct {
	Kind    string `json:"kind"`
	Count   uint64 `json:"count"`
	Example string `json:"example"`
}

// StepStats is the latency of one step over the successful ones, in
// milliseconds.
type StepStats struct {
	Step   string  `json:"step"`
	Count  uint64  `json:"count"`
	MeanMs float64 `json:"mean_ms"`
	P50Ms  float64 `json:"p50_ms"`
	P90Ms  float64 `json:"p90_ms"`
	P99Ms  float64 `json:"p99_ms"`
	MaxMs  float64 `json:"max_ms"`
}

// ProcessStats is one process's CPU time over the run, per completed
// verification, and (for the server) its resident memory at the end.
type ProcessStats struct {
	Name            string  `json:"name,omitempty"`
	PID             int     `json:"pid,omitempty"`
	CPUSeconds      float64 `json:"cpu_seconds"`
	CPUMsPerFlow    float64 `json:"cpu_ms_per_flow"`
	CPUCoresAverage float64 `json:"cpu_cores_average"`
	Memory          *Memory `json:"memory,omitempty"`
	MemoryError     string  `json:"memory_error,omitempty"`
}

// MachineStats is the whole machine's CPU use over the run: the server,
// the database, the load tool and anything else. OtherCPUSeconds is what
// none of the measured processes used (other work on the machine, the
// kernel outside them); a large value means the run was disturbed.
// Kernel is the share of the busy time the kernel spent (system calls,
// interrupts, the loopback network), which grows with every crossing
// between processes; Steal, of all CPU time, is what a hypervisor gave to
// other guests, which a busy host shows.
type MachineStats struct {
	CPUs            int     `json:"cpus"`
	Busy            float64 `json:"busy_fraction"` // of all CPUs together
	Kernel          float64 `json:"kernel_fraction"`
	Steal           float64 `json:"steal_fraction"`
	BusyCPUSeconds  float64 `json:"busy_cpu_seconds"`
	OtherCPUSeconds float64 `json:"other_cpu_seconds"`
}

// SMSCounts is what the gateway received over the whole run, warm-up
// included.
type SMSCounts struct {
	Received     uint64 `json:"received"`
	BadSignature uint64 `json:"bad_signature"`
	Unknown      uint64 `json:"unknown_recipient"`
	NoCode       uint64 `json:"no_code"`
	Malformed    uint64 `json:"malformed"`
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func (r *runner) result(elapsed time.Duration, before, after snapshot, interrupted bool) *Result {
	res := &Result{
		Issuer:         r.cfg.Issuer,
		Users:          len(r.cfg.Users),
		ElapsedSeconds: elapsed.Seconds(),
		Completed:      r.completed.Load(),
		WarmupSeconds:  r.cfg.Warmup.Seconds(),
		Interrupted:    interrupted,
	}
	res.FlowsPerSecond = float64(res.Completed) / elapsed.Seconds()
	res.Errors, res.Failed = r.errorCounts()
	for _, s := range Steps {
		h := r.hist[s]
		res.Steps = append(res.Steps, StepStats{
			Step: s, Count: h.Count(), MeanMs: ms(h.Mean()),
			P50Ms: ms(h.Quantile(0.50)), P90Ms: ms(h.Quantile(0.90)),
			P99Ms: ms(h.Quantile(0.99)), MaxMs: ms(h.Quantile(1)),
		})
	}
	r.cpuResult(res, elapsed, before, after)
	if r.cfg.ServerMetricsURL != "" {
		res.SQL = sqlStats(before.sql, after.sql, res.Completed)
	}
	st := r.cfg.Gateway.Stats()
	res.SMS = SMSCounts{
		Received: st.Received.Load(), BadSignature: st.BadSignature.Load(),
		Unknown: st.Unknown.Load(), NoCode: st.NoCode.Load(), Malformed: st.Malformed.Load(),
	}
	return res
}

// errorCounts are the failed verifications by kind, the most frequent
// first, and their total.
func (r *runner) errorCounts() ([]ErrorCount, uint64) {
	var errs []ErrorCount
	var failed uint64
	r.mu.Lock()
	for k, n := range r.errs {
		errs = append(errs, ErrorCount{Kind: k, Count: n, Example: r.example[k]})
		failed += n
	}
	r.mu.Unlock()
	sort.Slice(errs, func(i, j int) bool {
		a, b := errs[i], errs[j]
		return a.Count > b.Count || (a.Count == b.Count && a.Kind < b.Kind)
	})
	return errs, failed
}

// cpuResult fills res's CPU figures between before and after: the load
// tool's, the server's and the database's when they are watched, and the
// whole machine's with what none of them accounts for.
func (r *runner) cpuResult(res *Result, elapsed time.Duration, before, after snapshot) {
	tool := after.self - before.self
	res.Tool = processCPU(tool, elapsed, res.Completed)
	res.Tool.PID = osPID()
	if r.cfg.ServerPID != 0 {
		ps := processCPU(after.server-before.server, elapsed, res.Completed)
		ps.PID = r.cfg.ServerPID
		if m, err := ProcessMemory(r.cfg.ServerPID); err != nil {
			ps.MemoryError = err.Error()
		} else {
			ps.Memory = &m
		}
		res.Server = &ps
	}
	measured := tool
	if r.cfg.DBProcessName != "" {
		cpu := after.db - before.db
		ps := processCPU(cpu, elapsed, res.Completed)
		ps.Name = r.cfg.DBProcessName
		res.Database = &ps
		measured += cpu
	}
	if res.Server != nil {
		measured += after.server - before.server
	}
	if before.hasMach && after.hasMach && after.machine.total > before.machine.total {
		d := after.machine.since(before.machine)
		busy := time.Duration(d.busy) * time.Second / clockTicks
		res.Machine = &MachineStats{
			CPUs:            runtime.NumCPU(),
			Busy:            float64(d.busy) / float64(d.total),
			Steal:           float64(d.steal) / float64(d.total),
			BusyCPUSeconds:  busy.Seconds(),
			OtherCPUSeconds: max(busy-measured, 0).Seconds(),
		}
		if d.busy > 0 {
			res.Machine.Kernel = float64(d.kernel) / float64(d.busy)
		}
	}
}

// processCPU is a process's CPU time over a run of elapsed: in all, per
// completed verification, and in cores on average.
func processCPU(cpu, elapsed time.Duration, completed uint64) ProcessStats {
	perFlow := 0.0
	if completed != 0 {
		perFlow = ms(cpu) / float64(completed)
	}
	return ProcessStats{CPUSeconds: cpu.Seconds(), CPUMsPerFlow: perFlow, CPUCoresAverage: cpu.Seconds() / elapsed.Seconds()}
}
