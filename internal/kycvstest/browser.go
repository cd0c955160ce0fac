package kycvstest

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
)

// Browser is a person's browser without JavaScript: it keeps cookies in a
// jar, follows redirects unless told not to, and fills a page's forms as
// they are written, hidden fields (csrf_token, ...) included. Any request
// that gets no answer fails the test.
type Browser struct {
	// Client sends the requests; its Jar keeps the cookies. A test may set
	// its Transport (a HandlerTransport, a TLS configuration) or its
	// CheckRedirect (which redirects to follow).
	Client *http.Client
	// Base, when set, is the URL Get and Post resolve a relative address
	// (a path) against: the origin of the site a test browses.
	Base string

	t testing.TB
}

// NewBrowser returns a browser with an empty cookie jar that follows
// redirects.
func NewBrowser(t testing.TB) *Browser {
	jar, _ := cookiejar.New(nil)
	return &Browser{t: t, Client: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
}

// NoFollow returns a browser that shares b's cookies and transport but
// returns a redirect as its answer instead of following it.
func (b *Browser) NoFollow() *Browser {
	c := *b.Client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Browser{t: b.t, Client: &c, Base: b.Base}
}

// Page is an answer as the browser saw it, after the redirects it followed.
type Page struct {
	Status int
	// URL is where the answer came from: the last redirect's target.
	URL *url.URL
	// Location is the answer's Location header, "" when it has none:
	// where a redirect that was not followed points.
	Location string
	Header   http.Header
	Body     string
	// RedirectedBy is the status of the answer that redirected to URL, 0
	// when none did.
	RedirectedBy int
}

// Cookies returns the cookies the answer set (its Set-Cookie headers).
func (p Page) Cookies() []*http.Cookie {
	return (&http.Response{Header: p.Header}).Cookies()
}

// Form is an HTML form on a page.
type Form struct {
	// Method is GET or POST, as the form's method attribute says (GET
	// when it says nothing).
	Method string
	// Action is where the form is sent, resolved against the page's URL.
	Action *url.URL
	// ID is the form's id attribute, "" when it has none.
	ID string
	// Hidden holds the form's hidden fields: what it sends whatever the
	// person enters.
	Hidden url.Values
}

// Forms returns the page's forms in the order they are written.
func (p Page) Forms() []Form {
	var forms []Form
	var cur *Form
	base := p.URL
	if base == nil { // a body read elsewhere: actions stay as written
		base = &url.URL{}
	}
	z := html.NewTokenizer(strings.NewReader(p.Body))
	for {
		switch z.Next() {
		case html.ErrorToken:
			if cur != nil { // a form left open ends with the page
				forms = append(forms, *cur)
			}
			return forms
		case html.StartTagToken, html.SelfClosingTagToken:
			name, _ := z.TagName()
			attrs := tagAttrs(z)
			switch string(name) {
			case "form":
				if cur != nil {
					forms = append(forms, *cur)
				}
				action := base
				if a, ok := attrs["action"]; ok && a != "" {
					if u, err := base.Parse(a); err == nil {
						action = u
					}
				}
				method := strings.ToUpper(attrs["method"])
				if method != http.MethodPost {
					method = http.MethodGet
				}
				cur = &Form{Method: method, Action: action, ID: attrs["id"], Hidden: url.Values{}}
			case "input":
				if cur != nil && strings.EqualFold(attrs["type"], "hidden") && attrs["name"] != "" {
					cur.Hidden.Add(attrs["name"], attrs["value"])
				}
			}
		case html.EndTagToken:
			if name, _ := z.TagName(); string(name) == "form" && cur != nil {
				forms = append(forms, *cur)
				cur = nil
			}
		}
	}
}

// tagAttrs returns the attributes of the tag z is at, their values
// unescaped; a repeated attribute keeps its first value, as in HTML.
func tagAttrs(z *html.Tokenizer) map[string]string {
	attrs := map[string]string{}
	for {
		k, v, more := z.TagAttr()
		if len(k) > 0 {
			if _, seen := attrs[string(k)]; !seen {
				attrs[string(k)] = string(v)
			}
		}
		if !more {
			return attrs
		}
	}
}

// Hidden returns the value of the first hidden field called name in any
// of the page's forms, "" when there is none: a token a test sends where
// no form of the page would.
func (p Page) Hidden(name string) string {
	for _, f := range p.Forms() {
		if v, ok := f.Hidden[name]; ok {
			return v[0]
		}
	}
	return ""
}

// Form returns the first form on the page whose action is action (a path
// or a URL, resolved against the page's URL); false when there is none.
func (p Page) Form(action string) (Form, bool) {
	target, err := p.URL.Parse(action)
	if err != nil {
		return Form{}, false
	}
	for _, f := range p.Forms() {
		if f.Action.String() == target.String() {
			return f, true
		}
	}
	return Form{}, false
}

// Get loads u.
func (b *Browser) Get(u string) Page {
	b.t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, b.resolve(u), nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.Do(req)
}

// Submit sends the first form on from whose action is action (a path or a
// URL, resolved against from.URL) as a browser would: its hidden fields,
// and values over them (a value replaces the hidden field of its name). It
// fails the test when from has no such form.
func (b *Browser) Submit(from Page, action string, values url.Values) Page {
	b.t.Helper()
	f, ok := from.Form(action)
	if !ok {
		var actions []string
		for _, f := range from.Forms() {
			actions = append(actions, f.Method+" "+f.Action.String())
		}
		b.t.Fatalf("no form with action %s on %d %s (forms: %v): %s", action, from.Status, from.URL, actions, from.Body)
	}
	fields := url.Values{}
	for k, v := range f.Hidden {
		fields[k] = v
	}
	for k, v := range values {
		fields[k] = v
	}
	if f.Method == http.MethodGet {
		u := *f.Action
		u.RawQuery = fields.Encode()
		return b.Get(u.String())
	}
	return b.Post(f.Action.String(), fields)
}

// Post posts values to u as a form on no page: for requests no page's form
// makes, such as one without its CSRF token or with a field the form lacks.
func (b *Browser) Post(u string, values url.Values) Page {
	b.t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, b.resolve(u), strings.NewReader(values.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.Do(req)
}

// resolve returns u resolved against b.Base (u itself when Base is
// unset or u is not a URL).
func (b *Browser) resolve(u string) string {
	if b.Base == "" {
		return u
	}
	base, err := url.Parse(b.Base)
	if err != nil {
		b.t.Fatalf("Base %q: %v", b.Base, err)
	}
	ref, err := url.Parse(u)
	if err != nil {
		return u
	}
	return base.ResolveReference(ref).String()
}

// Do sends req with the browser's cookies and reads the answer.
func (b *Browser) Do(req *http.Request) Page {
	b.t.Helper()
	resp, err := b.Client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatalf("%s %s: reading the answer: %v", req.Method, req.URL, err)
	}
	p := Page{Status: resp.StatusCode, URL: resp.Request.URL, Location: resp.Header.Get("Location"), Header: resp.Header, Body: string(body)}
	if resp.Request.Response != nil {
		p.RedirectedBy = resp.Request.Response.StatusCode
	}
	return p
}

// HandlerTransport answers a browser's requests with Handler in-process,
// through httptest's request and recorder, so a test drives an engine
// without a server. The handler sees the browser's URL (its host, and TLS
// on https) and the cookies the browser's jar sends for it.
type HandlerTransport struct {
	Handler http.Handler
	// RemoteAddr is the client address the handler sees ("ip:port"),
	// httptest's 192.0.2.1:1234 when empty. Change it between requests,
	// not while one is served.
	RemoteAddr string
}

// RoundTrip serves req with t.Handler.
func (t *HandlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r := httptest.NewRequestWithContext(req.Context(), req.Method, req.URL.String(), req.Body)
	r.Header = req.Header.Clone()
	if t.RemoteAddr != "" {
		r.RemoteAddr = t.RemoteAddr
	}
	w := httptest.NewRecorder()
	t.Handler.ServeHTTP(w, r)
	resp := w.Result()
	resp.Request = req
	return resp, nil
}
