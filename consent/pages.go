package consent

import (
	"github.com/gin-gonic/gin"

	"github.com/kycvs/kycvs/claims"
	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/web"
)

// Messages people see. Kept together so their wording stays consistent.
const (
	msgBadMobile     = "Enter a valid mobile number: 10 digits, or + and the country code."
	msgBadName       = "Enter your full name, as on your vaccination certificate (up to 100 characters)."
	msgBadOTP        = "Enter the 6-digit code from the SMS."
	msgOTPExpired    = "This code has expired. Ask for a new one."
	msgSendFailed    = "We could not send the SMS, try again."
	msgSenderBusy    = "Our SMS service is busy right now. Try again in a few seconds."
	msgResendTooSoon = "We sent you a code a moment ago. Enter it, or ask for a new one when the wait is over."
	msgLimited       = "Too many codes were asked for this number, from your network or by this service. Try again later."
)

// maxNameLen is the longest name accepted, in characters after trimming.
const maxNameLen = 100

// describeClaims lists what lr would disclose, for people.
func describeClaims(lr *store.LoginRequest) []string {
	out := make([]string, 0, len(lr.Claims))
	for _, c := range lr.Claims {
		out = append(out, claims.Describe(c))
	}
	if len(out) == 0 {
		out = append(out, "that you signed in with this mobile number")
	}
	return out
}

func offline(lr *store.LoginRequest) bool {
	return lr.Scopes.Contains(claims.ScopeOfflineAccess)
}

func (f *Flow) renderLogin(c *gin.Context, status int, lr *store.LoginRequest, client, mobile, name, msg string) {
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

func (f *Flow) renderOTP(c *gin.Context, status int, lr *store.LoginRequest, client, notice, msg string) {
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

func (f *Flow) renderNoMatch(c *gin.Context, status int, lr *store.LoginRequest, client, name string, unavailable bool, msg string) {
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
