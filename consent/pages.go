package consent

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kycvs/kycvs/claims"
	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/web"
)

// Messages people see, by catalogue ID (package locale): the page writes
// them in the person's language.
var (
	msgBadMobile     = web.M("alert.bad_mobile")
	msgBadName       = web.M("alert.bad_name")
	msgBadOTP        = web.M("alert.bad_otp")
	msgOTPExpired    = web.M("alert.otp_expired")
	msgSendFailed    = web.M("alert.send_failed")
	msgSenderBusy    = web.M("alert.sender_busy")
	msgResendTooSoon = web.M("alert.resend_too_soon")
	msgNewCodeSent   = web.M("otp.new_code_sent")
)

// Message codes a form's redirect carries to its page (?m=...), so the
// outcome of a POST survives the redirect and a reload re-submits nothing.
// The URL names the outcome only: the page recomputes the tries left and
// the wait from the challenge (see pageMessages), and an unknown code or
// one the challenge no longer bears out shows nothing.
const (
	outcomeWrong   = "wrong"   // a wrong code; the page says how many tries are left
	outcomeExpired = "expired" // the code had expired
	outcomeFormat  = "format"  // not six digits
	outcomeWait    = "wait"    // a new code was asked for too soon
	outcomeSent    = "sent"    // a new code went out
	outcomeUnsent  = "unsent"  // the SMS could not be sent
	outcomeBusy    = "busy"    // the SMS service is busy
	// outcomeBadMobile and outcomeBadName: the first form's mobile or
	// name (or the no-match form's name) was refused; the challenge keeps
	// what was typed.
	outcomeBadMobile = "mobile"
	outcomeBadName   = "name"
	outcomeLimit     = "limit"    // a send limit refused the code (see Flow.limitWait)
	outcomeRegistry  = "registry" // the registry was unreachable after a right code
)

// pageMessages turns the outcome code of c's URL into the notice and the
// error of lr's page at now, from the challenge's own state: "wrong" shows
// the tries left only while a wrong try is counted, "wait" only while the
// wait lasts, "sent" only after a resend. A code that has expired shows so
// whatever the URL says.
func (f *Flow) pageMessages(c *gin.Context, lr *store.LoginRequest, now time.Time) (notice, msg web.Msg) {
	switch c.Query("m") {
	case outcomeWrong:
		if lr.State == store.LoginOTPSent && lr.OTPTries > 0 {
			msg = web.WrongOTP(f.otps.TriesLeft(lr.OTPTries))
		}
	case outcomeFormat:
		if lr.State == store.LoginOTPSent {
			msg = msgBadOTP
		}
	case outcomeWait:
		if f.resendWait(lr, now) > 0 {
			msg = msgResendTooSoon
		}
	case outcomeSent:
		if lr.State == store.LoginOTPSent && lr.OTPSends > 1 {
			notice = msgNewCodeSent
		}
	case outcomeUnsent:
		msg = msgSendFailed
	case outcomeBusy:
		msg = msgSenderBusy
	case outcomeBadMobile:
		// Not re-checked against what is kept: the input refused may have
		// held characters that are not kept (see printable).
		if lr.State == store.LoginPending {
			msg = msgBadMobile
		}
	case outcomeBadName:
		if lr.State == store.LoginPending || lr.State == store.LoginVerified {
			msg = msgBadName
		}
	}
	if lr.State == store.LoginOTPSent && (len(lr.OTPHash) == 0 || lr.OTPExpiresAt == nil || !now.Before(*lr.OTPExpiresAt)) {
		msg = msgOTPExpired
	}
	return notice, msg
}

// pageWith is the challenge's page with outcome code m for its next GET.
func (f *Flow) pageWith(challenge, m string) string {
	p := f.path(challenge, "")
	if m != "" {
		p += "?m=" + m
	}
	return p
}

// versionParam names, in a page's address, the version of the login
// request the redirect to it followed.
const versionParam = "v"

// redirectAfter answers c, which has just written lr, with a redirect to
// lr's page with outcome code m (pageAfter).
func (f *Flow) redirectAfter(c *gin.Context, lr *store.LoginRequest, m string) {
	c.Redirect(http.StatusSeeOther, f.pageAfter(c.Request.Context(), lr, m))
}

// pageAfter is the address of lr's page with outcome code m, for the
// browser of the request that has just written lr. The address names lr's
// version, and the page is shown from lr as written rather than read back
// (Flow.read, Store.KeepForPage).
func (f *Flow) pageAfter(ctx context.Context, lr *store.LoginRequest, m string) string {
	f.st.KeepForPage(ctx, lr)
	q := url.Values{versionParam: {strconv.FormatInt(lr.Version, 10)}}
	if m != "" {
		q.Set("m", m)
	}
	return f.path(lr.ID, "") + "?" + q.Encode()
}

// fieldOf names the form field msg is about, "" when it is about none.
func fieldOf(msg web.Msg) string {
	switch msg.ID {
	case msgBadMobile.ID:
		return "mobile"
	case msgBadName.ID:
		return "name"
	case msgBadOTP.ID, msgOTPExpired.ID, web.MsgWrongOTP, web.MsgWrongOTPLeft:
		return "otp"
	}
	return ""
}

// describeClaims lists the claims lr would disclose; the page describes
// each in the person's language.
func describeClaims(lr *store.LoginRequest) []string {
	return append([]string(nil), lr.Claims...)
}

func offline(lr *store.LoginRequest) bool {
	return lr.Scopes.Contains(claims.ScopeOfflineAccess)
}

func (f *Flow) renderLogin(c *gin.Context, status int, lr *store.LoginRequest, client, mobile, name string, msg web.Msg) {
	f.usePage(c, lr)
	web.Render(c, status, "login", web.LoginPage{
		ClientName:   client,
		Action:       f.path(lr.ID, ""),
		CancelAction: f.path(lr.ID, "cancel"),
		CSRFToken:    web.CSRFToken(c),
		Mobile:       mobile,
		Name:         name,
		Error:        msg,
		ErrorField:   fieldOf(msg),
	})
}

func (f *Flow) renderOTP(c *gin.Context, status int, lr *store.LoginRequest, client string, notice, msg web.Msg) {
	f.usePage(c, lr)
	web.Render(c, status, "otp", web.OTPPage{
		ClientName:   client,
		Claims:       describeClaims(lr),
		Offline:      offline(lr),
		MaskedMobile: claims.MaskMobile(lr.Mobile),
		Name:         lr.Name,
		Action:       f.path(lr.ID, "otp"),
		ResendAction: f.path(lr.ID, "resend"),
		ChangeAction: f.path(lr.ID, "change"),
		CancelAction: f.path(lr.ID, "cancel"),
		CSRFToken:    web.CSRFToken(c),
		Nonce:        web.CSPNonce(c),
		ResendWait:   f.resendWait(lr, f.now()),
		Notice:       notice,
		Error:        msg,
		CodeInvalid:  fieldOf(msg) == "otp",
	})
}

func (f *Flow) renderNoMatch(c *gin.Context, status int, lr *store.LoginRequest, client, name string, unavailable bool, msg web.Msg) {
	f.usePage(c, lr)
	web.Render(c, status, "nomatch", web.NoMatchPage{
		ClientName:   client,
		MaskedMobile: claims.MaskMobile(lr.Mobile),
		Name:         name,
		Action:       f.path(lr.ID, "name"),
		CancelAction: f.path(lr.ID, "cancel"),
		CSRFToken:    web.CSRFToken(c),
		Unavailable:  unavailable,
		Error:        msg,
	})
}

func (f *Flow) renderConsent(c *gin.Context, status int, lr *store.LoginRequest, client string, sess *store.Session) {
	f.usePage(c, lr)
	web.Render(c, status, "consent", web.ConsentPage{
		ClientName:   client,
		Claims:       describeClaims(lr),
		Offline:      offline(lr),
		Name:         sess.Name,
		MaskedMobile: claims.MaskMobile(sess.Mobile),
		Action:       f.path(lr.ID, "consent"),
		SwitchAction: f.path(lr.ID, "switch"),
		CSRFToken:    web.CSRFToken(c),
	})
}
