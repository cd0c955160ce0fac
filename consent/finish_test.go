package consent_test

import (
	"net/http"
	"net/url"
	"sync"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/kycvs/kycvs/consent"
	"github.com/kycvs/kycvs/store"
)

// fakeFinisher answers the client with a redirect to rail's callback when
// answer is set, and otherwise leaves the answer to FinishURL; it keeps
// what each call was handed.
type fakeFinisher struct {
	answer bool

	mu    sync.Mutex
	calls []finishCall
}

type finishCall struct {
	lr     store.LoginRequest
	client *store.Client
	sess   *store.Session
	person *store.Beneficiary
}

func (f *fakeFinisher) FinishApproved(c *gin.Context, lr *store.LoginRequest, client *store.Client, sess *store.Session, person *store.Beneficiary) bool {
	f.mu.Lock()
	f.calls = append(f.calls, finishCall{lr: *lr, client: client, sess: sess, person: person})
	f.mu.Unlock()
	if !f.answer {
		return false
	}
	c.Redirect(http.StatusSeeOther, "https://rail.example/cb?code=issued")
	return true
}

func (f *fakeFinisher) last(t *testing.T) finishCall {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.calls) == 0 {
		t.Fatal("the finisher was not called")
	}
	return f.calls[len(f.calls)-1]
}

// An approval is answered by the finisher, in the same request, with
// what the flow read and wrote: the request approved, its client, the
// session whose cookie the answer sets, and the person matched. A
// finisher that leaves the answer sends the browser to FinishURL; so
// does every wrong code, which the finisher never sees.
func TestFinisherAnswersApproval(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, ts *testServer) {
		fin := &fakeFinisher{answer: true}
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
		got := fin.last(t)
		lr := wantState(t, ts, ch, store.LoginApproved)
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

		// Share on the one-tap screen: the session's person, not read
		// again here; the client is left to the finisher.
		ch2 := ts.newChallenge()
		wantStatus(t, b.get("/login/"+ch2), http.StatusOK)
		wantRedirect(t, b.post("/login/"+ch2+"/consent", url.Values{"decision": {"share"}}), "https://rail.example/cb?code=issued")
		got = fin.last(t)
		if got.lr.ID != ch2 || got.lr.State != store.LoginApproved || got.sess == nil || got.sess.ID != lr.SessionID || got.client != nil || got.person != nil {
			t.Errorf("Share: finisher got %+v", got)
		}

		// Left to FinishURL.
		fin.answer = false
		ch3 := ts.newChallenge()
		wantRedirect(t, ts.browser().signIn(ch3), finishURL(ch3))
		if calls := len(fin.calls); calls != 3 {
			t.Fatalf("%d calls to the finisher, want 3", calls)
		}
		wantState(t, ts, ch3, store.LoginApproved)
	})
}
