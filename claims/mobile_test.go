package claims_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/kycvs/kycvs/claims"
)

func TestNormalizeMobile(t *testing.T) {
	good := []struct{ name, in, want string }{
		{"10 digits", "9876543210", "+919876543210"},
		{"spaces", "98765 43210", "+919876543210"},
		{"dashes", "98765-43210", "+919876543210"},
		{"surrounding space", "  9876543210 ", "+919876543210"},
		{"leading zero", "09876543210", "+919876543210"},
		{"E.164", "+919876543210", "+919876543210"},
		{"E.164 with spaces", "+91 98765 43210", "+919876543210"},
		{"country code without plus", "919876543210", "+919876543210"},
		{"international prefix 00", "0091 98765 43210", "+919876543210"},
		{"demo number", "9999900001", "+919999900001"},
		{"other country, UK mobile", "+44 7911 123456", "+447911123456"},
		{"other country, US", "+1 (415) 555-2671", "+14155552671"},
	}
	for _, tt := range good {
		t.Run("good/"+tt.name, func(t *testing.T) {
			got, err := claims.NormalizeMobile(tt.in)
			if err != nil || got != tt.want {
				t.Errorf("NormalizeMobile(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
	bad := []struct{ name, in string }{
		{"empty", ""},
		{"spaces only", "   "},
		{"too short", "98765"},
		{"11 digits", "98765432101"},
		{"9 digits", "987654321"},
		{"invalid Indian prefix", "1234567890"},
		{"all zeros", "0000000000"},
		{"letters", "98765abcde"},
		{"vanity letters", "+1-800-FLOWERS"},
		{"word", "telephone"},
		{"garbage", "!@#$%^&*()"},
		{"plus only", "+"},
		{"plus in the middle", "98765+43210"},
		{"unknown country code", "+999 1234567890"},
		{"very long digits", strings.Repeat("9", 40)},
		{"very long mixed", "+91" + strings.Repeat(" 9", 100)},
		{"huge", strings.Repeat("x", 1<<20)},
		{"extension", "9876543210 ext 12"},
		{"full-width digits", "９８７６５４３２１０"},
		{"invalid UTF-8", "98765\xff43210"},
		{"NUL", "98765\x0043210"},
		{"Indian landline", "+91 11 2345 6789"},
		{"UK landline", "+44 20 7946 0018"},
		{"toll free", "+1 800 555 0199"},
	}
	for _, tt := range bad {
		t.Run("bad/"+tt.name, func(t *testing.T) {
			got, err := claims.NormalizeMobile(tt.in)
			if err == nil {
				t.Fatalf("NormalizeMobile(%q) = %q, want an error", tt.in, got)
			}
			if got != "" {
				t.Errorf("NormalizeMobile(%q) returned %q with its error", tt.in, got)
			}
			if len(tt.in) >= 5 && strings.Contains(err.Error(), tt.in) {
				t.Errorf("error %q repeats the input", err)
			}
		})
	}
}

// e164 is what NormalizeMobile returns: + and 7 to 15 digits.
var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// FuzzNormalizeMobile: whatever a person types, NormalizeMobile returns an
// E.164 number or an error, never panics; an E.164 answer normalises to
// itself; an error never repeats the input (errors are logged); masking
// hides the number. Seeds: testdata/fuzz/FuzzNormalizeMobile.
func FuzzNormalizeMobile(f *testing.F) {
	for _, s := range []string{"9876543210", "+919876543210", "0091 98765 43210", "+1-800-FLOWERS", "", "+"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := claims.NormalizeMobile(s)
		if err != nil {
			if got != "" {
				t.Fatalf("NormalizeMobile(%q) = %q and %v", s, got, err)
			}
			if in := strings.TrimSpace(s); len(in) >= 4 && strings.Contains(err.Error(), in) {
				t.Fatalf("error %q repeats the input", err)
			}
			return
		}
		if !e164.MatchString(got) {
			t.Fatalf("NormalizeMobile(%q) = %q, not E.164", s, got)
		}
		if again, err := claims.NormalizeMobile(got); err != nil || again != got {
			t.Errorf("NormalizeMobile(%q) = %q, which normalises to %q, %v", s, got, again, err)
		}
		if m := claims.MaskMobile(got); m == got || len(m) != len(got) || m[len(m)-5] != '*' {
			t.Errorf("MaskMobile(%q) = %q shows too much", got, m)
		}
	})
}

func TestMaskMobile(t *testing.T) {
	tests := []struct{ in, want string }{
		{"+919876543210", "+91******3210"},
		{"+14155552671", "+1******2671"},
		{"+447911123456", "+44******3456"},
		{"+971501234567", "+971*****4567"},
		{"", ""},
		{"1234", "****"},
		{"9876543210", "******3210"},
		{"+91", "***"},
		{"+9123", "+91**"},
		{"garbage-text", "********text"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got := claims.MaskMobile(tt.in)
			if got != tt.want {
				t.Errorf("MaskMobile(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if len(tt.in) > 4 && got == tt.in {
				t.Errorf("MaskMobile(%q) returned it unmasked", tt.in)
			}
		})
	}
}
