package claims

import (
	"math/rand/v2"
	"strings"
	"testing"

	"golang.org/x/text/unicode/norm"
)

// TestASCIIFormAgrees: the ASCII fast path of NameKey and displayName
// gives what the general path gives, over every ASCII character in
// random names, and declines anything else.
func TestASCIIFormAgrees(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		b := make([]byte, rng.IntN(24))
		for i := range b {
			b[i] = byte(rng.IntN(128))
			if rng.IntN(3) == 0 {
				b[i] = " \t\n\v\f\rAaZz"[rng.IntN(10)]
			}
		}
		name := string(b)
		key, ok := asciiForm(name, true)
		if !ok || key != unicodeNameKey(name) {
			t.Fatalf("NameKey(%q): fast %q (%v), general %q", name, key, ok, unicodeNameKey(name))
		}
		display, ok := asciiForm(name, false)
		if general := norm.NFC.String(strings.Join(strings.Fields(name), " ")); !ok || display != general {
			t.Fatalf("displayName(%q): fast %q (%v), general %q", name, display, ok, general)
		}
	}
	for _, name := range []string{"Straße", "ASHA\u00a0VERMA", "आशा", "Asha\u0085Verma"} {
		if _, ok := asciiForm(name, true); ok {
			t.Errorf("asciiForm(%q) took a name that is not ASCII", name)
		}
	}
}
