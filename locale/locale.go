package locale

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"github.com/nicksnyder/go-i18n/v2/i18n"
	i18ntemplate "github.com/nicksnyder/go-i18n/v2/i18n/template"
	toml "github.com/pelletier/go-toml/v2"
	"golang.org/x/text/language"
)

// Lang is one of the supported languages, by its BCP 47 code ("en", "hi").
// The zero value stands for English, so a Lang nobody chose speaks English.
type Lang string

// English is the fallback language and the catalogue every other is
// checked against.
const English Lang = "en"

// languages lists the supported languages in the order the language switch
// shows them: English, then the languages of India's Eighth Schedule that
// kycvs speaks, each under its own name.
var languages = []struct {
	lang Lang
	name string
	rtl  bool
}{
	{"en", "English", false},
	{"hi", "हिन्दी", false},
	{"bn", "বাংলা", false},
	{"mr", "मराठी", false},
	{"te", "తెలుగు", false},
	{"ta", "தமிழ்", false},
	{"gu", "ગુજરાતી", false},
	{"ur", "اردو", true},
	{"kn", "ಕನ್ನಡ", false},
	{"or", "ଓଡ଼ିଆ", false},
	{"ml", "മലയാളം", false},
	{"pa", "ਪੰਜਾਬੀ", false},
	{"as", "অসমীয়া", false},
}

// All returns every supported language, English first, in the order the
// language switch lists them.
func All() []Lang {
	out := make([]Lang, len(languages))
	for i, l := range languages {
		out[i] = l.lang
	}
	return out
}

// Codes returns the codes of All, for discovery's ui_locales_supported.
func Codes() []string {
	out := make([]string, len(languages))
	for i, l := range languages {
		out[i] = string(l.lang)
	}
	return out
}

// Parse returns the supported language with exactly this code (as Codes
// lists it), for values kycvs wrote itself (its cookie, its switch links);
// false for anything else. Use the Match functions for what browsers and
// relying parties send.
func Parse(code string) (Lang, bool) {
	for _, l := range languages {
		if string(l.lang) == code {
			return l.lang, true
		}
	}
	return English, false
}

func (l Lang) index() int {
	for i, s := range languages {
		if s.lang == l {
			return i
		}
	}
	return 0 // the zero Lang, or one never parsed: English
}

// Code is the language's BCP 47 code, for <html lang> and the SMS
// webhook's language field; "en" for the zero Lang.
func (l Lang) Code() string { return string(languages[l.index()].lang) }

// Name is the language's name in its own script, for the switch.
func (l Lang) Name() string { return languages[l.index()].name }

// Dir is the language's writing direction for <html dir>: "rtl" for Urdu,
// "ltr" for the others.
func (l Lang) Dir() string {
	if languages[l.index()].rtl {
		return "rtl"
	}
	return "ltr"
}

// matcher matches what people and relying parties ask for to the supported
// languages, with CLDR's knowledge of codes: "hi", "hi-IN", "hin" and
// "hi-Deva" give Hindi.
var matcher = func() language.Matcher {
	tags := make([]language.Tag, len(languages))
	for i, l := range languages {
		tags[i] = language.MustParse(string(l.lang))
	}
	return language.NewMatcher(tags)
}()

// maxPrefs bounds how many preferences are read from one header or
// parameter; a longer list is cut, never an error.
const maxPrefs = 16

// MatchUILocales returns the best supported language for an OIDC ui_locales
// value, a space-separated list of BCP 47 tags in order of preference
// ("ta hi en"); false when none of them is supported (or the value is
// empty or unreadable), so the caller moves on to its next source.
// Unparseable tags are skipped.
func MatchUILocales(s string) (Lang, bool) {
	var tags []language.Tag
	for _, f := range strings.Fields(s) {
		if len(tags) == maxPrefs {
			break
		}
		if t, err := language.Parse(f); err == nil {
			tags = append(tags, t)
		}
	}
	return match(tags)
}

// MatchAcceptLanguage returns the best supported language for an HTTP
// Accept-Language header ("hi-IN,hi;q=0.9,en;q=0.8"); false when none is
// supported or the header is empty or unreadable.
func MatchAcceptLanguage(header string) (Lang, bool) {
	if header == "" || len(header) > 1024 {
		return English, false
	}
	tags, _, err := language.ParseAcceptLanguage(header)
	if err != nil {
		return English, false
	}
	if len(tags) > maxPrefs {
		tags = tags[:maxPrefs]
	}
	return match(tags)
}

func match(tags []language.Tag) (Lang, bool) {
	if len(tags) == 0 {
		return English, false
	}
	_, i, conf := matcher.Match(tags...)
	if conf == language.No {
		return English, false
	}
	return languages[i].lang, true
}

//go:embed messages/*.toml
var catalogueFiles embed.FS

// localizers hold every catalogue, parsed once at start, and englishIDs
// the English message IDs. The files are embedded, so a broken one fails
// the tests and the server's start, never a request.
var localizers, englishIDs = func() (map[Lang]*i18n.Localizer, map[string]bool) {
	b := i18n.NewBundle(language.English)
	b.RegisterUnmarshalFunc("toml", toml.Unmarshal)
	locs := make(map[Lang]*i18n.Localizer, len(languages))
	ids := make(map[string]bool)
	for _, l := range languages {
		f, err := b.LoadMessageFileFS(catalogueFiles, CataloguePath(l.lang))
		if err != nil {
			panic(fmt.Sprintf("locale: catalogue %s: %v", l.lang, err))
		}
		if l.lang == English {
			for _, m := range f.Messages {
				ids[m.ID] = true
			}
		}
		locs[l.lang] = i18n.NewLocalizer(b, string(l.lang))
	}
	return locs, ids
}()

// CataloguePath is the path of l's catalogue inside Catalogues.
func CataloguePath(l Lang) string { return path.Join("messages", l.Code()+".toml") }

// Catalogues returns the embedded catalogue files (messages/<code>.toml),
// for the tests that check them and for tools.
func Catalogues() fs.FS { return catalogueFiles }

// strictParser fails on a placeholder the caller did not give, instead of
// writing "<no value>" into a page.
var strictParser = &i18ntemplate.TextParser{Option: "missingkey=error"}

// Text returns message id in language l, with its placeholders filled from
// args, which are pairs of placeholder name and value ("Client", "Demo
// Airlines"). A "Count" argument also chooses the plural form. A message
// missing from l's catalogue comes from English (the tests make sure none
// is missing); an id no catalogue has, or a placeholder without its
// argument, returns id itself, which the page tests look for. The result
// is plain text; web escapes it for HTML.
func (l Lang) Text(id string, args ...any) string {
	data := make(map[string]any, len(args)/2)
	var count any
	for i := 0; i+1 < len(args); i += 2 {
		k, ok := args[i].(string)
		if !ok {
			return id
		}
		data[k] = args[i+1]
		if k == "Count" {
			count = args[i+1]
		}
	}
	s, err := localizers[Lang(l.Code())].Localize(&i18n.LocalizeConfig{
		MessageID:      id,
		TemplateData:   data,
		PluralCount:    count,
		TemplateParser: strictParser,
	})
	if err != nil && s == "" {
		return id
	}
	if err != nil {
		// The English fallback came back with a "not found in l" error.
		if _, ok := err.(*i18n.MessageNotFoundErr); !ok {
			return id
		}
	}
	return s
}

// Has reports whether id is a message of the English catalogue, for
// callers that show a fallback (an unknown claim's own name) otherwise.
func Has(id string) bool { return englishIDs[id] }

// IDs returns every message ID of the English catalogue, sorted, for the
// tests that check no page shows a raw ID.
func IDs() []string {
	out := make([]string, 0, len(englishIDs))
	for id := range englishIDs {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}
