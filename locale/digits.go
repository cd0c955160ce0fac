package locale

import "strings"

// digitZeros are the code points of zero in the scripts whose digits a
// person may type: Arabic-Indic and Extended Arabic-Indic (Urdu),
// Devanagari (Hindi, Marathi), Bengali (Bengali, Assamese), Gurmukhi,
// Gujarati, Odia, Tamil, Telugu, Kannada, Malayalam, and fullwidth digits
// some keyboards send. Each script's digits 0-9 follow its zero.
var digitZeros = []rune{0x0660, 0x06F0, 0x0966, 0x09E6, 0x0A66, 0x0AE6, 0x0B66, 0x0BE6, 0x0C66, 0x0CE6, 0x0D66, 0xFF10}

// ASCIIDigits returns s with every digit of those scripts replaced by the
// ASCII digit of the same value ("१२३" -> "123"); every other character is
// kept. The OTP field accepts a code typed in any of them.
func ASCIIDigits(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x0660 {
			return r
		}
		for _, z := range digitZeros {
			if r >= z && r <= z+9 {
				return '0' + (r - z)
			}
		}
		return r
	}, s)
}
