package kycvstest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// formsPage has the forms Browser must tell apart.
const formsPage = `<!doctype html><title>forms</title>
<input type="hidden" name="stray" value="outside every form">
<form method="post" action="/sign-in">
<input type="hidden" name="csrf_token" value="tok&#43;en&amp;1">
<input name="mobile" value="typed">
<button>Go</button></form>
<form method="post" action="/withdraw"><input type=hidden name=grant value=g1><input type="HIDDEN" name="csrf_token" value="t2"></form>
<form method="post" action="/withdraw"><input type="hidden" name="grant" value="g2"></form>
<form action="search"><input type="hidden" name="page" value="2"></form>
<form method="POST" id="self"><input type="hidden" name="here" value="1"/></form>
`

// echo serves formsPage at GET /forms/, answers every other request with its
// method, path and form, and redirects /go with a 303 to /forms/.
func echo(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodGet && r.URL.Path == "/forms/":
			http.SetCookie(w, &http.Cookie{Name: "seen", Value: "yes", Path: "/"})
			fmt.Fprint(w, formsPage)
		case r.URL.Path == "/go":
			http.Redirect(w, r, "/forms/", http.StatusSeeOther)
		default:
			_ = r.ParseForm()
			c, _ := r.Cookie("seen")
			fmt.Fprintf(w, "%s %s %s cookie=%v", r.Method, r.URL.Path, r.Form.Encode(), c != nil)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestBrowserForms(t *testing.T) {
	srv := echo(t)
	b := NewBrowser(t)
	p := b.Get(srv.URL + "/forms/")

	if c := p.Cookies(); len(c) != 1 || c[0].Name != "seen" || c[0].Value != "yes" || c[0].Path != "/" {
		t.Errorf("cookies set: %v", c)
	}
	var got []string
	for _, f := range p.Forms() {
		got = append(got, f.Method+" "+f.Action.Path+" "+f.Hidden.Encode()+" #"+f.ID)
	}
	want := []string{
		"POST /sign-in csrf_token=tok%2Ben%261 #",
		"POST /withdraw csrf_token=t2&grant=g1 #",
		"POST /withdraw grant=g2 #",
		"GET /forms/search page=2 #",
		"POST /forms/ here=1 #self",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("forms:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if p.Hidden("csrf_token") != "tok+en&1" || p.Hidden("grant") != "g1" || p.Hidden("stray") != "" || p.Hidden("mobile") != "" {
		t.Errorf("hidden fields: csrf_token %q, grant %q, stray %q, mobile %q", p.Hidden("csrf_token"), p.Hidden("grant"), p.Hidden("stray"), p.Hidden("mobile"))
	}
	if got := (Page{Body: formsPage}).Hidden("grant"); got != "g1" {
		t.Errorf("a body alone: grant %q", got)
	}
	if _, ok := p.Form("/nowhere"); ok {
		t.Error("a form with an action the page does not have")
	}

	for _, tt := range []struct {
		action string
		values url.Values
		want   string
	}{
		{"/sign-in", url.Values{"mobile": {"99"}}, "POST /sign-in csrf_token=tok%2Ben%261&mobile=99 cookie=true"},
		{srv.URL + "/sign-in", url.Values{"csrf_token": {"mine"}}, "POST /sign-in csrf_token=mine cookie=true"},
		{"/withdraw", url.Values{"grant": {"g9"}}, "POST /withdraw csrf_token=t2&grant=g9 cookie=true"},
		{"search", url.Values{"q": {"a b"}}, "GET /forms/search page=2&q=a+b cookie=true"},
		{"", nil, "POST /forms/ here=1 cookie=true"},
	} {
		if got := b.Submit(p, tt.action, tt.values); got.Status != http.StatusOK || got.Body != tt.want {
			t.Errorf("Submit(%q): %d %q, want %q", tt.action, got.Status, got.Body, tt.want)
		}
	}
	if got := b.Post(srv.URL+"/raw", url.Values{"a": {"1"}}); got.Body != "POST /raw a=1 cookie=true" {
		t.Errorf("Post: %q", got.Body)
	}
	b.Base = srv.URL + "/elsewhere/"
	if got := b.Post("/raw", url.Values{"a": {"2"}}); got.Body != "POST /raw a=2 cookie=true" {
		t.Errorf("Post to a path: %q", got.Body)
	}
	if got := b.NoFollow().Get("raw?x=1"); got.URL.String() != srv.URL+"/elsewhere/raw?x=1" || got.Body != "GET /elsewhere/raw x=1 cookie=true" {
		t.Errorf("Get of a relative address: %s %q", got.URL, got.Body)
	}
}

func TestBrowserRedirects(t *testing.T) {
	srv := echo(t)
	b := NewBrowser(t)
	p := b.Get(srv.URL + "/go")
	if p.Status != http.StatusOK || p.URL.Path != "/forms/" || p.RedirectedBy != http.StatusSeeOther || p.Location != "" {
		t.Errorf("followed: %d %s after %d, Location %q", p.Status, p.URL, p.RedirectedBy, p.Location)
	}
	p = b.NoFollow().Get(srv.URL + "/go")
	if p.Status != http.StatusSeeOther || p.URL.Path != "/go" || p.Location != "/forms/" || p.RedirectedBy != 0 || p.Header.Get("Location") != "/forms/" {
		t.Errorf("not followed: %d %s after %d, Location %q", p.Status, p.URL, p.RedirectedBy, p.Location)
	}
	if got := b.NoFollow().Get(srv.URL + "/echo"); got.Body != "GET /echo  cookie=true" {
		t.Errorf("NoFollow does not share the cookies: %q", got.Body)
	}
}

// fatalTB records the failure that ends a test instead of ending it.
type fatalTB struct {
	testing.TB
	mu  sync.Mutex
	msg string
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.msg = fmt.Sprintf(format, args...)
	f.mu.Unlock()
	runtime.Goexit()
}

func TestBrowserSubmitWithoutTheForm(t *testing.T) {
	srv := echo(t)
	p := NewBrowser(t).Get(srv.URL + "/forms/")
	tb := &fatalTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		NewBrowser(tb).Submit(p, "/sign-out", url.Values{})
		t.Error("Submit went on without the form")
	}()
	<-done
	if !strings.Contains(tb.msg, "no form with action /sign-out") || !strings.Contains(tb.msg, "POST "+srv.URL+"/sign-in") {
		t.Errorf("failure: %s", tb.msg)
	}
}

func TestHandlerTransport(t *testing.T) {
	engine := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/set" {
			http.SetCookie(w, &http.Cookie{Name: "__Host-s", Value: "1", Path: "/", Secure: true})
			http.Redirect(w, r, "/seen", http.StatusSeeOther)
			return
		}
		_ = r.ParseForm()
		c, _ := r.Cookie("__Host-s")
		fmt.Fprintf(w, "%s %s%s %s tls=%v from %s cookie=%v", r.Method, r.Host, r.URL.Path, r.Form.Encode(), r.TLS != nil, r.RemoteAddr, c != nil)
	})
	net := &HandlerTransport{Handler: engine, RemoteAddr: "198.51.100.7:40000"}
	b := NewBrowser(t)
	b.Client.Transport = net
	b.Base = "https://kycvs.example"
	if p := b.NoFollow().Get("/set"); p.Status != http.StatusSeeOther || p.Location != "/seen" || p.URL.String() != "https://kycvs.example/set" {
		t.Fatalf("redirect: %d %q from %s", p.Status, p.Location, p.URL)
	}
	if p := b.Post("/form", url.Values{"a": {"1"}}); p.Body != "POST kycvs.example/form a=1 tls=true from 198.51.100.7:40000 cookie=true" {
		t.Errorf("POST: %q", p.Body)
	}
	net.RemoteAddr = ""
	if p := b.Get("http://kycvs.example/x"); p.Body != "GET kycvs.example/x  tls=false from 192.0.2.1:1234 cookie=false" {
		t.Errorf("GET over http: %q", p.Body)
	}
}
