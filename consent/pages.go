package consent

import (
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
)

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
		CancelAction: f.path(lr.ID, "cancel"),
		CSRFToken:    web.CSRFToken(c),
		ResendWait:   f.resendWait(lr, f.now()),
		Notice:       notice,
		Error:        msg,
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
