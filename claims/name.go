package claims

import (
	"strings"

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
	return norm.NFC.String(strings.Join(strings.Fields(name), " "))
}
