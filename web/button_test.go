package web_test

import (
	"crypto/sha512"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/kycvs/kycvs/web"
)

// pinnedButtonIntegrity is the published hash of button v1. Version 1 is
// out in relying parties' pages, pinned by this hash: a change to the
// script breaks them. Put changes in a new version (static/button/v2/,
// a new ButtonPath) instead of editing v1.
const pinnedButtonIntegrity = "sha384-3Qi1rE/G8N1FMXMKc2dopZPizxio70Mm3xnrU44FG8hHTue8nCN03XCZ11NfVfNm"

func TestButtonScript(t *testing.T) {
	e, _ := newTestEngine(t, nil)
	w := do(e, httptest.NewRequest(http.MethodGet, web.ButtonPath, nil))
	if w.Code != http.StatusOK {
		t.Fatalf("GET %s: %d", web.ButtonPath, w.Code)
	}
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/javascript") {
		t.Errorf("Content-Type = %q", ct)
	}
	// crossorigin="anonymous" loads need it to check the integrity.
	if got := w.Header().Get("Access-Control-Allow-Origin"); got != "*" {
		t.Errorf("Access-Control-Allow-Origin = %q, want *", got)
	}
	if w.Header().Get("Access-Control-Allow-Credentials") != "" {
		t.Error("static files must not allow credentials")
	}
	sum := sha512.Sum384(w.Body.Bytes())
	served := "sha384-" + base64.StdEncoding.EncodeToString(sum[:])
	if served != web.ButtonIntegrity() {
		t.Fatalf("served file hashes to %s, ButtonIntegrity says %s", served, web.ButtonIntegrity())
	}
	if served != pinnedButtonIntegrity {
		t.Fatalf("button v1 changed: it hashes to %s, published %s. Published versions must not change; add a new version", served, pinnedButtonIntegrity)
	}
}

// The integration guide publishes the hash: every sha384 value in it is the
// script's, so the docs cannot go stale.
func TestDocsPublishButtonIntegrity(t *testing.T) {
	doc, err := os.ReadFile("../docs/integration.md")
	if err != nil {
		t.Fatal(err)
	}
	found := regexp.MustCompile(`sha384-[A-Za-z0-9+/=]+`).FindAllString(string(doc), -1)
	if len(found) < 3 {
		t.Fatalf("docs/integration.md shows the integrity %d times, want it in both snippets and the reference", len(found))
	}
	for _, h := range found {
		if h != web.ButtonIntegrity() {
			t.Errorf("docs/integration.md has %s, the script is %s", h, web.ButtonIntegrity())
		}
	}
	if !strings.Contains(string(doc), web.ButtonPath) {
		t.Errorf("docs/integration.md does not name %s", web.ButtonPath)
	}
}
