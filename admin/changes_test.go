package admin_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/kycvs/kycvs/admin"
	"github.com/kycvs/kycvs/claims"
	"github.com/kycvs/kycvs/store"
)

func TestChangeFeed(t *testing.T) {
	forEachBackend(t, func(t *testing.T, ts *testServer) {
		ctx := context.Background()
		p := admin.APIPrefix + "/beneficiaries/changes"
		registrar := ts.adminKey(admin.RoleRegistryAdmin)
		const ndjson = "application/x-ndjson"
		type result struct{ Created, Updated, Unchanged, Deleted, Doses int }
		send := func(body string) (response, result) {
			t.Helper()
			var res result
			resp := ts.call(http.MethodPost, p, registrar, body, ndjson)
			if resp.Status == http.StatusOK {
				resp.json(t, &res)
			}
			return resp, res
		}
		status := func(id string) claims.Status {
			t.Helper()
			b, err := ts.st.GetBeneficiary(ctx, id)
			if err != nil {
				t.Fatalf("GetBeneficiary(%s): %v", id, err)
			}
			return claims.StatusFromDoses(b.Doses)
		}

		batch := `{"op":"upsert","beneficiary_id":"F-1","mobile":"9876543210","name":"Asha Verma","year_of_birth":1985,"doses":[{"vaccine":"Covishield","dose_number":1,"total_doses":2,"dose_date":"2021-05-10"}]}
{"op":"upsert","beneficiary_id":"F-2","mobile":"9876500000","name":"Ravi Kumar","year_of_birth":1990}

{"op":"delete","beneficiary_id":"F-404"}
`
		resp, res := send(batch)
		if resp.Status != http.StatusOK || res != (result{Created: 2, Unchanged: 1, Doses: 1}) {
			t.Fatalf("first batch: %d %s", resp.Status, resp.Body)
		}
		if resp, res := send(batch); resp.Status != http.StatusOK || res != (result{Unchanged: 3}) {
			t.Fatalf("the same batch again (idempotent): %d %s", resp.Status, resp.Body)
		}

		t.Run("a new dose is visible to the next verification", func(t *testing.T) {
			m, err := claims.NewRegistry(ts.st).Match(ctx, "+919876543210", "asha verma")
			if err != nil || claims.StatusFromDoses(m.Doses) != claims.Partially {
				t.Fatalf("before: %+v, %v", m, err)
			}
			second := `{"op":"upsert","beneficiary_id":"F-1","mobile":"9876543210","name":"Asha Verma","year_of_birth":1985,"doses":[{"vaccine":"Covishield","dose_number":1,"total_doses":2,"dose_date":"2021-05-10"},{"vaccine":"Covishield","dose_number":2,"total_doses":2,"dose_date":"2021-08-02"}]}` + "\n"
			if resp, res := send(second); resp.Status != http.StatusOK || res != (result{Updated: 1, Doses: 2}) {
				t.Fatalf("second dose: %d %s", resp.Status, resp.Body)
			}
			m, err = claims.NewRegistry(ts.st).Match(ctx, "+919876543210", "Asha Verma")
			if err != nil || claims.StatusFromDoses(m.Doses) != claims.Fully {
				t.Errorf("after: %+v, %v", m, err)
			}
		})

		t.Run("later lines win, deletes apply", func(t *testing.T) {
			body := `{"op":"upsert","beneficiary_id":"F-3","mobile":"9876500001","name":"Meera Das","year_of_birth":1970}
{"op":"upsert","beneficiary_id":"F-3","mobile":"9876500001","name":"Meera Das","year_of_birth":1971}
{"op":"delete","beneficiary_id":"F-2"}`
			if resp, res := send(body); resp.Status != http.StatusOK || res != (result{Created: 1, Updated: 1, Deleted: 1}) {
				t.Fatalf("batch: %d %s", resp.Status, resp.Body)
			}
			if b, err := ts.st.GetBeneficiary(ctx, "F-3"); err != nil || b.YearOfBirth != 1971 {
				t.Errorf("F-3 = %+v, %v", b, err)
			}
			if _, err := ts.st.GetBeneficiary(ctx, "F-2"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("F-2 after delete: %v", err)
			}
		})

		t.Run("bad input: every bad line, nothing applied", func(t *testing.T) {
			good := `{"op":"upsert","beneficiary_id":"F-9","mobile":"9876500009","name":"New Person","year_of_birth":1990}`
			for _, tc := range []struct {
				name, body string
				status     int
				code       string
				details    []string
			}{
				{"not JSON", good + "\n{oops\n", 422, admin.CodeInvalidChanges, []string{"line 2: not a change: malformed JSON"}},
				{"unknown field", good + "\n" + `{"op":"upsert","beneficiary_id":"F-8","mobile":"9876500008","name":"X","year_of_birth":1990,"status":2}`, 422, admin.CodeInvalidChanges, []string{`line 2: not a change: unknown field "status"`}},
				{"unknown op", `{"op":"merge","beneficiary_id":"F-8"}` + "\n" + good, 422, admin.CodeInvalidChanges, []string{`line 1: op: want "upsert" or "delete"`}},
				{"checked as the CSV is", good + "\n" + `{"op":"upsert","beneficiary_id":"F-8","mobile":"12","name":"","year_of_birth":1800,"doses":[{"vaccine":"X","dose_number":1,"total_doses":2,"dose_date":"2021-02-30"}]}` + "\n" + `{"op":"delete","beneficiary_id":""}`, 422, admin.CodeInvalidChanges,
					[]string{"line 2: mobile: ", "line 2: name: empty", "line 2: year_of_birth: ", "line 2: doses[0].dose_date: ", "line 3: beneficiary_id: empty"}},
				{"same name on a mobile", good + "\n" + `{"op":"upsert","beneficiary_id":"F-7","mobile":"+91 98765 43210","name":"ASHA  VERMA","year_of_birth":1990}`, 422, admin.CodeInvalidChanges, []string{"line 2: name: beneficiary F-1 has the same mobile and name"}},
				{"delete with a record", `{"op":"delete","beneficiary_id":"F-1","name":"Asha"}` + "\n" + good, 422, admin.CodeInvalidChanges, []string{"line 1: a delete carries only"}},
				{"two values on a line", good + ` {"op":"delete","beneficiary_id":"F-1"}`, 422, admin.CodeInvalidChanges, []string{"line 1: more than one JSON value"}},
				{"empty", "\n\n", 422, admin.CodeInvalidChanges, []string{"line 1: empty batch"}},
				{"line too long", good + "\n" + `{"op":"upsert","beneficiary_id":"F-8","name":"` + strings.Repeat("a", 20000) + `"}`, 422, admin.CodeInvalidChanges, []string{"line 2: longer than"}},
			} {
				t.Run(tc.name, func(t *testing.T) {
					resp, _ := send(tc.body)
					var e struct {
						Message string   `json:"message"`
						Details []string `json:"details"`
					}
					resp.json(t, &e)
					if resp.Status != tc.status || resp.errorCode(t) != tc.code || len(e.Details) != len(tc.details) || !strings.Contains(e.Message, "nothing was applied") {
						t.Fatalf("%d %s; want %d %s with %d details", resp.Status, resp.Body, tc.status, tc.code, len(tc.details))
					}
					for i, want := range tc.details {
						if !strings.HasPrefix(e.Details[i], want) {
							t.Errorf("details[%d] = %q, want it to start %q", i, e.Details[i], want)
						}
					}
					if _, err := ts.st.GetBeneficiary(ctx, "F-9"); !errors.Is(err, store.ErrNotFound) {
						t.Errorf("the good line of a bad batch was applied: %v", err)
					}
				})
			}
			if resp := ts.call(http.MethodPost, p, registrar, good, "application/json"); resp.Status != http.StatusUnsupportedMediaType {
				t.Errorf("as application/json: %d", resp.Status)
			}
			if resp := ts.call(http.MethodPost, p, ts.adminKey(admin.RoleViewer), good, ndjson); resp.Status != http.StatusForbidden {
				t.Errorf("as a viewer: %d", resp.Status)
			}
		})

		if got := status("F-1"); got != claims.Fully {
			t.Errorf("F-1 status = %v", got)
		}
		entries := ts.audit("registry", "")
		if len(entries) == 0 || entries[0].Action != "registry.changes" {
			t.Errorf("audit: %+v", entries)
		}
	})
}
