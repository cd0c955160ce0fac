package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	josev4 "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"

	"github.com/kycvs/kycvs/admin"
	"github.com/kycvs/kycvs/internal/kycvstest"
	"github.com/kycvs/kycvs/kycvsapi"
	"github.com/kycvs/kycvs/oauth"
	"github.com/kycvs/kycvs/otp"
	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/store/storetest"
)

// legacyClient calls the KYC-VS API the way integrations written for
// Co-WIN do (compare a public iOS client's WebService.swift): a base URL
// and a key, the OTP hashed with SHA-256 before it is sent, the txnId kept
// between the calls, the token sent as a bearer. It knows nothing of
// kycvs beyond that; moving to kycvs changes only BaseURL and APIKey.
type legacyClient struct {
	BaseURL string // e.g. https://cdn-api.co-vin.in/api; here kycvs's issuer + "/api"
	APIKey  string
	// KeyOnEveryCall sends x-api-key on all three calls, as clients behind
	// an API gateway do; otherwise only on generateOTP.
	KeyOnEveryCall bool
}

// legacyError is the {"errorCode", "error"} body of a failed call.
type legacyError struct {
	HTTPStatus int
	RetryAfter string
	ErrorCode  string `json:"errorCode"`
	Message    string `json:"error"`
}

func (e *legacyError) Error() string {
	return fmt.Sprintf("%d %s: %s", e.HTTPStatus, e.ErrorCode, e.Message)
}

func (c *legacyClient) call(method, path string, body map[string]string, bearer, accept string, out any) error {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.BaseURL+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	if c.KeyOnEveryCall || path == "/v3/vaccination/generateOTP" {
		req.Header.Set("x-api-key", c.APIKey)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		e := &legacyError{HTTPStatus: resp.StatusCode, RetryAfter: resp.Header.Get("Retry-After")}
		if err := json.Unmarshal(data, e); err != nil {
			return fmt.Errorf("%d with a body that is not the error JSON: %q", resp.StatusCode, data)
		}
		return e
	}
	if s, ok := out.(*string); ok {
		*s = string(data)
		return nil
	}
	return json.Unmarshal(data, out)
}

func (c *legacyClient) GenerateOTP(mobile, name, email string) (string, error) {
	var r struct {
		TxnID string `json:"txnId"`
	}
	err := c.call(http.MethodPost, "/v3/vaccination/generateOTP", map[string]string{"mobile_number": mobile, "full_name": name, "email_id": email}, "", "", &r)
	return r.TxnID, err
}

func (c *legacyClient) ConfirmOTP(txnID, otp string) (string, error) {
	sum := sha256.Sum256([]byte(otp))
	var r struct {
		Token string `json:"token"`
	}
	err := c.call(http.MethodPost, "/v3/vaccination/confirmOTP", map[string]string{"otp": hex.EncodeToString(sum[:]), "txnId": txnID}, "", "", &r)
	return r.Token, err
}

// statusAnswer is the status body; signed_result is what kycvs adds.
type statusAnswer struct {
	VaccinationStatus int    `json:"vaccination_status"`
	TxnID             string `json:"txnId"`
	SignedResult      string `json:"signed_result"`
}

func (c *legacyClient) Status(token string) (statusAnswer, error) {
	var r statusAnswer
	err := c.call(http.MethodGet, "/v3/vaccination/status", nil, token, "", &r)
	return r, err
}

func (c *legacyClient) StatusJWT(token string) (string, error) {
	var s string
	err := c.call(http.MethodGet, "/v3/vaccination/status", nil, token, "application/jwt", &s)
	return s, err
}

// apiKey issues an API key for client through the command line, as an
// admin would, and returns it.
func (ts *testServer) apiKey(t *testing.T, clientID string) string {
	t.Helper()
	t.Setenv("KYCVS_DATABASE_URL", ts.cfg.DatabaseURL)
	t.Setenv("KYCVS_SECRET", testSecret)
	// "--": generated client IDs are base64url and may start with "-".
	out, err := kycvs(t, "clients", "api-keys", "create", "--json", "--", clientID)
	if err != nil {
		t.Fatal(err)
	}
	var k struct {
		APIKey   string `json:"api_key"`
		ID       string `json:"id"`
		ClientID string `json:"client_id"`
	}
	if err := json.Unmarshal([]byte(out), &k); err != nil || k.APIKey == "" || k.ClientID != clientID || !strings.HasPrefix(k.APIKey, k.ID) {
		t.Fatalf("api-keys create --json: %q %v", out, err)
	}
	return k.APIKey
}

func (ts *testServer) legacy(key string) *legacyClient {
	return &legacyClient{BaseURL: ts.URL + "/api", APIKey: key}
}

// resultClaims are the signed result's claims.
type resultClaims struct {
	josejwt.Claims
	VaccinationStatus *int   `json:"vaccination_status"`
	Txn               string `json:"txn"`
}

// verifyResult verifies a signed result as any verifier would: the JWKS
// found through discovery and fetched over HTTP, go-jose for the signature
// and the standard claims.
func verifyResult(t *testing.T, ts *testServer, jws, clientID string) resultClaims {
	t.Helper()
	resp, err := http.Get(ts.URL + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	var disc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	err = json.NewDecoder(resp.Body).Decode(&disc)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	resp, err = http.Get(disc.JWKSURI)
	if err != nil {
		t.Fatal(err)
	}
	var set josev4.JSONWebKeySet
	err = json.NewDecoder(resp.Body).Decode(&set)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	tok, err := josejwt.ParseSigned(jws, []josev4.SignatureAlgorithm{josev4.RS256, josev4.ES256})
	if err != nil {
		t.Fatal(err)
	}
	if typ := tok.Headers[0].ExtraHeaders[josev4.HeaderType]; typ != kycvsapi.ResultType {
		t.Errorf("result typ %v", typ)
	}
	keys := set.Key(tok.Headers[0].KeyID)
	if len(keys) != 1 {
		t.Fatalf("result signed by key %q, not in the JWKS", tok.Headers[0].KeyID)
	}
	var c resultClaims
	if err := tok.Claims(keys[0].Key, &c); err != nil {
		t.Fatalf("result signature: %v", err)
	}
	if err := c.Validate(josejwt.Expected{Issuer: disc.Issuer, AnyAudience: josejwt.Audience{clientID}, Time: time.Now()}); err != nil {
		t.Fatalf("result claims: %v", err)
	}
	if c.Subject == "" || c.IssuedAt == nil || c.Expiry == nil || c.VaccinationStatus == nil || c.Txn == "" {
		t.Fatalf("result claims incomplete: %+v", c)
	}
	return c
}

// TestKYCVSAPIEndToEnd: an integration written for Co-WIN's KYC-VS gets
// each status value from kycvs with only the base URL and the key
// changed, and a result it verifies against the JWKS.
func TestKYCVSAPIEndToEnd(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect, nil)
		id, secret := ts.client(oauth.ClientSpec{Name: "Example Air"})
		key := ts.apiKey(t, id)
		people := []struct {
			mobile, name string
			status       int
			everyCall    bool
		}{
			{"9999900001", "Asha Verma", 2, false},
			{"9999900001", "arjun  verma", 2, true}, // a family shares the mobile; the name picks
			{"9999900002", "Ravi Kumar", 1, true},
			{"9999900003", "Meera Nair", 0, false},
		}
		subs := map[string]string{}
		for _, p := range people {
			t.Run(p.name, func(t *testing.T) {
				c := ts.legacy(key)
				c.KeyOnEveryCall = p.everyCall
				txnID, err := c.GenerateOTP(p.mobile, p.name, "someone@example.com")
				if err != nil {
					t.Fatal(err)
				}
				msgs := ts.lastSMS(t, "+91"+p.mobile)
				if !strings.Contains(msgs, "Example Air asks to see your vaccination status") || !strings.Contains(msgs, "Valid 3 minutes") {
					t.Errorf("SMS %q does not tell who asks and what for", msgs)
				}
				token, err := c.ConfirmOTP(txnID, ts.lastOTP("+91"+p.mobile))
				if err != nil {
					t.Fatal(err)
				}
				ans, err := c.Status(token)
				if err != nil {
					t.Fatal(err)
				}
				if ans.VaccinationStatus != p.status || ans.TxnID != txnID {
					t.Fatalf("status %+v, want %d", ans, p.status)
				}
				rc := verifyResult(t, ts, ans.SignedResult, id)
				if *rc.VaccinationStatus != p.status || rc.Txn != txnID {
					t.Fatalf("signed result %+v", rc)
				}
				subs[p.name] = rc.Subject
				jws, err := c.StatusJWT(token)
				if err != nil {
					t.Fatal(err)
				}
				if rc := verifyResult(t, ts, jws, id); *rc.VaccinationStatus != p.status {
					t.Fatalf("application/jwt result %+v", rc)
				}
			})
		}
		if subs["Asha Verma"] == subs["arjun  verma"] {
			t.Error("two people on one mobile got one sub")
		}
		// The person has one sub per entity, whichever channel it used.
		r := ts.newRP(id, secret)
		a := r.authorize()
		v := r.finish(a, ts.newBrowser().signIn(a, "9999900002", "Ravi Kumar"))
		if v.IDToken.Subject != subs["Ravi Kumar"] {
			t.Errorf("OIDC sub %q, API sub %q: want the same", v.IDToken.Subject, subs["Ravi Kumar"])
		}
		// Every status answer is on record, marked with its channel.
		ds, err := ts.store().ListDisclosures(context.Background(), store.DisclosureFilter{ClientID: id})
		if err != nil {
			t.Fatal(err)
		}
		api := 0
		for _, d := range ds {
			if d.Channel == store.DisclosedByAPI {
				api++
				if d.VaccinationStatus == nil || d.RequestID == "" {
					t.Errorf("disclosure %+v", d)
				}
			}
		}
		if api != 2*len(people) {
			t.Errorf("%d kycvs-api disclosures, want %d", api, 2*len(people))
		}
	})
}

// lastSMS is the text of the last SMS to mobile.
func (ts *testServer) lastSMS(t *testing.T, mobile string) string {
	t.Helper()
	msgs, err := otp.ReadSMSFile(ts.smsFile)
	if err != nil {
		t.Fatal(err)
	}
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].To == mobile {
			return msgs[i].Text
		}
	}
	t.Fatalf("no SMS to %s", mobile)
	return ""
}

// TestKYCVSAPITokenBinding: a token reads only the person and for only the
// entity it was issued to, and is no OAuth token (nor the reverse).
func TestKYCVSAPITokenBinding(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect, nil)
		air, airSecret := ts.client(oauth.ClientSpec{Name: "Example Air"})
		rail, _ := ts.client(oauth.ClientSpec{Name: "Rail", RedirectURIs: []string{"http://localhost:9/cb"}})
		airAPI, railAPI := ts.legacy(ts.apiKey(t, air)), ts.legacy(ts.apiKey(t, rail))
		airAPI.KeyOnEveryCall, railAPI.KeyOnEveryCall = true, true

		get := func(c *legacyClient, mobile, name string) string {
			t.Helper()
			txn, err := c.GenerateOTP(mobile, name, "")
			if err != nil {
				t.Fatal(err)
			}
			tok, err := c.ConfirmOTP(txn, ts.lastOTP("+91"+mobile))
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}
		ashaAir := get(airAPI, "9999900001", "Asha Verma")
		raviAir := get(airAPI, "9999900002", "Ravi Kumar")
		ashaRail := get(railAPI, "9999900001", "Asha Verma")

		// Each token reads its own person, for its own entity.
		for _, tc := range []struct {
			c      *legacyClient
			token  string
			status int
			aud    string
		}{{airAPI, ashaAir, 2, air}, {airAPI, raviAir, 1, air}, {railAPI, ashaRail, 2, rail}} {
			ans, err := tc.c.Status(tc.token)
			if err != nil || ans.VaccinationStatus != tc.status {
				t.Fatalf("status %+v %v, want %d", ans, err, tc.status)
			}
			verifyResult(t, ts, ans.SignedResult, tc.aud)
		}
		ansAir, _ := airAPI.Status(ashaAir)
		ansRail, _ := railAPI.Status(ashaRail)
		if verifyResult(t, ts, ansAir.SignedResult, air).Subject == verifyResult(t, ts, ansRail.SignedResult, rail).Subject {
			t.Error("two entities got the same sub for one person: they could correlate her")
		}

		// An OIDC sign-in of the same person at Example Air.
		r := ts.newRP(air, airSecret)
		a := r.authorize()
		v := r.finish(a, ts.newBrowser().signIn(a, "9999900001", "Asha Verma"))
		idToken, _ := v.Token.Extra("id_token").(string)

		forged := func(token, payloadFrom string) string {
			p := strings.Split(token, ".")
			return p[0] + "." + strings.Split(payloadFrom, ".")[1] + "." + p[2]
		}
		wantRefused := []struct {
			name  string
			c     *legacyClient
			token string
			code  string
		}{
			{"another entity's token, with this entity's key", railAPI, ashaAir, kycvsapi.CodeInvalidToken},
			{"a token with another person's claims", airAPI, forged(ashaAir, raviAir), kycvsapi.CodeInvalidToken},
			{"a token with another entity's claims", airAPI, forged(ashaAir, ashaRail), kycvsapi.CodeInvalidToken},
			{"the signed result", airAPI, ansAir.SignedResult, kycvsapi.CodeInvalidToken},
			{"an OIDC access token", airAPI, v.Token.AccessToken, kycvsapi.CodeInvalidToken},
			{"an OIDC ID token", airAPI, idToken, kycvsapi.CodeInvalidToken},
		}
		for _, tc := range wantRefused {
			t.Run(tc.name, func(t *testing.T) {
				_, err := tc.c.Status(tc.token)
				le, ok := err.(*legacyError)
				if !ok || le.HTTPStatus != http.StatusUnauthorized || le.ErrorCode != tc.code {
					t.Fatalf("error %v, want 401 %s", err, tc.code)
				}
			})
		}

		// The API token is no access token at userinfo.
		req, _ := http.NewRequest(http.MethodGet, ts.URL+oauth.PathUserinfo, nil)
		req.Header.Set("Authorization", "Bearer "+ashaAir)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("userinfo with an API token: %d, want 401", resp.StatusCode)
		}

		// Another entity cannot confirm this entity's transaction.
		txn, err := airAPI.GenerateOTP("9999900003", "Meera Nair", "")
		if err != nil {
			t.Fatal(err)
		}
		_, err = railAPI.ConfirmOTP(txn, ts.lastOTP("+919999900003"))
		if le, ok := err.(*legacyError); !ok || le.ErrorCode != kycvsapi.CodeInvalidTransaction {
			t.Fatalf("confirm another entity's txn: %v", err)
		}
		if _, err := airAPI.ConfirmOTP(txn, ts.lastOTP("+919999900003")); err != nil {
			t.Fatalf("the entity's own confirm after the refused one: %v", err)
		}
	})
}

// startOIDCSend opens an authorization at the client and submits mobile
// and name in the browser: the OIDC flow's "send code".
func startOIDCSend(t *testing.T, ts *testServer, r *rp, mobile, name string) kycvstest.Page {
	t.Helper()
	b := ts.newBrowser()
	login := b.Get(r.authorize().URL)
	if login.Status != http.StatusOK {
		t.Fatalf("authorize: %d %s", login.Status, login.Body)
	}
	return b.Submit(login, login.URL.Path, url.Values{"mobile": {mobile}, "name": {name}})
}

// TestKYCVSAPISharedLimits: the API and the OIDC flow count OTP sends
// under the same keys, so neither gets around the other's limits.
func TestKYCVSAPISharedLimits(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dialect string) {
		t.Run("API sends count toward the mobile's daily limit the OIDC flow sees", func(t *testing.T) {
			ts := newTestServer(t, dialect, func(c *serveConfig) { c.OTPDailyLimit = 2 })
			id, secret := ts.client(oauth.ClientSpec{Name: "Example Air"})
			c := ts.legacy(ts.apiKey(t, id))
			for _, name := range []string{"Asha Verma", "Arjun Verma"} {
				if _, err := c.GenerateOTP("9999900001", name, ""); err != nil {
					t.Fatal(err)
				}
			}
			p := startOIDCSend(t, ts, ts.newRP(id, secret), "9999900001", "Asha Verma")
			if p.Status != http.StatusTooManyRequests || !strings.Contains(p.Body, "Too many codes") {
				t.Fatalf("OIDC send after 2 API sends: %d %s", p.Status, p.Body)
			}
			// Another mobile is not held.
			if p := startOIDCSend(t, ts, ts.newRP(id, secret), "9999900002", "Ravi Kumar"); p.Status != http.StatusOK {
				t.Fatalf("another mobile: %d", p.Status)
			}
		})

		t.Run("OIDC sends count toward the limit the API sees", func(t *testing.T) {
			ts := newTestServer(t, dialect, func(c *serveConfig) { c.OTPDailyLimit = 2 })
			id, secret := ts.client(oauth.ClientSpec{Name: "Example Air"})
			for range 2 {
				if p := startOIDCSend(t, ts, ts.newRP(id, secret), "9999900002", "Ravi Kumar"); p.Status != http.StatusOK {
					t.Fatalf("OIDC send: %d %s", p.Status, p.Body)
				}
			}
			_, err := ts.legacy(ts.apiKey(t, id)).GenerateOTP("9999900002", "Ravi Kumar", "")
			le, ok := err.(*legacyError)
			if !ok || le.HTTPStatus != http.StatusTooManyRequests || le.ErrorCode != kycvsapi.CodeOTPLimitReached {
				t.Fatalf("API send after 2 OIDC sends: %v", err)
			}
			if le.RetryAfter == "" || le.RetryAfter == "0" {
				t.Errorf("Retry-After = %q", le.RetryAfter)
			}
		})

		t.Run("one per-IP count for both", func(t *testing.T) {
			ts := newTestServer(t, dialect, func(c *serveConfig) { c.IPLimit = 2 })
			id, secret := ts.client(oauth.ClientSpec{Name: "Example Air"})
			c := ts.legacy(ts.apiKey(t, id))
			if _, err := c.GenerateOTP("9999900001", "Asha Verma", ""); err != nil {
				t.Fatal(err)
			}
			if p := startOIDCSend(t, ts, ts.newRP(id, secret), "9999900002", "Ravi Kumar"); p.Status != http.StatusOK {
				t.Fatalf("OIDC send: %d", p.Status)
			}
			_, err := c.GenerateOTP("9999900003", "Meera Nair", "")
			le, ok := err.(*legacyError)
			if !ok || le.HTTPStatus != http.StatusTooManyRequests || le.ErrorCode != kycvsapi.CodeTooManyRequests || le.RetryAfter == "" {
				t.Fatalf("third send from one IP: %v", err)
			}
			if p := startOIDCSend(t, ts, ts.newRP(id, secret), "9999900003", "Meera Nair"); p.Status != http.StatusTooManyRequests {
				t.Fatalf("OIDC send past the IP limit: %d", p.Status)
			}
		})

		t.Run("tries are the OIDC flow's setting", func(t *testing.T) {
			ts := newTestServer(t, dialect, func(c *serveConfig) { c.OTPMaxTries = 2 })
			id, _ := ts.client(oauth.ClientSpec{Name: "Example Air"})
			c := ts.legacy(ts.apiKey(t, id))
			txn, err := c.GenerateOTP("9999900001", "Asha Verma", "")
			if err != nil {
				t.Fatal(err)
			}
			right := ts.lastOTP("+919999900001")
			wrong := fmt.Sprintf("%06d", (atoi(right)+1)%1_000_000)
			for i, want := range []string{kycvsapi.CodeWrongOTP, kycvsapi.CodeOTPTriesExceeded, kycvsapi.CodeInvalidTransaction} {
				otp := wrong
				if i == 2 {
					otp = right
				}
				_, err := c.ConfirmOTP(txn, otp)
				if le, ok := err.(*legacyError); !ok || le.ErrorCode != want {
					t.Fatalf("try %d: %v, want %s", i+1, err, want)
				}
			}
		})
	})
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

// TestKYCVSAPIKeysCLI: keys are created, listed and revoked from the
// command line; a revoked key stops working at once.
func TestKYCVSAPIKeysCLI(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect, nil)
		id, _ := ts.client(oauth.ClientSpec{Name: "Example Air"})
		key := ts.apiKey(t, id) // sets the CLI's environment
		keyID := key[:len("kycvs_")+16]

		out, err := kycvs(t, "clients", "api-keys", "list", "--", id)
		if err != nil || !strings.Contains(out, keyID) || !strings.Contains(out, "active") || strings.Contains(out, key) {
			t.Fatalf("list: %q %v", out, err)
		}
		out, err = kycvs(t, "clients", "api-keys", "list", "--json")
		var listed []map[string]any
		if err != nil || json.Unmarshal([]byte(out), &listed) != nil || len(listed) != 1 || listed[0]["id"] != keyID || listed[0]["api_key"] != nil {
			t.Fatalf("list --json: %q %v", out, err)
		}
		if _, err := ts.legacy(key).GenerateOTP("9999900001", "Asha Verma", ""); err != nil {
			t.Fatal(err)
		}
		if _, err := kycvs(t, "clients", "api-keys", "revoke", keyID); err != nil {
			t.Fatal(err)
		}
		_, err = ts.legacy(key).GenerateOTP("9999900002", "Ravi Kumar", "")
		if le, ok := err.(*legacyError); !ok || le.HTTPStatus != http.StatusUnauthorized || le.ErrorCode != kycvsapi.CodeInvalidAPIKey {
			t.Fatalf("revoked key: %v", err)
		}
		if out, _ := kycvs(t, "clients", "api-keys", "list", "--", id); !strings.Contains(out, "revoked") {
			t.Errorf("list after revoke: %q", out)
		}
		for _, args := range [][]string{
			{"clients", "api-keys", "revoke", keyID},
			{"clients", "api-keys", "revoke", "kycvs_0000000000000000"},
			{"clients", "api-keys", "create", "no-such-client"},
			{"clients", "api-keys", "create"},
			{"clients", "api-keys", "rotate"},
		} {
			if _, err := kycvs(t, args...); err == nil {
				t.Errorf("%v succeeded", args)
			}
		}
		// Without --json the key is printed once, labelled.
		out, err = kycvs(t, "clients", "api-keys", "create", "--", id)
		if err != nil || !strings.Contains(out, "api_key") || !strings.Contains(out, "shown once") {
			t.Fatalf("create: %q %v", out, err)
		}
	})
}

// TestKYCVSAPIKeysAdminAPI: keys issued through the admin API work at the
// KYC-VS API like the command line's, and the two doors see each other's
// keys; a key revoked through the admin API stops at once.
func TestKYCVSAPIKeysAdminAPI(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect, nil)
		id, _ := ts.client(oauth.ClientSpec{Name: "Example Air"})
		cliKey := ts.apiKey(t, id) // sets the CLI's environment
		adminKey, _, err := cliService(ts.store(), testSecret, nil).CreateAdminKey(context.Background(), admin.CLIActor("test", "host"), "e2e", admin.RoleClientAdmin)
		if err != nil {
			t.Fatal(err)
		}
		path := "/clients/" + url.PathEscape(id) + "/api-keys"
		status, body := ts.adminCall(http.MethodPost, path, adminKey, nil)
		var made admin.APIKeyJSON
		if json.Unmarshal(body, &made) != nil || status != http.StatusCreated || made.APIKey == "" || made.ClientID != id {
			t.Fatalf("create: %d %s", status, body)
		}
		if _, err := ts.legacy(made.APIKey).GenerateOTP("9999900001", "Asha Verma", ""); err != nil {
			t.Fatalf("a key from the admin API at the KYC-VS API: %v", err)
		}
		status, body = ts.adminCall(http.MethodGet, path, adminKey, nil)
		var list struct {
			Items []admin.APIKeyJSON `json:"items"`
		}
		if json.Unmarshal(body, &list) != nil || status != http.StatusOK || len(list.Items) != 2 ||
			!strings.HasPrefix(cliKey, list.Items[0].ID+"_") || list.Items[1].ID != made.ID {
			t.Fatalf("list: %d %s", status, body)
		}
		if out, err := kycvs(t, "clients", "api-keys", "list", "--", id); err != nil || !strings.Contains(out, made.ID) || strings.Contains(out, made.APIKey) {
			t.Errorf("the command line's list: %q %v", out, err)
		}
		if status, body := ts.adminCall(http.MethodPost, path+"/"+made.ID+"/revoke", adminKey, nil); status != http.StatusOK {
			t.Fatalf("revoke: %d %s", status, body)
		}
		_, err = ts.legacy(made.APIKey).GenerateOTP("9999900002", "Ravi Kumar", "")
		if le, ok := err.(*legacyError); !ok || le.HTTPStatus != http.StatusUnauthorized || le.ErrorCode != kycvsapi.CodeInvalidAPIKey {
			t.Fatalf("revoked key: %v", err)
		}
		if _, err := ts.legacy(cliKey).GenerateOTP("9999900002", "Ravi Kumar", ""); err != nil {
			t.Errorf("the other key: %v", err)
		}
		if _, err := kycvs(t, "clients", "api-keys", "revoke", made.ID); err == nil || !strings.Contains(err.Error(), "already revoked") {
			t.Errorf("revoke from the command line after the admin API: %v", err)
		}
	})
}

// TestKYCVSAPIErrorJSON: errors reach a client as the documented JSON, with
// Retry-After on 429, through the real server.
func TestKYCVSAPIErrorJSON(t *testing.T) {
	ts := newTestServer(t, "sqlite", nil)
	id, _ := ts.client(oauth.ClientSpec{Name: "Example Air"})
	c := ts.legacy(ts.apiKey(t, id))
	tests := []struct {
		name   string
		do     func() error
		status int
		code   string
	}{
		{"no key", func() error { _, err := ts.legacy("").GenerateOTP("9999900001", "Asha Verma", ""); return err }, 401, kycvsapi.CodeAPIKeyRequired},
		{"bad mobile", func() error { _, err := c.GenerateOTP("12", "Asha Verma", ""); return err }, 400, kycvsapi.CodeInvalidMobileNumber},
		{"bad name", func() error { _, err := c.GenerateOTP("9999900001", "", ""); return err }, 400, kycvsapi.CodeInvalidFullName},
		{"first send", func() error { _, err := c.GenerateOTP("9999900001", "Asha Verma", ""); return err }, 200, ""},
		{"resend too soon", func() error { _, err := c.GenerateOTP("9999900001", "Asha Verma", ""); return err }, 429, kycvsapi.CodeResendTooSoon},
		{"missing OTP", func() error {
			return c.call(http.MethodPost, "/v3/vaccination/confirmOTP", map[string]string{"txnId": "00000000-0000-4000-8000-000000000000"}, "", "", &struct{}{})
		}, 400, kycvsapi.CodeOTPRequired},
		{"unknown txn", func() error { _, err := c.ConfirmOTP("00000000-0000-4000-8000-000000000000", "123456"); return err }, 401, kycvsapi.CodeInvalidTransaction},
		{"no token", func() error { _, err := c.Status(""); return err }, 401, kycvsapi.CodeTokenRequired},
		{"bad token", func() error { _, err := c.Status("x.y.z"); return err }, 401, kycvsapi.CodeInvalidToken},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.do()
			if tc.status == 200 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			le, ok := err.(*legacyError)
			if !ok || le.HTTPStatus != tc.status || le.ErrorCode != tc.code || le.Message == "" {
				t.Fatalf("%v, want %d %s", err, tc.status, tc.code)
			}
			if (tc.status == 429) != (le.RetryAfter != "") {
				t.Errorf("Retry-After %q on %d", le.RetryAfter, tc.status)
			}
		})
	}
}
