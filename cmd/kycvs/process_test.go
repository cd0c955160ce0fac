package main

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// buildKycvs builds this module's kycvs binary into the test's temporary
// directory, so a test can run real server processes.
func buildKycvs(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "kycvs")
	gotool := filepath.Join(runtime.GOROOT(), "bin", "go")
	if p, err := exec.LookPath("go"); err == nil {
		gotool = p
	}
	out, err := exec.Command(gotool, "build", "-o", bin, "github.com/kycvs/kycvs/cmd/kycvs").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// serveProcess is one `kycvs serve` process.
type serveProcess struct {
	t      *testing.T
	Addr   string
	URL    string // http://Addr, where it listens (not necessarily its issuer)
	cmd    *exec.Cmd
	log    *logBuffer
	exited chan struct{}
	err    error // the exit status, once exited is closed
}

// startServe starts `kycvs serve args...` listening on addr, with env
// added to the environment, and waits until /healthz answers. The process
// is interrupted (then killed) when the test ends.
func startServe(t *testing.T, bin, addr string, env []string, args ...string) *serveProcess {
	t.Helper()
	p := launchServe(t, bin, addr, env, args...)
	p.waitHealthy()
	return p
}

// launchServe starts the process without waiting for it.
func launchServe(t *testing.T, bin, addr string, env []string, args ...string) *serveProcess {
	t.Helper()
	p := &serveProcess{t: t, Addr: addr, URL: "http://" + addr, log: &logBuffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(bin, append([]string{"serve", "--addr", addr}, args...)...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.stop(10 * time.Second)
		if t.Failed() {
			t.Logf("kycvs at %s:\n%s", addr, p.log.String())
		}
	})
	return p
}

// waitHealthy waits up to 30 seconds for /healthz to answer 200, and fails
// the test if the process exits first.
func (p *serveProcess) waitHealthy() {
	p.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(p.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-p.exited:
			p.t.Fatalf("kycvs at %s exited: %v\n%s", p.Addr, p.err, p.log.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("kycvs at %s did not answer /healthz in 30s\n%s", p.Addr, p.log.String())
		}
	}
}

// signal sends sig to the process.
func (p *serveProcess) signal(sig os.Signal) {
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatal(err)
	}
}

// stop interrupts the process and kills it if it is not gone within wait;
// it reports whether it exited on its own.
func (p *serveProcess) stop(wait time.Duration) bool {
	select {
	case <-p.exited:
		return true
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return true
	case <-time.After(wait):
		_ = p.cmd.Process.Kill()
		<-p.exited
		return false
	}
}
