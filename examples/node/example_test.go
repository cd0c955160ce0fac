// Package node_test runs the Node.js example (app.js, openid-client)
// against a real kycvs process.
package node_test

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kycvs/kycvs/internal/kycvstest"
)

// nodePath finds node with the example's dependencies installed, or skips;
// in CI (CI=true) both are required.
func nodePath(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(filepath.Join("node_modules", "openid-client", "package.json"))
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("the Node.js example needs node and `npm ci` in examples/node: %v", err)
		}
		t.Skipf("Node.js example skipped: %v (install node, run npm ci in examples/node)", err)
	}
	return node
}

// startApp runs app.js on addr and waits until it answers.
func startApp(t *testing.T, node, addr string, env ...string) {
	t.Helper()
	_, port, _ := strings.Cut(addr, ":")
	base := "http://" + addr
	cmd := exec.Command(node, "app.js")
	cmd.Env = append(os.Environ(), append(env, "PORT="+port, "BASE_URL="+base)...)
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("app.js output:\n%s", out.String())
		}
	})
	for deadline := time.Now().Add(20 * time.Second); ; {
		if resp, err := http.Get(base + "/"); err == nil {
			resp.Body.Close()
			return
		}
		select {
		case <-exited:
			t.Fatalf("app.js exited:\n%s", out.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("app.js did not answer within 20s:\n%s", out.String())
		}
	}
}

// The example against a real kycvs process: every status, a decline, and
// an answer that belongs to no flow.
func TestNodeExampleAgainstKycvs(t *testing.T) {
	node := nodePath(t)
	kv := kycvstest.Start(t)
	addr := kycvstest.FreeAddr(t)
	base := "http://" + addr
	c := kv.CreateClient("Example Venue", []string{base + "/callback"})
	startApp(t, node, addr, "KYCVS_ISSUER="+kv.URL, "CLIENT_ID="+c.ID, "CLIENT_SECRET="+c.Secret)

	for _, tc := range []struct {
		mobile, name string
		want         string
	}{
		{"9999900001", "Asha Verma", `data-status="2">Vaccination status: fully vaccinated, verified by kycvs.`},
		{"9999900002", "Ravi Kumar", `data-status="1">Vaccination status: partially vaccinated, verified by kycvs.`},
		{"9999900003", "Meera Nair", `data-status="0">Vaccination status: not vaccinated, verified by kycvs.`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := kycvstest.NewBrowser(t).SignIn(kv, base+"/login", tc.mobile, tc.name)
			if p.Status != http.StatusOK || !strings.HasPrefix(p.URL.String(), base+"/callback") || !strings.Contains(p.Body, tc.want) {
				t.Fatalf("got %d %s: %s", p.Status, p.URL, p.Body)
			}
		})
	}
	t.Run("declined", func(t *testing.T) {
		p := kycvstest.NewBrowser(t).Decline(base + "/login")
		if p.Status != http.StatusOK || !strings.Contains(p.Body, "You did not share your vaccination status") {
			t.Fatalf("got %d %s: %s", p.Status, p.URL, p.Body)
		}
	})
	t.Run("answer without a flow", func(t *testing.T) {
		p := kycvstest.NewBrowser(t).Get(base + "/callback?code=stolen&state=guessed")
		if p.Status != http.StatusBadRequest || !strings.Contains(p.Body, "does not belong to a check started here") {
			t.Fatalf("got %d: %s", p.Status, p.Body)
		}
	})
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
