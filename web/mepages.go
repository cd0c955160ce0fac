package web

// The pages of a person's own page, /me (package me serves them).

// MeSignInPage is the data of the "me_signin" page: the mobile number
// that the code goes to.
type MeSignInPage struct {
	Action    string
	CSRFToken string
	// Mobile pre-fills the field after an error.
	Mobile string
	Notice Msg
	Error  Msg
	// Rights are the person's rights and whom to ask (MeRights).
	Rights MeRights
}

// MeCodePage is the data of the "me_code" page: the code sent to
// MaskedMobile. RestartAction starts again with another number.
type MeCodePage struct {
	MaskedMobile  string
	Action        string
	RestartAction string
	CSRFToken     string
	// Nonce is the response's CSP nonce (CSPNonce), for the page's one
	// script: the WebOTP autofill.
	Nonce string
	Error Msg
}

// MePage is the data of the "me" page: what the signed-in mobile's people
// disclosed and still let verifiers read.
type MePage struct {
	MaskedMobile string
	// People are the people registered on the mobile; none for a mobile
	// nobody registered (the page is then empty, never an error).
	People      []MePerson
	Disclosures []MeDisclosure
	// OlderURL is the next page of disclosures; FirstURL the first page
	// when this is not it. "" when there is none.
	OlderURL string
	FirstURL string
	Grants   []MeGrant
	// Withdrawals are the grants withdrawn on this page, newest first.
	Withdrawals    []MeWithdrawal
	WithdrawAction string
	SignOutAction  string
	DownloadURL    string
	CSRFToken      string
	// ExpiresIn says when the session ends, e.g. "15 minutes".
	ExpiresAt string
	Notice    Msg
	Error     Msg
	Rights    MeRights
}

// MePerson is one person registered on the mobile.
type MePerson struct {
	Name   string
	Status Msg
}

// MeDisclosure is one disclosure: which verifier learned what, when and
// how.
type MeDisclosure struct {
	Verifier string
	Person   string
	When     string
	// Claims are the claim names disclosed ({{claim}} says each).
	Claims  []string
	Value   Msg
	Channel Msg
}

// MeGrant is one standing grant, posted back as grant=ID to withdraw it.
type MeGrant struct {
	ID       string
	Verifier string
	Person   string
	Kind     Msg
	Since    string
	Until    string
}

// MeWithdrawal is one grant withdrawn.
type MeWithdrawal struct {
	Verifier string
	Person   string
	When     string
}

// MeRights is the rights section: Grievance is whom to write to.
type MeRights struct {
	Grievance string
}
