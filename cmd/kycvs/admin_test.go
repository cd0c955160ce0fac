package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/kycvs/kycvs/admin"
	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/store/storetest"
)

// The admin verbs of the command line, and the audit log they leave.
func TestAdminCLI(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dialect string) {
		dbURL := storetest.URL(t, dialect)
		t.Setenv("KYCVS_DATABASE_URL", dbURL)
		t.Setenv("KYCVS_SECRET", testSecret)
		if _, err := kycvs(t, "migrate", "up"); err != nil {
			t.Fatal(err)
		}

		out, err := kycvs(t, "admin", "keys", "create", "--name", "ci", "--role", "viewer", "--json")
		var key struct{ APIKey, ID, Role string }
		if err := json.Unmarshal([]byte(strings.ReplaceAll(out, "api_key", "APIKey")), &key); err != nil || !strings.HasPrefix(key.APIKey, "kycvsadm_") || key.Role != "viewer" {
			t.Fatalf("keys create: %q %v", out, err)
		}
		if _, err := kycvs(t, "admin", "keys", "create", "--name", "x", "--role", "god"); exitCode(err) != 2 {
			t.Errorf("unknown role: %v", err)
		}
		if list, _ := kycvs(t, "admin", "keys", "list"); !strings.Contains(list, key.ID) || strings.Contains(list, key.APIKey) || !strings.Contains(list, "active") {
			t.Errorf("keys list: %q", list)
		}
		if _, err := kycvs(t, "admin", "keys", "revoke", key.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := kycvs(t, "admin", "keys", "revoke", key.ID); err == nil || !strings.Contains(err.Error(), "already revoked") {
			t.Errorf("revoke twice: %v", err)
		}

		if out, err := kycvs(t, "admin", "users", "add", "--mobile", "9999900010", "--name", "Zoya Khan", "--role", "owner"); err != nil || !strings.Contains(out, "+919999900010") {
			t.Fatalf("users add: %q %v", out, err)
		}
		if _, err := kycvs(t, "admin", "users", "add", "--mobile", "9999900010", "--name", "Again", "--role", "viewer"); err == nil {
			t.Error("a second user on one mobile")
		}
		if _, err := kycvs(t, "admin", "users", "set-role", "9999900010", "--role", "client-admin"); err != nil {
			t.Fatal(err)
		}
		if list, _ := kycvs(t, "admin", "users", "list"); !strings.Contains(list, "Zoya Khan") || !strings.Contains(list, "client-admin") {
			t.Errorf("users list: %q", list)
		}
		// An authenticator for the console: the URI and secret once, the
		// secret stored sealed; enrolled again, a new secret; removed.
		out, err = kycvs(t, "admin", "totp", "enroll", "9999900010", "--json")
		var enrolled struct {
			URI    string `json:"otpauth_uri"`
			Secret string `json:"secret"`
		}
		if err := json.Unmarshal([]byte(out), &enrolled); err != nil || !strings.HasPrefix(enrolled.URI, "otpauth://totp/kycvs:") || len(enrolled.Secret) < 16 ||
			!strings.Contains(enrolled.URI, "secret="+enrolled.Secret) {
			t.Fatalf("totp enroll: %q %v", out, err)
		}
		users, err := store.Open(dbURL)
		if err != nil {
			t.Fatal(err)
		}
		defer users.Close()
		u, err := users.AdminUserByMobile(context.Background(), "+919999900010")
		if err != nil || len(u.TOTPSecret) == 0 || strings.Contains(string(u.TOTPSecret), enrolled.Secret) {
			t.Fatalf("stored authenticator: %v (sealed: %v)", err, u != nil && !strings.Contains(string(u.TOTPSecret), enrolled.Secret))
		}
		if list, _ := kycvs(t, "admin", "users", "list"); !strings.Contains(list, "enrolled") || strings.Contains(list, enrolled.Secret) {
			t.Errorf("users list: %q", list)
		}
		if again, _ := kycvs(t, "admin", "totp", "enroll", "9999900010"); !strings.Contains(again, "otpauth://") || strings.Contains(again, enrolled.Secret) {
			t.Errorf("enroll again: %q", again)
		}
		if _, err := kycvs(t, "admin", "totp", "enroll", "9999900077"); err == nil || !strings.Contains(err.Error(), "no admin user") {
			t.Errorf("enroll for nobody: %v", err)
		}
		if _, err := kycvs(t, "admin", "totp", "remove", "9999900010"); err != nil {
			t.Fatal(err)
		}
		if u, _ := users.AdminUserByMobile(context.Background(), "+919999900010"); u == nil || len(u.TOTPSecret) != 0 {
			t.Error("the authenticator is still stored")
		}
		if _, err := kycvs(t, "admin", "totp", "remove", "9999900010"); err == nil || !strings.Contains(err.Error(), "no authenticator") {
			t.Errorf("remove twice: %v", err)
		}
		if _, err := kycvs(t, "admin", "totp", "enroll"); exitCode(err) != 2 {
			t.Errorf("enroll without an admin: %v", err)
		}

		if _, err := kycvs(t, "admin", "users", "remove", "9999900010"); err != nil {
			t.Fatal(err)
		}
		if _, err := kycvs(t, "admin", "users", "remove", "9999900010"); err == nil || !strings.Contains(err.Error(), "no admin user") {
			t.Errorf("remove twice: %v", err)
		}

		out, err = kycvs(t, "clients", "create", "--id", "air", "--name", "Example Air", "--redirect-uri", "https://air.example/cb", "--json")
		if err != nil {
			t.Fatal(err)
		}
		if out, err := kycvs(t, "clients", "update", "air", "--name", "Example Airways", "--logo-uri", "https://air.example/logo.png", "--contact", "ops@air.example", "--json"); err != nil ||
			!strings.Contains(out, "Example Airways") || !strings.Contains(out, "ops@air.example") || strings.Contains(out, "client_secret") {
			t.Fatalf("update: %q %v", out, err)
		}
		if _, err := kycvs(t, "clients", "update", "air", "--redirect-uri", "https://other.example/cb"); err == nil || !strings.Contains(err.Error(), "--allow-sector-change") {
			t.Errorf("sector change: %v", err)
		}
		if _, err := kycvs(t, "clients", "update", "air", "--redirect-uri", "ftp://x"); err == nil || !strings.Contains(err.Error(), "https") {
			t.Errorf("bad update: %v", err)
		}
		if out, _ := kycvs(t, "clients", "disable", "air"); !strings.Contains(out, "disabled client air") {
			t.Errorf("disable: %q", out)
		}
		if show, _ := kycvs(t, "clients", "show", "air"); !strings.Contains(show, "disabled") {
			t.Errorf("show: %q", show)
		}
		kycvs(t, "clients", "enable", "air")
		out, err = kycvs(t, "clients", "rotate-secret", "air", "--grace", "1h", "--json")
		var rotated clientJSON
		json.Unmarshal([]byte(out), &rotated)
		if err != nil || rotated.ClientSecret == "" || len(rotated.PreviousSecretsValidUntil) != 1 {
			t.Fatalf("rotate with grace: %q %v", out, err)
		}
		if _, err := kycvs(t, "clients", "rotate-secret", "air", "--grace", "1000h"); err == nil {
			t.Error("a grace period over 30 days")
		}

		if out, err := kycvs(t, "keys", "rotate"); err != nil || strings.Count(out, "signs from now on") != 2 {
			t.Fatalf("first keys: %q %v", out, err)
		}
		if out, err := kycvs(t, "keys", "rotate", "--alg", "RS256"); err != nil || !strings.Contains(out, "is published now and signs from") {
			t.Fatalf("scheduled rotation: %q %v", out, err)
		}
		list, _ := kycvs(t, "keys", "list", "--json")
		var ks []admin.KeyJSON
		json.Unmarshal([]byte(list), &ks)
		var scheduled, es string
		for _, k := range ks {
			switch {
			case k.State == "scheduled":
				scheduled = k.KID
			case k.Alg == "ES256":
				es = k.KID
			}
		}
		if scheduled == "" || es == "" {
			t.Fatalf("keys: %s", list)
		}
		if _, err := kycvs(t, "keys", "retire", es); err == nil || !strings.Contains(err.Error(), "rotate first") {
			t.Errorf("retire the only ES256 key: %v", err)
		}
		if out, err := kycvs(t, "keys", "retire", scheduled); err != nil || !strings.Contains(out, "retired") {
			t.Errorf("cancel the scheduled rotation: %q %v", out, err)
		}

		// Every change is in the audit log, by the command line.
		st, err := store.Open(dbURL)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		es2, _, err := st.ListAuditEntries(context.Background(), store.AuditFilter{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		var actions []string
		for _, e := range es2 {
			actions = append(actions, e.Action)
			if e.ActorType != admin.ActorCLI || !strings.Contains(e.ActorID, "@") {
				t.Errorf("entry %s by %s %s", e.Action, e.ActorType, e.ActorID)
			}
			b, _ := json.Marshal(e)
			if strings.Contains(string(b), key.APIKey) || strings.Contains(string(b), rotated.ClientSecret) {
				t.Errorf("a secret in the audit log: %s", b)
			}
		}
		for _, want := range []string{"admin_key.create", "admin_key.revoke", "admin_user.add", "admin_user.set_role", "admin_user.remove",
			"client.create", "client.update", "client.disable", "client.enable", "client.rotate_secret", "key.rotate", "key.retire"} {
			if !slices.Contains(actions, want) {
				t.Errorf("no %s in the audit log: %v", want, actions)
			}
		}
	})
}

// adminCall calls the running server's admin API.
func (ts *testServer) adminCall(method, path, key string, body any) (int, []byte) {
	ts.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, ts.URL+admin.APIPrefix+path, rd)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

// The admin API of a running server, with a real relying party: a client
// registered through the API verifies people; its old secret keeps
// working after a rotation with a grace period; disabled, it gets no
// tokens; the verification is in the disclosure log.
func TestAdminAPIEndToEnd(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect, nil)
		ctx := context.Background()
		svc := cliService(ts.store(), testSecret, nil)
		key, _, err := svc.CreateAdminKey(ctx, admin.CLIActor("test", "host"), "e2e", admin.RoleOwner)
		if err != nil {
			t.Fatal(err)
		}
		status, body := ts.adminCall(http.MethodPost, "/clients", key, map[string]any{
			"name": "Example Air", "redirect_uris": []string{"http://127.0.0.1:9/callback"},
		})
		var c admin.ClientJSON
		json.Unmarshal(body, &c)
		if status != http.StatusCreated || c.ClientSecret == "" {
			t.Fatalf("create: %d %s", status, body)
		}
		verify := func(secret string) error {
			r := ts.newRP(c.ClientID, secret)
			a := r.authorize()
			back := ts.newBrowser().signIn(a, "9999900001", "Asha Verma")
			_, err := r.conf.Exchange(ctx, back.Query().Get("code"), oauth2.VerifierOption(a.verifier))
			return err
		}
		if err := verify(c.ClientSecret); err != nil {
			t.Fatalf("verification with the new client: %v", err)
		}
		old := c.ClientSecret
		status, body = ts.adminCall(http.MethodPost, "/clients/"+c.ClientID+"/rotate-secret", key, map[string]any{"grace_period_seconds": 600})
		json.Unmarshal(body, &c)
		if status != http.StatusOK || c.ClientSecret == old {
			t.Fatalf("rotate: %d %s", status, body)
		}
		if err := verify(old); err != nil {
			t.Fatalf("the old secret within its grace period: %v", err)
		}
		if err := verify(c.ClientSecret); err != nil {
			t.Fatalf("the new secret: %v", err)
		}
		if status, body := ts.adminCall(http.MethodPost, "/clients/"+c.ClientID+"/disable", key, nil); status != http.StatusOK {
			t.Fatalf("disable: %d %s", status, body)
		}
		r := ts.newRP(c.ClientID, c.ClientSecret)
		a := r.authorize()
		if p := ts.newBrowser().Get(a.URL); p.Status == http.StatusOK && strings.Contains(p.URL.Path, "/login/") {
			t.Fatal("a disabled client's authorization request reached the sign-in page")
		}
		ts.adminCall(http.MethodPost, "/clients/"+c.ClientID+"/enable", key, nil)

		status, body = ts.adminCall(http.MethodGet, "/disclosures?client_id="+c.ClientID+"&status=2", key, nil)
		var page struct {
			Items []admin.DisclosureJSON `json:"items"`
		}
		json.Unmarshal(body, &page)
		if status != http.StatusOK || len(page.Items) < 3 || page.Items[0].BeneficiaryID == "" {
			t.Fatalf("disclosures: %d %s", status, body)
		}
		if status, body := ts.adminCall(http.MethodGet, "/disclosures.csv?client_id="+c.ClientID, key, nil); status != http.StatusOK || bytes.Count(body, []byte("\n")) < 4 {
			t.Errorf("export: %d %s", status, body)
		}
		// An unknown route of the admin API answers JSON, the site HTML.
		if status, body := ts.adminCall(http.MethodGet, "/nope", key, nil); status != http.StatusNotFound || !bytes.Contains(body, []byte(`"error":"not_found"`)) {
			t.Errorf("unknown admin route: %d %s", status, body)
		}
		// The OTP figures are what the processes have flushed.
		must(t, ts.store().FlushOTPTallies(context.Background()))
		var stats admin.Dashboard
		_, body = ts.adminCall(http.MethodGet, "/stats", key, nil)
		json.Unmarshal(body, &stats)
		if stats.Today.Verifications < 3 || stats.Today.OTP.Sent < 3 || stats.Today.OTP.Accepted < 3 {
			t.Errorf("stats: %s", body)
		}
	})
}
