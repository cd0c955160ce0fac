package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/kycvs/kycvs/admin"
	"github.com/kycvs/kycvs/claims"
	"github.com/kycvs/kycvs/kycvsapi"
	"github.com/kycvs/kycvs/oauth"
	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/store/storetest"
	"github.com/kycvs/kycvs/web"
)

// fuzzRoutes are the admin API's routes that decode a JSON body, on
// objects that exist (and one key that does not). Key rotation is left
// out: each accepted body would generate a key pair, which is slow and
// exercises no decoder more than the rest do.
var fuzzRoutes = []struct{ method, path string }{
	{http.MethodPost, admin.APIPrefix + "/clients"},
	{http.MethodPatch, admin.APIPrefix + "/clients/fuzz-client"},
	{http.MethodPost, admin.APIPrefix + "/clients/fuzz-client/disable"},
	{http.MethodPost, admin.APIPrefix + "/clients/fuzz-client/enable"},
	{http.MethodPost, admin.APIPrefix + "/clients/fuzz-client/rotate-secret"},
	{http.MethodPost, admin.APIPrefix + "/beneficiaries"},
	{http.MethodPut, admin.APIPrefix + "/beneficiaries/fuzz-person"},
	{http.MethodPost, admin.APIPrefix + "/keys/no-such-kid/retire"},
	{http.MethodPost, admin.APIPrefix + "/clients/fuzz-client/api-keys"},
	{http.MethodPost, admin.APIPrefix + "/clients/fuzz-client/api-keys/kycvs_0000000000000000/revoke"},
}

// fuzzAPI is the real admin API engine over SQLite with an owner's key,
// one client and one beneficiary.
func fuzzAPI(tb testing.TB) (*gin.Engine, string) {
	tb.Helper()
	ctx := context.Background()
	st := storetest.Open(tb, "sqlite")
	secret := []byte(testSecret)
	keys, err := oauth.NewKeys(st, secret)
	if err != nil {
		tb.Fatal(err)
	}
	if err := keys.Ensure(ctx); err != nil {
		tb.Fatal(err)
	}
	clients := oauth.NewClients(st, secret)
	svc := admin.NewService(st, secret, clients, keys, kycvsapi.NewAPIKeys(st, secret), nil)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	engine, err := web.NewEngine(web.Config{Logger: logger, MaxBodyBytes: admin.MaxImportBytes})
	if err != nil {
		tb.Fatal(err)
	}
	admin.NewAPI(admin.APIConfig{Logger: logger}, svc).Register(engine)
	key, _, err := svc.CreateAdminKey(ctx, admin.CLIActor("root", "fuzz"), "fuzz owner", admin.RoleOwner)
	if err != nil {
		tb.Fatal(err)
	}
	if _, _, err := clients.Create(ctx, oauth.ClientSpec{ID: "fuzz-client", Name: "Fuzz Air", RedirectURIs: []string{"https://air.example/cb"}}); err != nil {
		tb.Fatal(err)
	}
	person := store.Beneficiary{ID: "fuzz-person", Mobile: "+919876543210", Name: "Asha Verma", NameKey: claims.NameKey("Asha Verma"), YearOfBirth: 1985}
	if _, err := st.ReplaceBeneficiaries(ctx, []store.Beneficiary{person}); err != nil {
		tb.Fatal(err)
	}
	return engine, key
}

// FuzzAdminJSON sends any body to every admin API route that decodes
// JSON. Whatever it is, the answer is never a 5xx or a panic, and every
// refusal is the API's JSON error object. Seeds: testdata/fuzz/FuzzAdminJSON.
func FuzzAdminJSON(f *testing.F) {
	for i, body := range []string{
		`{"name":"Fuzz Rail","redirect_uris":["https://rail.example/cb"]}`,
		`{"name":"Renamed"}`,
		``,
		``,
		`{"grace_seconds":3600}`,
		`{"beneficiary_id":"B-1","mobile":"9876543211","name":"Ravi Kumar","year_of_birth":1990,"doses":[]}`,
		`{"mobile":"9876543210","name":"Asha Verma","year_of_birth":1985,"doses":[{"vaccine":"Covishield","dose_number":1,"total_doses":2,"dose_date":"2021-05-10"}]}`,
		`{}`,
		``,
		`{}`,
	} {
		f.Add(uint8(i), []byte(body))
	}
	f.Add(uint8(0), []byte(`{"name":1}`))
	f.Add(uint8(0), []byte(`{"name":"x","unknown":true}`))
	f.Add(uint8(5), []byte(`{"doses":[{"dose_number":1e400}]}`))
	f.Add(uint8(1), []byte(`{} {}`))
	f.Add(uint8(1), []byte(`[1,2,3]`))
	engine, key := fuzzAPI(f)
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		r := fuzzRoutes[int(route)%len(fuzzRoutes)]
		req := httptest.NewRequest(r.method, r.path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+key)
		w := httptest.NewRecorder()
		engine.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("%s %s with %q: %d %s", r.method, r.path, body, w.Code, w.Body.String())
		}
		if w.Code >= 400 {
			var e struct {
				Error string `json:"error"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error == "" {
				t.Fatalf("%s %s with %q: %d, not an error object: %s", r.method, r.path, body, w.Code, w.Body.String())
			}
		}
	})
}
