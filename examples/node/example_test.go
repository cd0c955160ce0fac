// Package node_test runs the Node.js example (app.js, openid-client)
// against a real kycvs process.
package node_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
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

// startApp runs script (app.js, fapi2.js) on addr and waits until it
// answers.
func startApp(t *testing.T, node, script, addr string, env ...string) {
	t.Helper()
	startAppAt(t, http.DefaultClient, node, script, "http://"+addr, env...)
}

// startAppAt runs script at base (http or https), probed through client.
func startAppAt(t *testing.T, client *http.Client, node, script, base string, env ...string) {
	t.Helper()
	_, port, _ := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(base, "http://"), "https://"), ":")
	cmd := exec.Command(node, script)
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
			t.Logf("%s output:\n%s", script, out.String())
		}
	})
	for deadline := time.Now().Add(20 * time.Second); ; {
		if resp, err := client.Get(base + "/"); err == nil {
			resp.Body.Close()
			return
		}
		select {
		case <-exited:
			t.Fatalf("%s exited:\n%s", script, out.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer within 20s:\n%s", script, out.String())
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
	startApp(t, node, "app.js", addr, "KYCVS_ISSUER="+kv.URL, "CLIENT_ID="+c.ID, "CLIENT_SECRET="+c.Secret)

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

// The example registered by dynamic client registration (register.js,
// openid-client's dynamicClientRegistration with an initial access token)
// instead of by an admin, then verifying a person with what it got.
func TestNodeDynamicRegistrationAgainstKycvs(t *testing.T) {
	node := nodePath(t)
	kv := kycvstest.Start(t)
	addr := kycvstest.FreeAddr(t)
	base := "http://" + addr
	cmd := exec.Command(node, "register.js")
	cmd.Env = append(os.Environ(), "KYCVS_ISSUER="+kv.URL, "BASE_URL="+base, "INITIAL_ACCESS_TOKEN="+kv.InitialAccessToken(1))
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("register.js: %v\n%s%s", err, out, stderr)
	}
	var c struct {
		ID                string `json:"client_id"`
		Secret            string `json:"client_secret"`
		RegistrationToken string `json:"registration_access_token"`
		AuthMethod        string `json:"token_endpoint_auth_method"`
	}
	if err := json.Unmarshal(out, &c); err != nil || c.ID == "" || c.Secret == "" || c.RegistrationToken == "" || c.AuthMethod != "client_secret_post" {
		t.Fatalf("register.js printed %s: %v", out, err)
	}
	startApp(t, node, "app.js", addr, "KYCVS_ISSUER="+kv.URL, "CLIENT_ID="+c.ID, "CLIENT_SECRET="+c.Secret)
	p := kycvstest.NewBrowser(t).SignIn(kv, base+"/login", "9999900001", "Asha Verma")
	if want := `data-status="2">Vaccination status: fully vaccinated, verified by kycvs.`; p.Status != http.StatusOK || !strings.Contains(p.Body, want) {
		t.Fatalf("got %d %s: %s", p.Status, p.URL, p.Body)
	}
}

// The FAPI 2.0 example (fapi2.js) against a real kycvs process: a client
// made with --profile fapi2 and the example's own public key, PAR with
// private_key_jwt and a DPoP proof (kycvs asks for a nonce first), the iss
// check, a DPoP-bound token and userinfo through it. The example serves
// https, as a fapi2 client's redirect URI must be.
func TestNodeFAPI2ExampleAgainstKycvs(t *testing.T) {
	node := nodePath(t)
	kv := kycvstest.Start(t)
	addr := kycvstest.FreeAddr(t)
	base := "https://" + addr
	dir := t.TempDir()
	certFile, keyFile, trusting := selfSigned(t, dir)
	priv, pub := filepath.Join(dir, "private.jwk"), filepath.Join(dir, "public.jwks.json")
	if out, err := exec.Command(node, "fapi2.js", "--new-key", priv, pub).CombinedOutput(); err != nil {
		t.Fatalf("fapi2.js --new-key: %v\n%s", err, out)
	}
	c := kv.CreateClient("Gov Air", []string{base + "/callback"}, "--profile", "fapi2", "--jwks", pub)
	if c.Secret != "" {
		t.Fatal("a fapi2 client got a secret")
	}
	startAppAt(t, trusting, node, "fapi2.js", base, "KYCVS_ISSUER="+kv.URL, "CLIENT_ID="+c.ID, "PRIVATE_JWK_FILE="+priv,
		"TLS_CERT_FILE="+certFile, "TLS_KEY_FILE="+keyFile)
	browser := func() *kycvstest.Browser {
		b := kycvstest.NewBrowser(t)
		b.Client.Transport = trusting.Transport
		return b
	}
	p := browser().SignIn(kv, base+"/login", "9999900001", "Asha Verma")
	want := `data-status="2" data-dpop-bound="true">Vaccination status: fully vaccinated, verified by kycvs.`
	if p.Status != http.StatusOK || !strings.HasPrefix(p.URL.String(), base+"/callback") || !strings.Contains(p.Body, want) {
		t.Fatalf("got %d %s: %s", p.Status, p.URL, p.Body)
	}
	t.Run("declined", func(t *testing.T) {
		p := browser().Decline(base + "/login")
		if p.Status != http.StatusOK || !strings.Contains(p.Body, "You did not share your vaccination status") {
			t.Fatalf("got %d %s: %s", p.Status, p.URL, p.Body)
		}
	})
}

// selfSigned writes a certificate and key for 127.0.0.1 into dir and
// returns their files and a client that trusts the certificate.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, client *http.Client) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
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
