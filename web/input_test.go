package web_test

import (
	"testing"

	"github.com/kycvs/kycvs/web"
)

func TestPrintableAndTruncate(t *testing.T) {
	if got := web.Printable("Asha\x00 Ver\xffma\n"); got != "Asha Verma" {
		t.Errorf("Printable: %q", got)
	}
	if got := web.Printable("आशा वर्मा"); got != "आशा वर्मा" {
		t.Errorf("Printable changed Hindi: %q", got)
	}
	if got := web.Truncate("आशा वर्मा", 3); got != "आशा" {
		t.Errorf("Truncate counts characters, not bytes: %q", got)
	}
	if got := web.Truncate("Asha", 10); got != "Asha" {
		t.Errorf("Truncate: %q", got)
	}
}
