package otp

import (
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/kycvs/kycvs/locale"
)

// gsm7 is the GSM 03.38 basic character set; a text of only these is sent
// in 7-bit segments, anything else in UCS-2.
const gsm7 = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"

// segments is how many SMS segments text takes: 160 GSM characters in one
// segment, 153 each when split; 70 UTF-16 units in UCS-2, 67 when split.
func segments(text string) (n int, ucs2 bool) {
	for _, r := range text {
		if !strings.ContainsRune(gsm7, r) {
			ucs2 = true
			break
		}
	}
	units, single, multi := len([]rune(text)), 160, 153
	if ucs2 {
		units, single, multi = len(utf16.Encode([]rune(text))), 70, 67
	}
	if units <= single {
		return 1, ucs2
	}
	return (units + multi - 1) / multi, ucs2
}

// webOTPHost is the issuer host the segment counts assume: 20 characters.
const webOTPHost = "kycvs.example.gov.in"

// TestSMSTextPerLanguage: the SMS is in the request's language, carries
// the code first, the verifier, the service and the validity, and stays
// within two segments even for a long verifier name and the WebOTP line
// of a 20-character host. The code page's and the person's own page's SMS
// end with that line, the one told to a verifier does not. The admin's code is English whatever the
// language, and ends with the WebOTP line too.
func TestSMSTextPerLanguage(t *testing.T) {
	o := &Service{cfg: Config{Limits: Limits{TTL: 3 * time.Minute}, ServiceName: "kycvs", WebOTPHost: webOTPHost}}
	webOTP := "\n@" + webOTPHost + " #123456"
	const entity = "Indian Railway Catering Co Ltd" // 30 characters
	for _, l := range locale.All() {
		for _, notice := range []Notice{NoticeSignIn, NoticeShare} {
			text := o.text(Request{Entity: entity, Notice: notice, Lang: l}, "123456")
			if !strings.HasPrefix(text, "123456 ") || !strings.Contains(text, entity) || !strings.Contains(text, "kycvs") ||
				!strings.Contains(text, l.Text("time.minutes", "Count", 3)) {
				t.Errorf("%s notice %d: %q", l.Code(), notice, text)
			}
			if got := strings.HasSuffix(text, webOTP); got != (notice == NoticeSignIn) || strings.Count(text, "\n") != map[bool]int{true: 1}[got] {
				t.Errorf("%s notice %d: WebOTP line %v, want %v: %q", l.Code(), notice, got, notice == NoticeSignIn, text)
			}
			if l != locale.English && text == o.text(Request{Entity: entity, Notice: notice}, "123456") {
				t.Errorf("%s notice %d is the English text", l.Code(), notice)
			}
			n, ucs2 := segments(text)
			if n > 2 {
				t.Errorf("%s notice %d takes %d segments (UCS-2 %v, %d characters): %q", l.Code(), notice, n, ucs2, len([]rune(text)), text)
			}
			t.Logf("%s notice %d: %d segment(s), %d UTF-16 units, UCS-2 %v", l.Code(), notice, n, len(utf16.Encode([]rune(text))), ucs2)
		}
	}
	for _, l := range locale.All() {
		text := o.text(Request{Notice: NoticeOwnPage, Lang: l}, "123456")
		if !strings.HasPrefix(text, "123456 ") || !strings.Contains(text, "kycvs") || !strings.Contains(text, l.Text("time.minutes", "Count", 3)) ||
			!strings.HasSuffix(text, webOTP) || strings.Count(text, "\n") != 1 {
			t.Errorf("%s own page: %q", l.Code(), text)
		}
		n, ucs2 := segments(text)
		if n > 2 {
			t.Errorf("%s own page takes %d segments (UCS-2 %v): %q", l.Code(), n, ucs2, text)
		}
		t.Logf("%s own page: %d segment(s), %d UTF-16 units, UCS-2 %v", l.Code(), n, len(utf16.Encode([]rune(text))), ucs2)
	}
	admin := o.text(Request{Notice: NoticeAdmin, Lang: "hi"}, "123456")
	if !strings.HasPrefix(admin, "123456 is your code to sign in to the kycvs admin console. Valid 3 minutes.") || !strings.HasSuffix(admin, webOTP) {
		t.Errorf("admin SMS: %q", admin)
	}
	if n, _ := segments(admin); n > 2 {
		t.Errorf("admin SMS takes %d segments", n)
	}
	if text := (&Service{cfg: Config{Limits: Limits{TTL: 3 * time.Minute}, ServiceName: "kycvs"}}).text(Request{Entity: entity}, "123456"); strings.Contains(text, "\n") {
		t.Errorf("SMS without a WebOTP host: %q", text)
	}
}
