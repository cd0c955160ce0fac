package consent_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/kycvs/kycvs/consent"
	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/web"
)

// fakeFinisher answers the client with a redirect to rail's callback,
// writing with the approval what oauth's would: the request's move from
// approved to used (of use, when set: another request's). When leave is
// set it leaves the answer to FinishURL. It keeps what each call was
// handed.
type fakeFinisher struct {
	leave bool
	use   string

	mu    sync.Mutex
	calls []finishCall
}

type finishCall struct {
	lr     store.LoginRequest
	client *store.Client
	sess   *store.Session
	person *store.Beneficiary
}

func (f *fakeFinisher) PrepareApproved(c *gin.Context, w *store.Writes, lr *store.LoginRequest, client *store.Client, sess *store.Session, person *store.Beneficiary) (func(), bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, finishCall{lr: *lr, client: client, sess: sess, person: person})
	if f.leave {
		return nil, false
	}
	use := lr.ID
	if f.use != "" {
		use = f.use
	}
	w.UseApprovedLoginRequest(use)
	return func() { c.Redirect(http.StatusSeeOther, "https://rail.example/cb?code=issued") }, true
}

func (f *fakeFinisher) last(t *testing.T) (finishCall, int) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.calls) == 0 {
		t.Fatal("the finisher was not called")
	}
	return f.calls[len(f.calls)-1], len(f.calls)
}

// A right code's answer is worked out by the finisher and written with
// the approval, all or none, from what the flow read and wrote: the
// request approved, its client, the session whose cookie the answer sets,
// and the person matched. A finisher that leaves the answer sends the
// browser to FinishURL; so does Share on the one-tap screen. A wrong code
// never reaches it.
func TestFinisherAnswersApproval(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, ts *testServer) {
		fin := &fakeFinisher{}
		ts.flow.FinishWith(fin)

		b := ts.browser()
		ch := ts.newChallenge()
		if w := b.start(ch, mobileAsha, nameAsha); w.Status != http.StatusSeeOther {
			t.Fatalf("start: %d", w.Status)
		}
		wrong := "000000"
		if ts.lastOTP(mobileAsha) == wrong {
			wrong = "111111"
		}
		b.post("/login/"+ch+"/otp", url.Values{"otp": {wrong}})
		if len(fin.calls) != 0 {
			t.Fatalf("a wrong code reached the finisher")
		}
		wantRedirect(t, b.post("/login/"+ch+"/otp", url.Values{"otp": {ts.lastOTP(mobileAsha)}}), "https://rail.example/cb?code=issued")
		got, _ := fin.last(t)
		lr := wantState(t, ts, ch, store.LoginUsed) // approved, then used, in one write
		if got.lr.ID != ch || got.lr.State != store.LoginApproved || got.lr.BeneficiaryID != "ben-asha" || got.lr.SessionID != lr.SessionID {
			t.Errorf("finisher got request %+v, stored %+v", got.lr, lr)
		}
		if got.client == nil || got.client.ID != clientRail || got.client.Name != "Indian Rail" {
			t.Errorf("finisher got client %+v, want rail's row", got.client)
		}
		if got.person == nil || got.person.ID != "ben-asha" {
			t.Errorf("finisher got person %+v, want ben-asha", got.person)
		}
		cookie := b.cookie(consent.SessionCookie)
		if cookie == nil || got.sess == nil || got.sess.ID != lr.SessionID {
			t.Fatalf("finisher got session %+v; cookie %v, request's session %q", got.sess, cookie, lr.SessionID)
		}
		r, _ := http.NewRequest(http.MethodGet, "/", nil)
		r.AddCookie(cookie)
		if sess, err := ts.flow.CurrentSession(r); err != nil || sess.ID != got.sess.ID || sess.BeneficiaryID != "ben-asha" {
			t.Errorf("the answer's cookie is session %+v (%v), want the one handed to the finisher", sess, err)
		}

		// Share on the one-tap screen goes through FinishURL.
		ch2 := ts.newChallenge()
		wantStatus(t, b.get("/login/"+ch2), http.StatusOK)
		wantRedirect(t, b.post("/login/"+ch2+"/consent", url.Values{"decision": {"share"}}), finishURL(ch2))
		if _, calls := fin.last(t); calls != 1 {
			t.Errorf("Share reached the finisher")
		}

		// Left to FinishURL.
		fin.leave = true
		ch3 := ts.newChallenge()
		wantRedirect(t, ts.browser().signIn(ch3), finishURL(ch3))
		if _, calls := fin.last(t); calls != 2 {
			t.Errorf("%d calls to the finisher, want 2", calls)
		}
		wantState(t, ts, ch3, store.LoginApproved)

		// A write of the finisher's that fails (here: another request,
		// not approved, moved to used) leaves the approval unwritten too.
		fin.leave, fin.use = false, ch2+"-not-approved"
		ch4 := ts.newChallenge()
		b4 := ts.browser()
		if w := b4.start(ch4, mobileAsha, nameAsha); w.Status != http.StatusSeeOther {
			t.Fatalf("start: %d", w.Status)
		}
		form := url.Values{"otp": {ts.lastOTP(mobileAsha)}, web.CSRFField: {b4.token()}}
		req, _ := http.NewRequest(http.MethodPost, b4.Base+"/login/"+ch4+"/otp", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if w := b4.Do(req); w.Status != http.StatusInternalServerError || w.Header.Get("Location") != "" {
			t.Errorf("a failed write answered %d %q, want the error page", w.Status, w.Header.Get("Location"))
		}
		lr4 := wantState(t, ts, ch4, store.LoginOTPSent)
		if lr4.SessionID != "" {
			t.Errorf("a session was recorded without the finisher's writes: %+v", lr4)
		}
		if _, err := ts.st.GetSession(context.Background(), got.sess.ID, ts.clock.Now()); err != nil {
			t.Errorf("the first browser's session: %v", err)
		}
	})
}
