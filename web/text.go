package web

import (
	"fmt"
	"html/template"
	"strings"
	"time"

	"github.com/kycvs/kycvs/locale"
)

// pageFuncs are the template functions of pages in language l:
//
//	{{t "otp.sent_to" "Mobile" (strong .MaskedMobile)}}  a message
//	{{msg .Error}}                                        a Msg
//	{{claim "vaccination_status"}}                        what a claim shares
//	{{wait .ResendWait}}                                  a duration, "45 seconds"
//	{{span .Retention}}                                   a long duration, "365 days"
//	{{secs .ResendWait}}                                  a duration in whole seconds, rounded up
//	{{strong .X}}, {{nowrap .X}}, {{mobile .X}}, {{ltr .X}}, {{code .X}}  markup around an argument
//	{{static "style.css"}}                                a static file's URL
//
// Messages are plain text; an argument may carry markup (strong, nowrap,
// code), which is the only markup a page's text contains.
func pageFuncs(l locale.Lang) template.FuncMap {
	return template.FuncMap{
		"static": StaticURL,
		"t":      func(id string, args ...any) template.HTML { return textHTML(l, id, args) },
		"msg":    func(m Msg) template.HTML { return textHTML(l, m.ID, m.Args) },
		"claim":  func(name string) string { return ClaimText(l, name) },
		"wait":   func(d time.Duration) string { return DurationText(l, d) },
		"span":   func(d time.Duration) string { return SpanText(l, d) },
		"secs":   func(d time.Duration) int { return int((d + time.Second - 1) / time.Second) },
		"strong": func(s string) template.HTML { return wrap("<strong>", s, "</strong>") },
		"nowrap": func(s string) template.HTML { return wrap(`<span class="nowrap">`, s, "</span>") },
		// A number or a time stays left to right in an Urdu sentence (dir
		// isolates it), so "+91******3210" is not shown as "3210******91+".
		"mobile": func(s string) template.HTML { return wrap(`<strong class="nowrap" dir="ltr">`, s, "</strong>") },
		"ltr":    func(s string) template.HTML { return wrap(`<span class="nowrap" dir="ltr">`, s, "</span>") },
		"code":   func(s string) template.HTML { return wrap("<code>", s, "</code>") },
	}
}

func wrap(open, s, end string) template.HTML {
	return template.HTML(open + template.HTMLEscapeString(s) + end)
}

// textHTML is message id in l as HTML: the text is escaped, and arguments
// that are already HTML (strong and the like) are put in unescaped. They
// travel through the catalogue as private-use placeholders, so neither a
// translation nor a plain argument can add markup.
func textHTML(l locale.Lang, id string, args []any) template.HTML {
	plain := make([]any, len(args))
	copy(plain, args)
	var html []string
	for i := 1; i < len(plain); i += 2 {
		if h, ok := plain[i].(template.HTML); ok {
			plain[i] = fmt.Sprintf("\ue000%d\ue001", len(html))
			html = append(html, string(h))
		}
	}
	out := textEscaper.Replace(l.Text(id, plain...))
	for i, h := range html {
		out = strings.Replace(out, fmt.Sprintf("\ue000%d\ue001", i), h, 1)
	}
	return template.HTML(out)
}

// textEscaper escapes text for HTML element content. Quotes stay as they
// are ("Don't share"): html/template escapes them again where a message
// lands in an attribute.
var textEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// ClaimText says, in l, what disclosing the named claim shares ("your
// vaccination status (not, partially or fully vaccinated)"); a claim the
// catalogues do not know is shown by its name, so a page never hides what
// would be shared. "" stands for no claim at all: "that you signed in with
// this mobile number".
func ClaimText(l locale.Lang, name string) string {
	id := "claim.none"
	if name != "" {
		id = "claim." + name
	}
	if !locale.Has(id) {
		return name
	}
	return l.Text(id)
}

// DurationText writes d for people in l, rounded up to whole seconds
// ("45 seconds"), or to whole minutes from two minutes on ("3 minutes"),
// so a wait is never shown shorter than it is.
func DurationText(l locale.Lang, d time.Duration) string {
	s := int((d + time.Second - 1) / time.Second)
	if s < 1 {
		s = 1
	}
	if s < 120 {
		return l.Text("time.seconds", "Count", s)
	}
	return l.Text("time.minutes", "Count", (s+59)/60)
}

// SpanText writes a lifetime for people in l: whole days from two days on
// ("365 days"), whole hours from two hours on ("24 hours"), else as
// DurationText. Days and hours are rounded down: a lifetime is never
// shown longer than it is.
func SpanText(l locale.Lang, d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return l.Text("time.days", "Count", int(d/(24*time.Hour)))
	case d >= 2*time.Hour:
		return l.Text("time.hours", "Count", int(d/time.Hour))
	}
	return DurationText(l, d)
}
