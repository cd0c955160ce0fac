// Package kycvstest runs a real kycvs for the tests of code that integrates
// with it from outside, such as the examples: it builds cmd/kycvs from this
// module, prepares a fresh SQLite database with the demo registry through
// the command line (`migrate up`, `registry import`), starts `kycvs serve`
// on a loopback port as its own process, and registers clients with
// `clients create`. Nothing of the server's wiring is repeated here: the
// process is the binary an operator runs.
//
// Browser plays a person without JavaScript: cookies kept, redirects
// followed, a page's forms filled with their hidden fields; its SignIn
// reads the OTP from the SMS file.
//
// What every package's tests share lives here too: Browser, which drives
// their pages; Clock, a clock advanced by hand; and Inbox, an SMS gateway
// that keeps what it is sent.
package kycvstest

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kycvs/kycvs/claims"
	"github.com/kycvs/kycvs/otp"
)

// Server is a running kycvs process.
type Server struct {
	// URL is the issuer, http://127.0.0.1:PORT.
	URL string
	// SMSFile is where the file sender writes every SMS.
	SMSFile string

	t      testing.TB
	bin    string
	env    []string
	stderr *syncBuffer
}

const secret = "kycvstest-secret-0123456789-0123456789-abcdef"

// Start builds and starts kycvs with the demo registry loaded (see
// claims.DemoRegistry) and the per-IP and resend limits off, and stops it
// when the test ends. It fails the test if any step fails.
func Start(t testing.TB) *Server {
	t.Helper()
	dir := t.TempDir()
	s := &Server{t: t, bin: filepath.Join(dir, "kycvs"), SMSFile: filepath.Join(dir, "sms.jsonl"), stderr: &syncBuffer{}}
	build := exec.Command(goTool(), "build", "-o", s.bin, "github.com/kycvs/kycvs/cmd/kycvs")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build kycvs: %v\n%s", err, out)
	}
	s.env = append(os.Environ(),
		"KYCVS_DATABASE_URL=sqlite:"+filepath.Join(dir, "kycvs.db"),
		"KYCVS_SECRET="+secret,
	)
	s.run("migrate", "up")
	registry := filepath.Join(dir, "registry.csv")
	if err := os.WriteFile(registry, demoCSV(), 0o600); err != nil {
		t.Fatal(err)
	}
	s.run("registry", "import", registry)

	addr := FreeAddr(t)
	s.URL = "http://" + addr
	cmd := exec.Command(s.bin, "serve", "--addr", addr, "--issuer", s.URL, "--sms", "file:"+s.SMSFile,
		"--ip-limit", "0", "--otp-resend-interval", "0", "--log-level", "warn", "--metrics-addr", "127.0.0.1:0")
	cmd.Env = s.env
	cmd.Stdout = s.stderr
	cmd.Stderr = s.stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start kycvs: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("kycvs log:\n%s", s.stderr.String())
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(s.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		select {
		case err := <-exited:
			t.Fatalf("kycvs exited: %v\n%s", err, s.stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("kycvs did not answer /healthz within 20s\n%s", s.stderr.String())
		}
	}
}

// Client is a registration as `kycvs clients create --json` prints it.
type Client struct {
	ID     string `json:"client_id"`
	Secret string `json:"client_secret"`
}

// CreateClient registers a client through the command line; args are
// extra flags (--public, --scope S, ...).
func (s *Server) CreateClient(name string, redirectURIs []string, args ...string) Client {
	s.t.Helper()
	all := []string{"clients", "create", "--name", name, "--json"}
	for _, u := range redirectURIs {
		all = append(all, "--redirect-uri", u)
	}
	out := s.run(append(all, args...)...)
	var c Client
	if err := json.Unmarshal(out, &c); err != nil || c.ID == "" {
		s.t.Fatalf("clients create printed %s: %v", out, err)
	}
	return c
}

// InitialAccessToken issues an initial access token for dynamic client
// registration through the command line, good for uses registrations.
func (s *Server) InitialAccessToken(uses int) string {
	s.t.Helper()
	out := s.run("clients", "initial-token", "create", "--uses", strconv.Itoa(uses), "--json")
	var tok struct {
		Token string `json:"initial_access_token"`
	}
	if err := json.Unmarshal(out, &tok); err != nil || tok.Token == "" {
		s.t.Fatalf("clients initial-token create printed %s: %v", out, err)
	}
	return tok.Token
}

// LastOTP returns the code last sent to mobile (any form claims accepts).
func (s *Server) LastOTP(mobile string) string {
	s.t.Helper()
	e164, err := claims.NormalizeMobile(mobile)
	if err != nil {
		s.t.Fatal(err)
	}
	msgs, err := otp.ReadSMSFile(s.SMSFile)
	if err != nil {
		s.t.Fatal(err)
	}
	code, ok := otp.LastCode(msgs, e164)
	if !ok {
		s.t.Fatalf("no OTP was sent to %s", e164)
	}
	return code
}

// run runs a kycvs command against the server's database and returns its
// standard output.
func (s *Server) run(args ...string) []byte {
	s.t.Helper()
	cmd := exec.Command(s.bin, args...)
	cmd.Env = s.env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		s.t.Fatalf("kycvs %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// goTool is the go command that runs this test.
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

// FreeAddr returns a loopback address with a port nobody listens on now
// (it may be taken again before the caller listens; tests accept that).
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// demoCSV renders claims.DemoRegistry in the registry CSV format.
func demoCSV() []byte {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.Write([]string{"beneficiary_id", "mobile", "name", "year_of_birth", "vaccine", "dose_number", "total_doses", "dose_date"})
	for _, b := range claims.DemoRegistry() {
		head := []string{b.ID, b.Mobile, b.Name, strconv.Itoa(b.YearOfBirth)}
		if len(b.Doses) == 0 {
			_ = w.Write(append(head, "", "", "", ""))
		}
		for _, d := range b.Doses {
			_ = w.Write(append(head, d.Vaccine, strconv.Itoa(d.DoseNumber), strconv.Itoa(d.TotalDoses), d.DoseDate))
		}
	}
	w.Flush()
	return buf.Bytes()
}

// SignIn loads start (a relying party's link that redirects to kycvs),
// enters mobile and name, then the OTP, and returns the page the relying
// party shows at the end.
func (b *Browser) SignIn(s *Server, start, mobile, name string) Page {
	b.t.Helper()
	login := b.Get(start)
	if !strings.Contains(login.Body, `name="mobile"`) {
		b.t.Fatalf("want kycvs's sign-in page, got %d %s: %s", login.Status, login.URL, login.Body)
	}
	otp := b.Submit(login, login.URL.Path, url.Values{"mobile": {mobile}, "name": {name}})
	if !strings.Contains(otp.Body, `name="otp"`) {
		b.t.Fatalf("want the OTP page, got %d %s: %s", otp.Status, otp.URL, otp.Body)
	}
	return b.Submit(otp, login.URL.Path+"/otp", url.Values{"otp": {s.LastOTP(mobile)}})
}

// Decline loads start and presses Cancel on kycvs's sign-in page, and
// returns the page the relying party shows then.
func (b *Browser) Decline(start string) Page {
	b.t.Helper()
	login := b.Get(start)
	if !strings.Contains(login.Body, `name="mobile"`) {
		b.t.Fatalf("want kycvs's sign-in page, got %d %s: %s", login.Status, login.URL, login.Body)
	}
	return b.Submit(login, login.URL.Path+"/cancel", url.Values{})
}

// syncBuffer collects a process's output.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
