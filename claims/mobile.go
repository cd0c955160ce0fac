package claims

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// maxMobileLen bounds the input NormalizeMobile looks at: the longest E.164
// number is 16 characters, so 32 leaves ample room for spaces and dashes.
const maxMobileLen = 32

// defaultRegion is the region of a number typed without a country code:
// kycvs follows Co-WIN, where people type a 10-digit Indian number.
const defaultRegion = "IN"

// NormalizeMobile turns a mobile number as a person or a registry file
// writes it into E.164, e.g. "+919876543210". It accepts a 10-digit Indian
// number, with or without a leading "0", spaces, dashes, dots or
// parentheses, and any country's number written with "+" and its country
// code. It returns an error, never panics, for anything else: empty input,
// more than 32 characters, letters or other symbols (phonenumbers would
// read "1-800-FLOWERS" as digits; a mobile field must not), numbers that
// are not valid, and valid numbers that cannot receive an SMS (fixed line,
// toll free, premium rate, ...), since the OTP goes by SMS. The error text
// never repeats the input, so it is safe to log.
func NormalizeMobile(s string) (e164 string, err error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", errors.New("mobile number is empty")
	}
	if len(s) > maxMobileLen {
		return "", fmt.Errorf("mobile number is too long (more than %d characters)", maxMobileLen)
	}
	digits := 0
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r == '+' && i == 0:
		case r == ' ', r == '-', r == '.', r == '(', r == ')':
		default:
			return "", errors.New("mobile number may contain only digits, a leading +, spaces and dashes")
		}
	}
	if digits == 0 {
		return "", errors.New("mobile number has no digits")
	}
	national, fast := indianNational(s)
	if fast && prefixCacheUsable() {
		v := prefixVerdict(national)
		if v == verdictUnknown {
			v = indianVerdict(national)
			setPrefixVerdict(national, v)
		}
		switch v {
		case verdictMobile:
			return "+91" + national, nil
		case verdictInvalid:
			return "", errInvalidMobile
		default:
			return "", errNotMobile
		}
	}
	return checkPlan(s)
}

var (
	errInvalidMobile = errors.New("not a valid mobile number: want a 10-digit Indian mobile number or + country code and number")
	errNotMobile     = errors.New("not a mobile number: it cannot receive an SMS")
)

// checkPlan checks s against the numbering plan and returns it in E.164.
func checkPlan(s string) (e164 string, err error) {
	defer func() {
		// The parser is third-party code fed with untrusted input.
		if recover() != nil {
			e164, err = "", errors.New("mobile number could not be read")
		}
	}()
	num, err := phonenumbers.Parse(s, defaultRegion)
	if err != nil || !phonenumbers.IsValidNumber(num) {
		return "", errInvalidMobile
	}
	if typeVerdict(phonenumbers.GetNumberType(num)) == verdictNotMobile {
		return "", errNotMobile
	}
	return phonenumbers.Format(num, phonenumbers.E164), nil
}

// indianVerdict is checkPlan's verdict on the 10-digit Indian national
// number n (as indianNational returns it), from the number built directly
// rather than parsed out of text: parsing and IsValidNumber (the same
// number-type match GetNumberType makes, UNKNOWN when invalid) were two
// thirds of the check's cost, which a registry pays once per 6-digit
// prefix. TestIndianVerdictAgrees compares the two.
func indianVerdict(n string) int {
	nn, err := strconv.ParseUint(n, 10, 64)
	if err != nil {
		return verdictInvalid
	}
	cc := int32(91)
	return typeVerdict(phonenumbers.GetNumberType(&phonenumbers.PhoneNumber{CountryCode: &cc, NationalNumber: &nn}))
}

// typeVerdict is what a number of type t is to kycvs: invalid (UNKNOWN),
// not able to receive an SMS, or a mobile.
func typeVerdict(t phonenumbers.PhoneNumberType) int {
	switch t {
	case phonenumbers.UNKNOWN:
		return verdictInvalid
	case phonenumbers.FIXED_LINE, phonenumbers.TOLL_FREE, phonenumbers.PREMIUM_RATE,
		phonenumbers.SHARED_COST, phonenumbers.UAN, phonenumbers.VOICEMAIL, phonenumbers.PAGER:
		return verdictNotMobile
	}
	return verdictMobile
}

// MaskMobile hides a mobile number for logs and screens: an E.164 number
// keeps its country code and last four digits, "+919876543210" becomes
// "+91******3210". Anything else keeps only its last four characters, and
// none when it has four or fewer; "" stays "". It never returns the whole
// number.
func MaskMobile(e164 string) string {
	if e164 == "" {
		return ""
	}
	if len(e164) > 2 && e164[0] == '+' && allDigits(e164[1:]) {
		digits := e164[1:]
		// Country codes are prefix-free (ITU-T E.164), so the first known
		// prefix of 1 to 3 digits is the country code.
		for l := 1; l <= 3 && l < len(digits); l++ {
			cc, _ := strconv.Atoi(digits[:l])
			if len(phonenumbers.GetRegionCodesForCountryCode(cc)) > 0 {
				return "+" + digits[:l] + maskTail(digits[l:])
			}
		}
	}
	return maskTail(e164)
}

// maskTail replaces all but the last four characters of s with '*', or all
// of s when it is four characters or shorter.
func maskTail(s string) string {
	r := []rune(s)
	if len(r) <= 4 {
		return strings.Repeat("*", len(r))
	}
	return strings.Repeat("*", len(r)-4) + string(r[len(r)-4:])
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
