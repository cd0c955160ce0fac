package claims_test

import (
	"testing"

	"github.com/kycvs/kycvs/claims"
)

func TestNameKey(t *testing.T) {
	tests := []struct {
		name string
		a, b string
		same bool
	}{
		{"identical", "Asha Verma", "Asha Verma", true},
		{"surrounding spaces", "  Asha Verma\t", "Asha Verma", true},
		{"inner runs of spaces", "Asha   Verma", "Asha Verma", true},
		{"tabs, newlines and no-break space", "Asha\t\n\u00a0Verma", "Asha Verma", true},
		{"case", "ASHA verma", "asha VERMA", true},
		{"NFC vs NFD e-acute", "Ren\u00e9e", "Rene\u0301e", true},
		{"NFD with case", "RENE\u0301E", "ren\u00e9e", true},
		{"German sharp s folds to ss", "Straße", "STRASSE", true},
		{"German capital sharp s", "STRAẞE", "straße", true},
		{"Turkish dotted capital I is not plain i", "İpek", "ipek", false},
		{"Turkish dotless i is not i", "ılgın", "ilgin", false},
		{"Turkish ASCII I folds to i", "IPEK", "ipek", true},
		{"Devanagari unchanged", "आशा वर्मा", "आशा  वर्मा", true},
		{"different names", "Asha Verma", "Asha Varma", false},
		{"word order matters", "Verma Asha", "Asha Verma", false},
		{"missing space matters", "AshaVerma", "Asha Verma", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ka, kb := claims.NameKey(tt.a), claims.NameKey(tt.b)
			if (ka == kb) != tt.same {
				t.Errorf("NameKey(%q) = %q, NameKey(%q) = %q; same = %v, want %v", tt.a, ka, tt.b, kb, ka == kb, tt.same)
			}
		})
	}
}

func TestNameKeyForm(t *testing.T) {
	tests := []struct{ in, want string }{
		{"  Asha   VERMA ", "asha verma"},
		{"", ""},
		{" \t ", ""},
		{"Rene\u0301e", "ren\u00e9e"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got := claims.NameKey(tt.in)
			if got != tt.want {
				t.Errorf("NameKey(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if again := claims.NameKey(got); again != got {
				t.Errorf("NameKey is not idempotent: %q -> %q", got, again)
			}
		})
	}
}
