package web

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Printable is s without invalid UTF-8 and control characters: refused
// input is kept to be shown again, and no database takes a NUL byte.
func Printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r == utf8.RuneError || unicode.IsControl(r) {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, ""))
}

// Truncate cuts s to at most n characters, for echoing input into a form.
func Truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}
