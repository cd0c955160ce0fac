package consent_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/kycvs/kycvs/claims"
	"github.com/kycvs/kycvs/locale"
	"github.com/kycvs/kycvs/store"
)

// devanagari writes an ASCII code in Devanagari digits, as a Hindi
// keyboard types it.
func devanagari(code string) string {
	return strings.Map(func(r rune) rune { return r - '0' + '०' }, code)
}

// TestSignInLanguage: the relying party's ui_locales chooses the pages'
// language through the whole sign-in, the person's pick on a page wins
// over it from then on, and a code typed in Devanagari digits is accepted.
func TestSignInLanguage(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, ts *testServer) {
		ch := ts.newChallenge(func(lr *store.LoginRequest) { lr.Form = "client_id=rail&ui_locales=hin+en" })
		b := ts.browser()

		w := b.get("/login/" + ch)
		wantStatus(t, w, http.StatusOK)
		wantBody(t, w, `<html lang="hi" dir="ltr">`, "अपनी टीकाकरण स्थिति साझा करें", `href="/lang/ur?next=%2Flogin%2F`+ch+`"`)

		// A wrong mobile: the answer to the POST is in Hindi too.
		w = b.follow(b.post("/login/"+ch, url.Values{"mobile": {"12"}, "name": {nameAsha}}), ch, "mobile")
		wantStatus(t, w, http.StatusBadRequest)
		wantBody(t, w, `<html lang="hi"`, "सही मोबाइल नंबर दर्ज करें")

		// The person picks Urdu on the page: it holds for this sign-in.
		wantRedirect(t, b.get("/lang/ur?next=%2Flogin%2F"+ch), "/login/"+ch)
		w = b.get("/login/" + ch)
		wantBody(t, w, `<html lang="ur" dir="rtl">`, "کوڈ بھیجیں")

		if w := b.start(ch, mobileAsha, nameAsha); w.Status != http.StatusSeeOther {
			t.Fatalf("start: %d", w.Status)
		}
		// The SMS is in the page's language, and says which.
		sms := ts.sms.All()
		if last := sms[len(sms)-1]; last.Language != "ur" || !strings.Contains(last.Text, "کوڈ:") || !strings.Contains(last.Text, "Indian Rail") {
			t.Errorf("SMS = %+v", last)
		}
		w = b.follow(b.post("/login/"+ch+"/otp", url.Values{"otp": {"000000"}}), ch, "wrong")
		wantBody(t, w, `<html lang="ur" dir="rtl">`, "یہ کوڈ درست نہیں ہے", "<title>خرابی: ")

		otp := ts.lastOTP(mobileAsha)
		wantRedirect(t, b.post("/login/"+ch+"/otp", url.Values{"otp": {devanagari(otp)}}), finishURL(ch))
		wantState(t, ts, ch, store.LoginApproved)
	})
}

// TestEveryClaimDescribed: every claim kycvs discloses has its words in
// the catalogues, so no page shows a claim by its bare name.
func TestEveryClaimDescribed(t *testing.T) {
	for _, n := range claims.Disclosed {
		if !locale.Has("claim." + n) {
			t.Errorf("claim %s has no claim.%s message", n, n)
		}
	}
}
