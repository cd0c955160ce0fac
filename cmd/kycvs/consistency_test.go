package main

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/kycvs/kycvs/store"
)

// checkConsistency fails the test when the database holds anything half
// written: every step of a verification commits in one transaction, so
// whatever was cut off (a dropped connection, a killed process) must have
// left either all of a step or none of it. It returns how many codes were
// issued.
func checkConsistency(t *testing.T, st *store.Store) int {
	t.Helper()
	db, err := st.DB()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	count := func(q string) int {
		t.Helper()
		var n int
		if err := db.QueryRowContext(ctx, q).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return n
	}
	for _, c := range []struct{ what, query string }{
		{"codes without their disclosure record",
			`SELECT count(*) FROM oauth_tokens c WHERE c.kind = 'code' AND NOT EXISTS
			 (SELECT 1 FROM disclosures d WHERE d.channel = 'authorize' AND d.request_id = c.request_id)`},
		{"disclosure records of codes that were never issued",
			`SELECT count(*) FROM disclosures d WHERE d.channel = 'authorize' AND NOT EXISTS
			 (SELECT 1 FROM oauth_tokens c WHERE c.kind = 'code' AND c.request_id = d.request_id)`},
		{"unredeemed codes without their OpenID Connect session",
			`SELECT count(*) FROM oauth_tokens c WHERE c.kind = 'code' AND c.active AND NOT EXISTS
			 (SELECT 1 FROM oauth_tokens o WHERE o.kind = 'oidc' AND o.request_id = c.request_id)`},
		{"unredeemed codes without their PKCE challenge",
			`SELECT count(*) FROM oauth_tokens c WHERE c.kind = 'code' AND c.active AND NOT EXISTS
			 (SELECT 1 FROM oauth_tokens p WHERE p.kind = 'pkce' AND p.request_id = c.request_id)`},
		{"redeemed codes without an access token",
			`SELECT count(*) FROM oauth_tokens c WHERE c.kind = 'code' AND NOT c.active AND NOT EXISTS
			 (SELECT 1 FROM oauth_tokens a WHERE a.kind = 'access' AND a.request_id = c.request_id)`},
		{"access tokens whose code was not redeemed",
			`SELECT count(*) FROM oauth_tokens a WHERE a.kind = 'access' AND NOT EXISTS
			 (SELECT 1 FROM oauth_tokens c WHERE c.kind = 'code' AND NOT c.active AND c.request_id = a.request_id)`},
		{"userinfo disclosures without an access token",
			`SELECT count(*) FROM disclosures d WHERE d.channel = 'userinfo' AND NOT EXISTS
			 (SELECT 1 FROM oauth_tokens a WHERE a.kind = 'access' AND a.request_id = d.request_id)`},
		{"sign-ins waiting for a code that has no code",
			`SELECT count(*) FROM login_requests WHERE state = 'otp_sent' AND (otp_sent_at IS NULL OR otp_expires_at IS NULL OR mobile = '')`},
		{"approved sign-ins without a person or a session",
			`SELECT count(*) FROM login_requests l WHERE l.state = 'approved' AND (l.beneficiary_id = '' OR l.auth_time IS NULL OR
			 (l.session_id <> '' AND NOT EXISTS (SELECT 1 FROM sessions s WHERE s.id = l.session_id)))`},
	} {
		if n := count(c.query); n != 0 {
			t.Errorf("%d %s", n, c.what)
		}
	}

	// Each code names the sign-in it came from, which must be used; and
	// each sign-in that was approved and used has exactly one code.
	rows, err := db.QueryContext(ctx, `SELECT session FROM oauth_tokens WHERE kind = 'code'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	perLogin := map[string]int{}
	codes := 0
	for rows.Next() {
		var raw []byte
		if err := rows.Scan(&raw); err != nil {
			t.Fatal(err)
		}
		var s struct {
			LoginRequestID string `json:"login_request_id"`
		}
		if err := json.Unmarshal(raw, &s); err != nil {
			t.Fatalf("stored session: %v", err)
		}
		codes++
		if s.LoginRequestID != "" {
			perLogin[s.LoginRequestID]++
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	lrows, err := db.QueryContext(ctx, `SELECT id, state FROM login_requests WHERE state = 'used' AND deny_reason = '' OR state IN ('approved', 'verified', 'otp_sent', 'pending', 'dead')`)
	if err != nil {
		t.Fatal(err)
	}
	defer lrows.Close()
	for lrows.Next() {
		var id string
		var state store.LoginState
		if err := lrows.Scan(&id, &state); err != nil {
			t.Fatal(err)
		}
		switch n := perLogin[id]; {
		case state == store.LoginUsed && n != 1:
			t.Errorf("sign-in %s… is used but has %d codes", id[:8], n)
		case state != store.LoginUsed && n != 0:
			t.Errorf("sign-in %s… is %s but has %d codes", id[:8], state, n)
		}
	}
	if err := lrows.Err(); err != nil {
		t.Fatal(err)
	}
	return codes
}
