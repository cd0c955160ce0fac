package kycvsapi_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kycvs/kycvs/kycvsapi"
	"github.com/kycvs/kycvs/otp"
	"github.com/kycvs/kycvs/store"
)

// TestThreeCalls: each status value through the three calls, with the
// disclosure recorded and the SMS naming the entity.
func TestThreeCalls(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, h *harness) {
		people := []struct {
			mobile, name string
			status       int
		}{
			{"9999900001", "Asha Verma", 2},
			{"9999900001", "  arjun   VERMA ", 2},
			{"9999900002", "Ravi Kumar", 1},
			{"9999900003", "Meera Nair", 0},
		}
		subs := map[string]bool{}
		for _, p := range people {
			t.Run(p.name, func(t *testing.T) {
				tok, txn := h.token(clientAir, p.mobile, p.name)
				sms := h.sms.All()
				text := sms[len(sms)-1].Text
				if !strings.Contains(text, "Example Air asks to see your vaccination status") || !strings.Contains(text, "Sharing this OTP with them gives consent") {
					t.Errorf("SMS %q lacks the notice", text)
				}
				r := h.status(tok, nil)
				want(t, r, http.StatusOK, "")
				if r.JSON["vaccination_status"] != float64(p.status) || r.JSON["txnId"] != txn {
					t.Fatalf("status answer %s, want vaccination_status %d", r.Body, p.status)
				}
				result, _ := r.JSON["signed_result"].(string)
				c := payload(t, result)
				if c["vaccination_status"] != float64(p.status) || c["aud"] != clientAir || c["iss"] != issuer || c["txn"] != txn {
					t.Errorf("result claims %v", c)
				}
				if subs[c["sub"].(string)] {
					t.Error("two people got one sub")
				}
				subs[c["sub"].(string)] = true
				// Accept: application/jwt returns the JWS alone.
				r = h.status(tok, map[string]string{"Accept": "application/jwt"})
				if r.Code != http.StatusOK || r.Header.Get("Content-Type") != "application/jwt" || strings.Count(r.Body, ".") != 2 {
					t.Fatalf("Accept application/jwt: %d %q %s", r.Code, r.Header.Get("Content-Type"), r.Body)
				}
			})
		}
		ds, err := h.st.ListDisclosures(context.Background(), store.DisclosureFilter{ClientID: clientAir})
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) != 2*len(people) {
			t.Fatalf("%d disclosures, want %d", len(ds), 2*len(people))
		}
		for _, d := range ds {
			if d.Channel != store.DisclosedByAPI || d.VaccinationStatus == nil || d.RequestID == "" || d.Subject == "" {
				t.Errorf("disclosure %+v", d)
			}
		}
	})
}

// payload decodes a JWS's claims without verifying it (the end-to-end
// test verifies against the JWKS).
func payload(t *testing.T, jws string) map[string]any {
	t.Helper()
	parts := strings.Split(jws, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS: %q", jws)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func header(t *testing.T, jws string) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(jws, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestGenerateOTPErrors(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, h *harness) {
		ctx := context.Background()
		revoked, rec, err := h.apiKeys.Create(ctx, clientAir)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.apiKeys.Revoke(ctx, rec.ID); err != nil {
			t.Fatal(err)
		}
		if err := h.st.CreateClient(ctx, &store.Client{ID: "profile-only", Name: "P", RedirectURIs: store.StringList{"https://p.example/cb"}, Scopes: store.StringList{"openid", "profile"}}); err != nil {
			t.Fatal(err)
		}
		profileKey, _, err := h.apiKeys.Create(ctx, "profile-only")
		if err != nil {
			t.Fatal(err)
		}
		good := `{"mobile_number":"9999900001","full_name":"Asha Verma"}`
		// One character changed inside the key, not at its end, where
		// base64's spare bits could leave the decoded secret unchanged.
		wrongSecret := []byte(h.key[clientAir])
		if i := len(wrongSecret) - 10; wrongSecret[i] == 'A' {
			wrongSecret[i] = 'B'
		} else {
			wrongSecret[i] = 'A'
		}
		tests := []struct {
			name   string
			key    string
			body   string
			status int
			code   string
		}{
			{"no key", "", good, http.StatusUnauthorized, kycvsapi.CodeAPIKeyRequired},
			{"malformed key", "not-a-key", good, http.StatusUnauthorized, kycvsapi.CodeInvalidAPIKey},
			{"wrong secret part", string(wrongSecret), good, http.StatusUnauthorized, kycvsapi.CodeInvalidAPIKey},
			{"revoked key", revoked, good, http.StatusUnauthorized, kycvsapi.CodeInvalidAPIKey},
			{"entity not allowed the status", profileKey, good, http.StatusForbidden, kycvsapi.CodeNotAllowed},
			{"not JSON", h.key[clientAir], `mobile_number=9999900001`, http.StatusBadRequest, kycvsapi.CodeInvalidRequest},
			{"a JSON array", h.key[clientAir], `[]`, http.StatusBadRequest, kycvsapi.CodeInvalidRequest},
			{"empty body", h.key[clientAir], ``, http.StatusBadRequest, kycvsapi.CodeInvalidRequest},
			{"no mobile", h.key[clientAir], `{"full_name":"Asha Verma"}`, http.StatusBadRequest, kycvsapi.CodeInvalidMobileNumber},
			{"bad mobile", h.key[clientAir], `{"mobile_number":"12345","full_name":"Asha Verma"}`, http.StatusBadRequest, kycvsapi.CodeInvalidMobileNumber},
			{"letters in mobile", h.key[clientAir], `{"mobile_number":"99999ABCDE","full_name":"Asha Verma"}`, http.StatusBadRequest, kycvsapi.CodeInvalidMobileNumber},
			{"mobile an object", h.key[clientAir], `{"mobile_number":{},"full_name":"Asha Verma"}`, http.StatusBadRequest, kycvsapi.CodeInvalidRequest},
			{"no name", h.key[clientAir], `{"mobile_number":"9999900001"}`, http.StatusBadRequest, kycvsapi.CodeInvalidFullName},
			{"blank name", h.key[clientAir], `{"mobile_number":"9999900001","full_name":"   "}`, http.StatusBadRequest, kycvsapi.CodeInvalidFullName},
			{"long name", h.key[clientAir], `{"mobile_number":"9999900001","full_name":"` + strings.Repeat("a", 101) + `"}`, http.StatusBadRequest, kycvsapi.CodeInvalidFullName},
			{"control character", h.key[clientAir], `{"mobile_number":"9999900001","full_name":"Asha\u0000Verma"}`, http.StatusBadRequest, kycvsapi.CodeInvalidFullName},
			{"too large", h.key[clientAir], `{"mobile_number":"9999900001","full_name":"Asha Verma","pad":"` + strings.Repeat("x", 70<<10) + `"}`, http.StatusRequestEntityTooLarge, kycvsapi.CodeBodyTooLarge},
			{"lang too long", h.key[clientAir], `{"mobile_number":"9999900001","full_name":"Asha Verma","lang":"` + strings.Repeat("hi ", 30) + `"}`, http.StatusBadRequest, kycvsapi.CodeInvalidLang},
			{"lang an object", h.key[clientAir], `{"mobile_number":"9999900001","full_name":"Asha Verma","lang":{}}`, http.StatusBadRequest, kycvsapi.CodeInvalidRequest},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				r := h.call(http.MethodPost, kycvsapi.PathGenerateOTP, tc.body, callerIP, map[string]string{kycvsapi.HeaderAPIKey: tc.key})
				want(t, r, tc.status, tc.code)
			})
		}
		if n := len(h.sms.All()); n != 0 {
			t.Errorf("%d SMS sent for refused requests", n)
		}

		t.Run("accepted variants", func(t *testing.T) {
			for i, body := range []string{
				`{"mobile_number":"9999900002","full_name":"Ravi Kumar","email_id":"ravi@example.com"}`, // extra fields, as Co-WIN clients send
				`{"mobile_number":9999900003,"full_name":"Meera Nair"}`,                                 // a number
				`{"mobile_number":"+91 99999 00004","full_name":"Nobody"}`,
			} {
				h.clock.Advance(2 * time.Minute)
				r := h.call(http.MethodPost, kycvsapi.PathGenerateOTP, body, callerIP, map[string]string{kycvsapi.HeaderAPIKey: h.key[clientAir]})
				want(t, r, http.StatusOK, "")
				if len(h.sms.All()) != i+1 {
					t.Fatalf("body %d: no SMS", i)
				}
			}
		})

		t.Run("disabled entity", func(t *testing.T) {
			if _, err := h.st.UpdateClient(ctx, clientRail, func(c *store.Client) error { c.Disabled = true; return nil }); err != nil {
				t.Fatal(err)
			}
			want(t, h.generate(clientRail, "9999900001", "Asha Verma"), http.StatusUnauthorized, kycvsapi.CodeInvalidAPIKey)
		})
	})
}

// TestGenerateOTPLanguage: the optional lang chooses the SMS's language,
// matched as ui_locales is; absent or unsupported, the SMS is English.
func TestGenerateOTPLanguage(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, h *harness) {
		tests := []struct {
			lang, want, phrase string
		}{
			{`"hi"`, "hi", "आपका OTP है"},
			{`"hin"`, "hi", "आपका OTP है"},
			{`"fr ur"`, "ur", "آپ کا OTP ہے"},
			{`"fr"`, "en", "is your OTP"},
			{`""`, "en", "is your OTP"},
			{``, "en", "is your OTP"},
		}
		for i, tc := range tests {
			body := fmt.Sprintf(`{"mobile_number":"99999%05d","full_name":"Asha Verma"`, i)
			if tc.lang != "" {
				body += `,"lang":` + tc.lang
			}
			r := h.call(http.MethodPost, kycvsapi.PathGenerateOTP, body+"}", callerIP, map[string]string{kycvsapi.HeaderAPIKey: h.key[clientAir]})
			want(t, r, http.StatusOK, "")
			sms := h.sms.All()
			last := sms[len(sms)-1]
			if last.Language != tc.want || !strings.Contains(last.Text, tc.phrase) {
				t.Errorf("lang %s: SMS %+v, want language %s with %q", tc.lang, last, tc.want, tc.phrase)
			}
		}
	})
}

// TestNoEnumeration: generateOTP answers a registered and an unknown
// mobile alike, and sends both a code.
func TestNoEnumeration(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, h *harness) {
		calls := 0
		h.reg.MatchFunc = func(ctx context.Context, m, n string) (*store.Beneficiary, error) {
			calls++
			return h.reg.real.Match(ctx, m, n)
		}
		known := h.generate(clientAir, "9999900001", "Asha Verma")
		unknown := h.generate(clientAir, "9812345678", "Nobody Here")
		want(t, known, http.StatusOK, "")
		want(t, unknown, http.StatusOK, "")
		if len(known.JSON) != 1 || len(unknown.JSON) != 1 || len(known.Body) != len(unknown.Body) {
			t.Errorf("answers differ: %s vs %s", known.Body, unknown.Body)
		}
		for _, k := range []string{"Content-Type", "Cache-Control"} {
			if known.Header.Get(k) != unknown.Header.Get(k) {
				t.Errorf("%s differs", k)
			}
		}
		if calls != 0 {
			t.Errorf("generateOTP read the registry %d times", calls)
		}
		if len(h.sms.All()) != 2 {
			t.Errorf("%d SMS, want one to each number", len(h.sms.All()))
		}
		// The unknown mobile's right OTP is where the truth comes out, to
		// the holder of that phone only.
		r := h.confirm(unknown.JSON["txnId"].(string), digest(h.lastOTP("+919812345678")), nil)
		want(t, r, http.StatusNotFound, kycvsapi.CodeNoRecord)
	})
}

func TestConfirmOTPErrors(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, h *harness) {
		txn, code := h.txn(clientAir, "9999900001", "Asha Verma")
		wrong := digest(fmt.Sprintf("%06d", (mustAtoi(t, code)+1)%1_000_000))
		tests := []struct {
			name    string
			body    string
			headers map[string]string
			status  int
			code    string
		}{
			{"not JSON", `otp=1`, nil, http.StatusBadRequest, kycvsapi.CodeInvalidRequest},
			{"no OTP", jsonBody(map[string]any{"txnId": txn}), nil, http.StatusBadRequest, kycvsapi.CodeOTPRequired},
			{"the plain OTP", jsonBody(map[string]any{"otp": code, "txnId": txn}), nil, http.StatusBadRequest, kycvsapi.CodeInvalidOTPFormat},
			{"no txnId", jsonBody(map[string]any{"otp": digest(code)}), nil, http.StatusBadRequest, kycvsapi.CodeInvalidTxnID},
			{"malformed txnId", jsonBody(map[string]any{"otp": digest(code), "txnId": "123"}), nil, http.StatusBadRequest, kycvsapi.CodeInvalidTxnID},
			{"unknown txnId", jsonBody(map[string]any{"otp": digest(code), "txnId": "00000000-0000-4000-8000-000000000000"}), nil, http.StatusUnauthorized, kycvsapi.CodeInvalidTransaction},
			{"bad x-api-key", jsonBody(map[string]any{"otp": digest(code), "txnId": txn}), map[string]string{kycvsapi.HeaderAPIKey: "kycvs_nope"}, http.StatusUnauthorized, kycvsapi.CodeInvalidAPIKey},
			{"another entity's key", jsonBody(map[string]any{"otp": digest(code), "txnId": txn}), map[string]string{kycvsapi.HeaderAPIKey: h.key[clientRail]}, http.StatusUnauthorized, kycvsapi.CodeInvalidTransaction},
			{"wrong OTP, 2 left", jsonBody(map[string]any{"otp": wrong, "txnId": txn}), nil, http.StatusUnauthorized, kycvsapi.CodeWrongOTP},
			{"wrong OTP, 1 left", jsonBody(map[string]any{"otp": wrong, "txnId": txn}), nil, http.StatusUnauthorized, kycvsapi.CodeWrongOTP},
			{"third wrong OTP", jsonBody(map[string]any{"otp": wrong, "txnId": txn}), nil, http.StatusUnauthorized, kycvsapi.CodeOTPTriesExceeded},
			{"then even the right one", jsonBody(map[string]any{"otp": digest(code), "txnId": txn}), nil, http.StatusUnauthorized, kycvsapi.CodeInvalidTransaction},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				want(t, h.call(http.MethodPost, kycvsapi.PathConfirmOTP, tc.body, callerIP, tc.headers), tc.status, tc.code)
			})
		}
		tx, err := h.st.GetAPITransaction(context.Background(), txn)
		if err != nil {
			t.Fatal(err)
		}
		if tx.State != store.TxnDead || tx.OTPTries != 3 || len(tx.OTPHash) != 0 {
			t.Errorf("after 3 wrong OTPs: %+v", tx)
		}

		t.Run("wrong OTP message counts down", func(t *testing.T) {
			h.clock.Advance(2 * time.Minute)
			txn, _ := h.txn(clientAir, "9999900002", "Ravi Kumar")
			r := h.confirm(txn, wrong, map[string]string{kycvsapi.HeaderAPIKey: h.key[clientAir]})
			want(t, r, http.StatusUnauthorized, kycvsapi.CodeWrongOTP)
			if msg := r.JSON["error"]; msg != "The OTP is not right. 2 tries left." {
				t.Errorf("message %q", msg)
			}
		})

		t.Run("expired OTP", func(t *testing.T) {
			txn, code := h.txn(clientAir, "9999900003", "Meera Nair")
			h.clock.Advance(otp.DefaultTTL)
			want(t, h.confirm(txn, digest(code), nil), http.StatusUnauthorized, kycvsapi.CodeOTPExpired)
			h.clock.Advance(kycvsapi.DefaultTransactionTTL)
			want(t, h.confirm(txn, digest(code), nil), http.StatusUnauthorized, kycvsapi.CodeInvalidTransaction)
		})

		t.Run("used once", func(t *testing.T) {
			h.clock.Advance(2 * time.Minute)
			txn, code := h.txn(clientAir, "9999900003", "Meera Nair")
			want(t, h.confirm(txn, strings.ToUpper(digest(code)), map[string]string{kycvsapi.HeaderAPIKey: h.key[clientAir]}), http.StatusOK, "")
			want(t, h.confirm(txn, digest(code), nil), http.StatusUnauthorized, kycvsapi.CodeInvalidTransaction)
		})

		t.Run("no record", func(t *testing.T) {
			h.clock.Advance(2 * time.Minute)
			txn, code := h.txn(clientAir, "9999900001", "Someone Else")
			want(t, h.confirm(txn, digest(code), nil), http.StatusNotFound, kycvsapi.CodeNoRecord)
			want(t, h.confirm(txn, digest(code), nil), http.StatusUnauthorized, kycvsapi.CodeInvalidTransaction)
		})

		t.Run("revoked key ends its transactions", func(t *testing.T) {
			ctx := context.Background()
			full, rec, err := h.apiKeys.Create(ctx, clientAir)
			if err != nil {
				t.Fatal(err)
			}
			r := h.call(http.MethodPost, kycvsapi.PathGenerateOTP, `{"mobile_number":"9999900002","full_name":"Ravi Kumar"}`, "192.0.2.99", map[string]string{kycvsapi.HeaderAPIKey: full})
			want(t, r, http.StatusOK, "")
			if err := h.apiKeys.Revoke(ctx, full); err != nil { // the whole key works as well as its ID
				t.Fatal(err)
			}
			if k, _ := h.st.GetAPIKey(ctx, rec.ID); k.RevokedAt == nil {
				t.Fatal("not revoked")
			}
			want(t, h.confirm(r.JSON["txnId"].(string), digest(h.lastOTP("+919999900002")), nil), http.StatusUnauthorized, kycvsapi.CodeInvalidAPIKey)
		})
	})
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestRegistryUnavailable: a registry that cannot be read is a 503, and
// the OTP still works once it is back.
func TestRegistryUnavailable(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, h *harness) {
		txn, code := h.txn(clientAir, "9999900002", "Ravi Kumar")
		h.reg.MatchFunc = func(context.Context, string, string) (*store.Beneficiary, error) {
			return nil, fmt.Errorf("claims: %w", store.ErrUnavailable)
		}
		want(t, h.confirm(txn, digest(code), nil), http.StatusServiceUnavailable, kycvsapi.CodeServiceUnavailable)
		h.reg.MatchFunc = nil
		r := h.confirm(txn, digest(code), nil)
		want(t, r, http.StatusOK, "")

		h.reg.BeneficiaryFunc = func(context.Context, string) (*store.Beneficiary, error) {
			return nil, errors.New("disk on fire")
		}
		want(t, h.status(r.JSON["token"].(string), nil), http.StatusInternalServerError, kycvsapi.CodeServerError)
		h.reg.BeneficiaryFunc = func(context.Context, string) (*store.Beneficiary, error) {
			return nil, fmt.Errorf("claims: %w", store.ErrNotFound)
		}
		want(t, h.status(r.JSON["token"].(string), nil), http.StatusNotFound, kycvsapi.CodeNoRecord)
		ds, _ := h.st.ListDisclosures(context.Background(), store.DisclosureFilter{})
		if len(ds) != 0 {
			t.Errorf("%d disclosures recorded for failed answers", len(ds))
		}
	})
}

func TestStatusErrors(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, h *harness) {
		ctx := context.Background()
		asha, _ := h.token(clientAir, "9999900001", "Asha Verma")
		h.clock.Advance(2 * time.Minute)
		railRavi, _ := h.token(clientRail, "9999900002", "Ravi Kumar")
		result := h.status(asha, nil).JSON["signed_result"].(string)
		if typ := header(t, result)["typ"]; typ != kycvsapi.ResultType {
			t.Errorf("result typ %v", typ)
		}
		if typ := header(t, asha)["typ"]; typ != kycvsapi.TokenType {
			t.Errorf("token typ %v", typ)
		}
		// A JWS with kycvs's key but the typ of an ID token or signed userinfo.
		idTokenLike, err := h.keys.SignJWS("RS256", "JWT", payload(t, asha))
		if err != nil {
			t.Fatal(err)
		}
		// A token for another audience, otherwise perfect.
		other := payload(t, asha)
		other["aud"] = clientAir
		wrongAud, _ := h.keys.SignJWS("ES256", kycvsapi.TokenType, other)
		// A token naming another person's transaction: its sub does not fit.
		swapped := payload(t, railRavi)
		swapped["sub"] = payload(t, asha)["sub"]
		swappedSub, _ := h.keys.SignJWS("ES256", kycvsapi.TokenType, swapped)
		// A token whose client_id is another entity's.
		stolen := payload(t, asha)
		stolen["client_id"] = clientRail
		stolenClient, _ := h.keys.SignJWS("ES256", kycvsapi.TokenType, stolen)
		parts := strings.Split(asha, ".")
		tampered := parts[0] + "." + strings.Split(railRavi, ".")[1] + "." + parts[2]

		tests := []struct {
			name    string
			auth    string
			headers map[string]string
			status  int
			code    string
		}{
			{"no header", "", nil, http.StatusUnauthorized, kycvsapi.CodeTokenRequired},
			{"another scheme", "Basic " + asha, nil, http.StatusUnauthorized, kycvsapi.CodeTokenRequired},
			{"empty bearer", "Bearer ", nil, http.StatusUnauthorized, kycvsapi.CodeTokenRequired},
			{"garbage", "Bearer abc.def.ghi", nil, http.StatusUnauthorized, kycvsapi.CodeInvalidToken},
			{"an OAuth access token shape", "Bearer ory_at_abc.def", nil, http.StatusUnauthorized, kycvsapi.CodeInvalidToken},
			{"the signed result", "Bearer " + result, nil, http.StatusUnauthorized, kycvsapi.CodeInvalidToken},
			{"typ JWT", "Bearer " + idTokenLike, nil, http.StatusUnauthorized, kycvsapi.CodeInvalidToken},
			{"another audience", "Bearer " + wrongAud, nil, http.StatusUnauthorized, kycvsapi.CodeInvalidToken},
			{"another person's sub", "Bearer " + swappedSub, nil, http.StatusUnauthorized, kycvsapi.CodeInvalidToken},
			{"another entity's client_id", "Bearer " + stolenClient, nil, http.StatusUnauthorized, kycvsapi.CodeInvalidToken},
			{"tampered payload", "Bearer " + tampered, nil, http.StatusUnauthorized, kycvsapi.CodeInvalidToken},
			{"another entity's x-api-key", "Bearer " + asha, map[string]string{kycvsapi.HeaderAPIKey: h.key[clientRail]}, http.StatusUnauthorized, kycvsapi.CodeInvalidToken},
			{"a bad x-api-key", "Bearer " + asha, map[string]string{kycvsapi.HeaderAPIKey: "kycvs_x"}, http.StatusUnauthorized, kycvsapi.CodeInvalidAPIKey},
			{"the entity's own x-api-key", "Bearer " + asha, map[string]string{kycvsapi.HeaderAPIKey: h.key[clientAir]}, http.StatusOK, ""},
			{"lower-case scheme", "bearer " + asha, nil, http.StatusOK, ""},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				hd := map[string]string{}
				for k, v := range tc.headers {
					hd[k] = v
				}
				if tc.auth != "" {
					hd["Authorization"] = tc.auth
				}
				r := h.call(http.MethodGet, kycvsapi.PathStatus, "", callerIP, hd)
				want(t, r, tc.status, tc.code)
				if tc.status == http.StatusUnauthorized && tc.code != kycvsapi.CodeInvalidAPIKey && !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
					t.Errorf("WWW-Authenticate = %q", r.Header.Get("WWW-Authenticate"))
				}
			})
		}

		t.Run("disabled entity", func(t *testing.T) {
			if _, err := h.st.UpdateClient(ctx, clientRail, func(c *store.Client) error { c.Disabled = true; return nil }); err != nil {
				t.Fatal(err)
			}
			want(t, h.status(railRavi, nil), http.StatusUnauthorized, kycvsapi.CodeInvalidToken)
		})
		t.Run("revoked key", func(t *testing.T) {
			keys, _ := h.apiKeys.List(ctx, clientAir)
			if err := h.apiKeys.Revoke(ctx, keys[0].ID); err != nil {
				t.Fatal(err)
			}
			want(t, h.status(asha, nil), http.StatusUnauthorized, kycvsapi.CodeInvalidToken)
		})
		t.Run("expired", func(t *testing.T) {
			h2 := newHarness(t, string(store.SQLite), nil)
			tok, _ := h2.token(clientAir, "9999900003", "Meera Nair")
			h2.clock.Advance(kycvsapi.DefaultTokenTTL - time.Second)
			want(t, h2.status(tok, nil), http.StatusOK, "")
			h2.clock.Advance(time.Second)
			want(t, h2.status(tok, nil), http.StatusUnauthorized, kycvsapi.CodeInvalidToken)
		})
	})
}

// TestResultAlg: the result is signed with the entity's ID token algorithm.
func TestResultAlg(t *testing.T) {
	h := newHarness(t, string(store.SQLite), nil)
	if _, err := h.st.UpdateClient(context.Background(), clientRail, func(c *store.Client) error {
		c.IDTokenSignedResponseAlg = "ES256"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for client, alg := range map[string]string{clientAir: "RS256", clientRail: "ES256"} {
		h.clock.Advance(2 * time.Minute)
		tok, _ := h.token(client, "9999900002", "Ravi Kumar")
		result := h.status(tok, nil).JSON["signed_result"].(string)
		if got := header(t, result)["alg"]; got != alg {
			t.Errorf("%s: result alg %v, want %s", client, got, alg)
		}
	}
}

func TestLimits(t *testing.T) {
	for _, dialect := range []string{string(store.SQLite)} {
		tests := []struct {
			name  string
			tweak func(*otp.Config)
			// send runs the allowed calls; the next generate must be refused.
			send  func(h *harness)
			next  func(h *harness) response
			code  string
			retry string
		}{
			{
				name:  "resend wait per entity, mobile and person",
				tweak: nil,
				send: func(h *harness) {
					want(h.t, h.generate(clientAir, "9999900001", "Asha Verma"), http.StatusOK, "")
					want(h.t, h.generate(clientRail, "9999900001", "Asha Verma"), http.StatusOK, "") // another entity
					want(h.t, h.generate(clientAir, "9999900002", "Ravi Kumar"), http.StatusOK, "")  // another mobile
					want(h.t, h.generate(clientAir, "9999900001", "Arjun Verma"), http.StatusOK, "") // another person on the mobile
					h.clock.Advance(20 * time.Second)
				},
				next:  func(h *harness) response { return h.generate(clientAir, "9999900001", " asha  VERMA") },
				code:  kycvsapi.CodeResendTooSoon,
				retry: "40",
			},
			{
				name:  "daily per mobile",
				tweak: func(c *otp.Config) { c.DailyLimit = 2; c.ResendInterval = 0 },
				send: func(h *harness) {
					want(h.t, h.generate(clientAir, "9999900001", "Asha Verma"), http.StatusOK, "")
					h.clock.Advance(time.Hour)
					want(h.t, h.generate(clientRail, "9999900001", "Asha Verma"), http.StatusOK, "")
				},
				next:  func(h *harness) response { return h.generate(clientAir, "9999900001", "Asha Verma") },
				code:  kycvsapi.CodeOTPLimitReached,
				retry: strconv.Itoa(23 * 3600),
			},
			{
				name:  "per IP",
				tweak: func(c *otp.Config) { c.IPLimit = 2 },
				send: func(h *harness) {
					want(h.t, h.generate(clientAir, "9999900001", "Asha Verma"), http.StatusOK, "")
					want(h.t, h.generate(clientRail, "9999900002", "Ravi Kumar"), http.StatusOK, "")
				},
				next:  func(h *harness) response { return h.generate(clientAir, "9999900003", "Meera Nair") },
				code:  kycvsapi.CodeTooManyRequests,
				retry: "300",
			},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				h := newHarness(t, dialect, tc.tweak)
				tc.send(h)
				sent := len(h.sms.All())
				r := tc.next(h)
				want(t, r, http.StatusTooManyRequests, tc.code)
				if got := r.Header.Get("Retry-After"); got != tc.retry {
					t.Errorf("Retry-After = %q, want %q", got, tc.retry)
				}
				if len(h.sms.All()) != sent {
					t.Error("a refused request sent an SMS")
				}
				// Another IP is not held by the per-IP limit.
				if tc.code == kycvsapi.CodeTooManyRequests {
					r := h.call(http.MethodPost, kycvsapi.PathGenerateOTP, `{"mobile_number":"9999900003","full_name":"Meera Nair"}`, "198.51.100.1",
						map[string]string{kycvsapi.HeaderAPIKey: h.key[clientAir]})
					want(t, r, http.StatusOK, "")
				}
			})
		}
	}
}

// TestSMSNotSent: a gateway failure is a 503 and leaves no transaction.
func TestSMSNotSent(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, h *harness) {
		h.sms.SendFunc = func(context.Context, otp.SMS) error { return errors.New("gateway down") }
		r := h.generate(clientAir, "9999900001", "Asha Verma")
		want(t, r, http.StatusServiceUnavailable, kycvsapi.CodeSMSNotSent)
		res, err := h.st.DeleteExpired(context.Background(), h.clock.Now().Add(time.Hour), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if res.APITransactions != 0 {
			t.Errorf("%d transactions left behind", res.APITransactions)
		}
		// Nothing blocks a retry once the gateway is back.
		h.sms.SendFunc = nil
		want(t, h.generate(clientAir, "9999900001", "Asha Verma"), http.StatusOK, "")
	})
}

// TestConcurrentConfirm: racing confirmOTP calls with the right OTP get
// one token.
func TestConcurrentConfirm(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, h *harness) {
		txn, code := h.txn(clientAir, "9999900002", "Ravi Kumar")
		const n = 8
		var wg sync.WaitGroup
		codes := make(chan int, n)
		for range n {
			wg.Go(func() { codes <- h.confirm(txn, digest(code), nil).Code })
		}
		wg.Wait()
		close(codes)
		ok := 0
		for c := range codes {
			switch c {
			case http.StatusOK:
				ok++
			case http.StatusUnauthorized:
			default:
				t.Errorf("status %d", c)
			}
		}
		if ok != 1 {
			t.Errorf("%d tokens issued for one OTP, want 1", ok)
		}
	})
}

func TestAPIKeys(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, h *harness) {
		ctx := context.Background()
		full, rec, err := h.apiKeys.Create(ctx, clientAir)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(full, rec.ID+"_") || len(full) != 66 || !strings.HasPrefix(rec.ID, "kycvs_") {
			t.Fatalf("key %q, id %q", full, rec.ID)
		}
		stored, err := h.st.GetAPIKey(ctx, rec.ID)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(stored.Hash), full[len(rec.ID)+1:]) || len(stored.Hash) != 32 {
			t.Fatal("key stored in the clear")
		}
		if _, _, err := h.apiKeys.Create(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Create for an unknown client: %v", err)
		}
		k, c, err := h.apiKeys.Authenticate(ctx, full)
		if err != nil || k.ID != rec.ID || c.ID != clientAir {
			t.Fatalf("Authenticate: %v %v %v", k, c, err)
		}
		// Another server secret: the same key does not authenticate.
		other := kycvsapi.NewAPIKeys(h.st, []byte("another-secret-0123456789abcdefghij"))
		if _, _, err := other.Authenticate(ctx, full); !errors.Is(err, kycvsapi.ErrInvalidAPIKey) {
			t.Errorf("another secret: %v", err)
		}
		for _, bad := range []string{"", "kycvs_", full + "x", full[:65], strings.Replace(full, "kycvs_", "kycvz_", 1), strings.ToUpper(full)} {
			if _, _, err := h.apiKeys.Authenticate(ctx, bad); !errors.Is(err, kycvsapi.ErrInvalidAPIKey) {
				t.Errorf("Authenticate(%q): %v", bad, err)
			}
		}
		if err := h.apiKeys.Revoke(ctx, rec.ID); err != nil {
			t.Fatal(err)
		}
		if err := h.apiKeys.Revoke(ctx, rec.ID); !errors.Is(err, store.ErrConflict) {
			t.Errorf("second revoke: %v", err)
		}
		if _, _, err := h.apiKeys.Authenticate(ctx, full); !errors.Is(err, kycvsapi.ErrInvalidAPIKey) {
			t.Errorf("revoked key: %v", err)
		}
		ks, err := h.apiKeys.List(ctx, clientAir)
		if err != nil || len(ks) != 2 {
			t.Fatalf("List: %d keys, %v", len(ks), err)
		}
	})
}

// TestDatabaseOutage: an unreachable database is a 503 on every call,
// never a 401 or a 500.
func TestDatabaseOutage(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, h *harness) {
		txn, code := h.txn(clientAir, "9999900001", "Asha Verma")
		h.clock.Advance(2 * time.Minute)
		tok, _ := h.token(clientAir, "9999900002", "Ravi Kumar")
		if err := h.st.Close(); err != nil {
			t.Fatal(err)
		}
		want(t, h.generate(clientAir, "9999900003", "Meera Nair"), http.StatusServiceUnavailable, kycvsapi.CodeServiceUnavailable)
		want(t, h.confirm(txn, digest(code), nil), http.StatusServiceUnavailable, kycvsapi.CodeServiceUnavailable)
		want(t, h.status(tok, nil), http.StatusServiceUnavailable, kycvsapi.CodeServiceUnavailable)
	})
}
