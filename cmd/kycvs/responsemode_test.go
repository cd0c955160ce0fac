package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"

	"github.com/kycvs/kycvs/internal/kycvstest"
	"github.com/kycvs/kycvs/oauth"
	"github.com/kycvs/kycvs/store/storetest"
)

// formPostResponse reads the form_post page: where its form posts and
// what (its hidden fields).
func formPostResponse(t *testing.T, p kycvstest.Page) (string, url.Values) {
	t.Helper()
	for _, f := range p.Forms() {
		if p.Status == http.StatusOK && f.ID == "form-post" && f.Method == http.MethodPost {
			return f.Action.String(), f.Hidden
		}
	}
	t.Fatalf("want the form_post page, got %d %s: %s", p.Status, p.Location, p.Body)
	return "", nil
}

// Response modes and RFC 9207: query (implicit or explicit) and form_post
// both work through go-oidc and x/oauth2, every response (success and
// error) carries iss, and discovery says so.
func TestResponseModesAndIssuer(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect, nil)
		id, secret := ts.client(oauth.ClientSpec{})
		r := ts.newRP(id, secret)

		t.Run("discovery", func(t *testing.T) {
			var d struct {
				Modes []string `json:"response_modes_supported"`
				Iss   bool     `json:"authorization_response_iss_parameter_supported"`
			}
			if err := r.provider.Claims(&d); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(d.Modes, []string{"query", "form_post"}) || !d.Iss {
				t.Fatalf("discovery: %+v", d)
			}
		})

		for _, mode := range []string{"", "query"} {
			t.Run("response_mode="+mode, func(t *testing.T) {
				var opts []oauth2.AuthCodeOption
				if mode != "" {
					opts = append(opts, oauth2.SetAuthURLParam("response_mode", mode))
				}
				a := r.authorize(opts...)
				back := ts.newBrowser().signIn(a, "9999900001", "Asha Verma")
				if got := back.Query().Get("iss"); got != ts.URL {
					t.Fatalf("iss: got %q, want %q (%s)", got, ts.URL, back)
				}
				if v := r.finish(a, back); v.Status != 2 {
					t.Fatalf("status %d", v.Status)
				}
			})
		}

		t.Run("response_mode=form_post", func(t *testing.T) {
			a := r.authorize(oauth2.SetAuthURLParam("response_mode", "form_post"))
			b := ts.newBrowser()
			login := b.Get(a.URL)
			otpPage := b.Submit(login, login.URL.Path, url.Values{"mobile": {"9999900002"}, "name": {"Ravi Kumar"}})
			done := b.Submit(otpPage, login.URL.Path+"/otp", url.Values{"otp": {ts.lastOTP("+919999900002")}})
			action, fields := formPostResponse(t, done)
			if action != r.conf.RedirectURL {
				t.Fatalf("form posts to %q, want %q", action, r.conf.RedirectURL)
			}
			if fields.Get("iss") != ts.URL || fields.Get("state") != a.state || fields.Get("code") == "" {
				t.Fatalf("fields: %v", fields)
			}
			if !strings.Contains(done.Body, `<button type="submit"`) {
				t.Fatal("no button for a browser without JavaScript")
			}
			back := &url.URL{RawQuery: fields.Encode()}
			if v := r.finish(a, back); v.Status != 1 {
				t.Fatalf("status %d", v.Status)
			}
		})

		t.Run("errors carry iss and state, in the response mode asked for", func(t *testing.T) {
			a := r.authorize(oauth2.SetAuthURLParam("prompt", "none"))
			back := ts.newBrowser().redirected(ts.newBrowser().Get(a.URL))
			q := back.Query()
			if q.Get("error") != "login_required" || q.Get("iss") != ts.URL || q.Get("state") != a.state {
				t.Fatalf("query error: %s", back)
			}
			a = r.authorize(oauth2.SetAuthURLParam("prompt", "none"), oauth2.SetAuthURLParam("response_mode", "form_post"))
			_, fields := formPostResponse(t, ts.newBrowser().Get(a.URL))
			if fields.Get("error") != "login_required" || fields.Get("iss") != ts.URL || fields.Get("state") != a.state {
				t.Fatalf("form_post error: %v", fields)
			}
			// A code in a fragment would reach every script of the page.
			a = r.authorize(oauth2.SetAuthURLParam("response_mode", "fragment"))
			back = ts.newBrowser().redirected(ts.newBrowser().Get(a.URL))
			if back.Query().Get("error") != "unsupported_response_mode" || back.Query().Get("iss") != ts.URL {
				t.Fatalf("fragment: %s", back)
			}
		})
	})
}

// The form_post page in a real browser under kycvs's Content-Security-
// Policy: it posts itself to the relying party; with JavaScript off, the
// person presses Continue and it arrives the same.
func TestFormPostInBrowser(t *testing.T) {
	br := newChrome(t)
	ts := newTestServer(t, "sqlite", nil)
	rp := newFormPostSite(t)
	id, secret := ts.client(oauth.ClientSpec{RedirectURIs: []string{rp.URL + "/callback"}})
	r := ts.newRP(id, secret)
	r.conf.RedirectURL = rp.URL + "/callback"

	for _, js := range []bool{true, false} {
		t.Run(fmt.Sprintf("javascript=%v", js), func(t *testing.T) {
			a := r.authorize(oauth2.SetAuthURLParam("response_mode", "form_post"))
			tb := br.newTab(t)
			if !js {
				// The sign-in pages need no script either.
				if _, err := chromedp.Call(tb.ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
					t.Fatal(err)
				}
			}
			tb.do(chromedp.Navigate(a.URL))
			tb.signIn(ts, "9999900003", "Meera Nair")
			if !js {
				tb.do(chromedp.WaitVisible(chromedp.CSS("#form-post button")), chromedp.Click(chromedp.CSS("#form-post button")))
			}
			got := rp.wait(t, 20*time.Second)
			if got.Get("state") != a.state || got.Get("iss") != ts.URL {
				t.Fatalf("relying party received %v", got)
			}
			back := &url.URL{RawQuery: got.Encode()}
			if v := r.finish(a, back); v.Status != 0 {
				t.Fatalf("status %d", v.Status)
			}
		})
	}
}

// formPostSite is a relying party's callback that accepts form_post.
type formPostSite struct {
	URL      string
	mu       sync.Mutex
	received []url.Values
}

func newFormPostSite(t *testing.T) *formPostSite {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &formPostSite{URL: "http://" + ln.Addr().String()}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /callback", func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.received = append(s.received, r.PostForm)
		s.mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><title>Callback</title><body data-received="yes">received</body>`)
	})
	hs := &httptest.Server{Listener: ln, Config: &http.Server{Handler: mux}}
	hs.Start()
	t.Cleanup(hs.Close)
	return s
}

// wait returns what the callback receives next, within d, and clears it.
func (s *formPostSite) wait(t *testing.T, d time.Duration) url.Values {
	t.Helper()
	var got url.Values
	for deadline := time.Now().Add(d); got == nil; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the relying party received nothing")
		}
		s.mu.Lock()
		if len(s.received) > 0 {
			got, s.received = s.received[0], s.received[1:]
		}
		s.mu.Unlock()
	}
	b, _ := json.Marshal(got)
	if len(got["code"]) != 1 {
		t.Fatalf("want one code, got %s", b)
	}
	return got
}
