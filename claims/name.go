package claims

import (
	"strings"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// NameKey returns name in the form used to match a typed name against the
// registry: surrounding white space trimmed, every inner run of white space
// (any Unicode space, tabs, no-break spaces) made one ASCII space, Unicode
// NFC, then full Unicode case folding (language-neutral, so "Straße" and
// "STRASSE" match, and Turkish dotted/dotless i are not special-cased).
// Two names match when their keys are equal. An empty or all-space name
// gives "". It is safe for concurrent use and never fails.
func NameKey(name string) string {
	if k, ok := asciiForm(name, true); ok {
		return k
	}
	return unicodeNameKey(name)
}

// unicodeNameKey is NameKey for any text.
func unicodeNameKey(name string) string {
	s := strings.Join(strings.Fields(name), " ")
	s = norm.NFC.String(s)
	// A Caser is stateful, so each call gets its own. Folding can leave a
	// sequence that is no longer NFC (e.g. combining marks), so normalise
	// again: equal keys must mean equal strings.
	s = cases.Fold().String(s)
	return norm.NFC.String(s)
}

// displayName is the name as stored and shown: trimmed, inner white space
// collapsed to one space, NFC, case kept.
func displayName(name string) string {
	if d, ok := asciiForm(name, false); ok {
		return d
	}
	return norm.NFC.String(strings.Join(strings.Fields(name), " "))
}

// asciiForm is displayName (fold false) or NameKey (fold true) of an
// all-ASCII name, which most registry names are, without the Unicode
// machinery: ASCII is already NFC, folds to lower case, and its white
// space is what strings.Fields splits on. ok is false for other text.
// TestASCIIFormAgrees compares it with the general path.
func asciiForm(name string, fold bool) (form string, ok bool) {
	b := make([]byte, 0, len(name))
	gap := false
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= utf8.RuneSelf:
			return "", false
		case c == ' ', c == '\t', c == '\n', c == '\v', c == '\f', c == '\r':
			gap = len(b) > 0
			continue
		case fold && 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		if gap {
			b, gap = append(b, ' '), false
		}
		b = append(b, c)
	}
	return string(b), true
}
