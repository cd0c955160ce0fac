package locale

import (
	"io/fs"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/nicksnyder/go-i18n/v2/i18n"
	toml "github.com/pelletier/go-toml/v2"
)

// catalogue reads l's file as go-i18n parses it: message ID to message.
func catalogue(t *testing.T, l Lang) map[string]*i18n.Message {
	t.Helper()
	b, err := fs.ReadFile(Catalogues(), CataloguePath(l))
	if err != nil {
		t.Fatal(err)
	}
	f, err := i18n.ParseMessageFileBytes(b, CataloguePath(l), map[string]i18n.UnmarshalFunc{"toml": toml.Unmarshal})
	if err != nil {
		t.Fatalf("%s: %v", l, err)
	}
	out := make(map[string]*i18n.Message, len(f.Messages))
	for _, m := range f.Messages {
		out[m.ID] = m
	}
	return out
}

// forms returns a message's texts by plural form.
func forms(m *i18n.Message) map[string]string {
	out := map[string]string{}
	for k, v := range map[string]string{"zero": m.Zero, "one": m.One, "two": m.Two, "few": m.Few, "many": m.Many, "other": m.Other} {
		if v != "" {
			out[k] = v
		}
	}
	return out
}

var placeholder = regexp.MustCompile(`\{\{\s*\.([A-Za-z]+)\s*\}\}`)

// placeholders returns the sorted, distinct placeholder names of s.
func placeholders(s string) []string {
	var out []string
	for _, m := range placeholder.FindAllStringSubmatch(s, -1) {
		if !slices.Contains(out, m[1]) {
			out = append(out, m[1])
		}
	}
	slices.Sort(out)
	return out
}

// TestCataloguesComplete: every English message exists in every language,
// with the same placeholders in every plural form, and no language has a
// message English lacks (a renamed key left behind). A new English key
// without its translations fails here.
func TestCataloguesComplete(t *testing.T) {
	en := catalogue(t, English)
	if len(en) < 50 {
		t.Fatalf("English catalogue has %d messages; parsed wrongly?", len(en))
	}
	for _, l := range All() {
		t.Run(l.Code(), func(t *testing.T) {
			got := catalogue(t, l)
			for id, em := range en {
				m, ok := got[id]
				if !ok {
					t.Errorf("%s lacks %q", l.Code(), id)
					continue
				}
				want := placeholders(em.Other)
				ef, f := forms(em), forms(m)
				if _, plural := ef["one"]; plural {
					// Every supported language's CLDR rule has "one" and
					// "other"; a plural message needs both.
					for _, k := range []string{"one", "other"} {
						if f[k] == "" {
							t.Errorf("%s %q lacks the plural form %q", l.Code(), id, k)
						}
					}
				} else if len(f) != 1 || f["other"] == "" {
					t.Errorf("%s %q: English has one form, this has %v", l.Code(), id, f)
				}
				for k, s := range f {
					// A form may leave out {{.Count}} ("one try left" may
					// say "one"); every other placeholder must be there.
					p := placeholders(s)
					w := slices.DeleteFunc(slices.Clone(want), func(n string) bool { return n == "Count" && k != "other" })
					p = slices.DeleteFunc(p, func(n string) bool { return n == "Count" && k != "other" })
					if !slices.Equal(p, w) {
						t.Errorf("%s %q (%s) has placeholders %v, English %v", l.Code(), id, k, p, w)
					}
					if strings.TrimSpace(s) == "" {
						t.Errorf("%s %q (%s) is empty", l.Code(), id, k)
					}
				}
			}
			for id := range got {
				if _, ok := en[id]; !ok {
					t.Errorf("%s has %q, which English does not", l.Code(), id)
				}
			}
		})
	}
}

// TestCataloguesPlainText: messages carry no markup and no character that
// HTML would read as markup, and every placeholder is a plain field
// reference, so a translation cannot break a page or run a template
// action.
func TestCataloguesPlainText(t *testing.T) {
	action := regexp.MustCompile(`\{\{[^}]*\}\}`)
	for _, l := range All() {
		for id, m := range catalogue(t, l) {
			for k, s := range forms(m) {
				if strings.ContainsAny(s, "<>&") {
					t.Errorf("%s %q (%s) contains markup: %q", l.Code(), id, k, s)
				}
				for _, a := range action.FindAllString(s, -1) {
					if !placeholder.MatchString(a) {
						t.Errorf("%s %q (%s) has the template action %s; only {{.Name}} is allowed", l.Code(), id, k, a)
					}
				}
			}
		}
	}
}

func TestTextFillsAndFallsBack(t *testing.T) {
	tests := []struct {
		name string
		lang Lang
		id   string
		args []any
		want string
	}{
		{"placeholder", English, "login.lead", []any{"Client", "Rail"}, "Rail wants to check your vaccination status."},
		{"plural one", English, "alert.wrong_otp_left", []any{"Count", 1}, "That code is not right. You have 1 try left."},
		{"plural other", English, "alert.wrong_otp_left", []any{"Count", 2}, "That code is not right. You have 2 tries left."},
		{"Hindi", Lang("hi"), "common.share", nil, "साझा करें"},
		{"zero Lang is English", Lang(""), "common.share", nil, "Share"},
		{"unknown id comes back raw", English, "no.such.key", nil, "no.such.key"},
		{"missing argument comes back raw", English, "login.lead", nil, "login.lead"},
		{"argument name not a string", English, "login.lead", []any{1, "Rail"}, "login.lead"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.lang.Text(tt.id, tt.args...); got != tt.want {
				t.Errorf("Text = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestMatch(t *testing.T) {
	tests := []struct {
		name, ui, accept string
		want             Lang
		ok               bool
	}{
		{name: "hi", ui: "hi", want: "hi", ok: true},
		{name: "hi-IN", ui: "hi-IN", want: "hi", ok: true},
		{name: "ISO 639-2 hin", ui: "hin", want: "hi", ok: true},
		{name: "script subtag", ui: "hi-Deva", want: "hi", ok: true},
		{name: "first supported of a list", ui: "fr hi en", want: "hi", ok: true},
		{name: "Urdu", ui: "ur-PK", want: "ur", ok: true},
		{name: "English variant", ui: "en-GB", want: "en", ok: true},
		{name: "nothing supported", ui: "fr de", want: "en", ok: false},
		{name: "garbage", ui: "!!! ???", want: "en", ok: false},
		{name: "empty", ui: "", want: "en", ok: false},
		{name: "Accept-Language", accept: "hi-IN,hi;q=0.9,en;q=0.8", want: "hi", ok: true},
		{name: "Accept-Language by weight", accept: "en;q=0.5,ur;q=0.9", want: "ur", ok: true},
		{name: "Accept-Language nothing supported", accept: "fr-FR,fr;q=0.9", want: "en", ok: false},
		{name: "Accept-Language unreadable", accept: ";;;q=x", want: "en", ok: false},
		{name: "Accept-Language too long", accept: strings.Repeat("hi,", 400), want: "en", ok: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got Lang
			var ok bool
			if tt.accept != "" {
				got, ok = MatchAcceptLanguage(tt.accept)
			} else {
				got, ok = MatchUILocales(tt.ui)
			}
			if got != tt.want || ok != tt.ok {
				t.Errorf("got %q %v, want %q %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestLangProperties(t *testing.T) {
	if Lang("ur").Dir() != "rtl" || Lang("hi").Dir() != "ltr" || English.Dir() != "ltr" {
		t.Error("only Urdu is written right to left")
	}
	if Lang("").Code() != "en" || Lang("xx").Code() != "en" {
		t.Error("a Lang nobody chose is English")
	}
	if _, ok := Parse("hi-IN"); ok {
		t.Error("Parse takes our own codes only")
	}
	codes := Codes()
	if codes[0] != "en" || len(codes) != len(All()) {
		t.Errorf("Codes = %v", codes)
	}
	for _, l := range All() {
		if l.Name() == "" {
			t.Errorf("%s has no name", l)
		}
	}
}

func TestASCIIDigits(t *testing.T) {
	tests := []struct{ in, want string }{
		{"123456", "123456"},
		{"१२३४५६", "123456"}, // Devanagari
		{"০১২৩৪৫", "012345"}, // Bengali, Assamese
		{"۰۱۲۳۴۵", "012345"}, // Extended Arabic-Indic (Urdu)
		{"٦٧٨٩", "6789"},     // Arabic-Indic
		{"੦੯૦૯୦୯௦௯౦౯೦೯൦൯", "09090909090909"}, // Gurmukhi to Malayalam
		{"１２３", "123"}, // fullwidth
		{"12a४", "12a4"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := ASCIIDigits(tt.in); got != tt.want {
			t.Errorf("ASCIIDigits(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
