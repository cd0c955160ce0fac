package admin_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kycvs/kycvs/admin"
	"github.com/kycvs/kycvs/internal/kycvstest"
	"github.com/kycvs/kycvs/store"
)

// illFormedIDs are path segments no stored ID can be: PostgreSQL refuses
// a NUL or a byte that is not UTF-8 in a text parameter (SQLSTATE 22021),
// which once surfaced as a 500.
var illFormedIDs = []string{"abc%00def", "%00", "%ff", "a%c3%28b", "a%0Ab"}

// Every console and admin API route with an ID in its path answers 404
// for an ID that is not well-formed, on both databases, and never 500.
func TestIllFormedIDsAreNotFound(t *testing.T) {
	forEachBackend(t, func(t *testing.T, ts *testServer) {
		ts.addUser("9999900010", admin.RoleOwner)
		b := ts.browser()
		dash := b.signIn(ts, "9999900010")
		for _, r := range ts.console.ConsoleRoutes() {
			if !strings.Contains(r[1], ":") {
				continue
			}
			for _, bad := range illFormedIDs {
				path := strings.NewReplacer(":id", bad, ":kid", bad, ":key_id", bad).Replace(r[1])
				var p kycvstest.Page
				if r[0] == http.MethodGet {
					p = b.Get(path)
				} else {
					p = b.Post(path, url.Values{"csrf_token": {dash.Hidden("csrf_token")}})
				}
				if p.Status != http.StatusNotFound {
					t.Errorf("console %s %s: %d, want 404", r[0], path, p.Status)
				}
			}
		}
		for _, r := range admin.NewAPI(admin.APIConfig{}, nil).Routes() {
			if !strings.Contains(r.Path, ":") {
				continue
			}
			for _, bad := range illFormedIDs {
				path := strings.NewReplacer(":id", bad, ":kid", bad, ":key_id", bad).Replace(r.Path)
				var body any
				if r.Method != http.MethodGet && r.Method != http.MethodDelete {
					body = map[string]any{}
				}
				resp := ts.call(r.Method, path, ts.owner, body)
				if resp.Status != http.StatusNotFound || resp.errorCode(t) != "not_found" {
					t.Errorf("API %s %s: %d %s, want 404", r.Method, path, resp.Status, resp.Body)
				}
			}
		}
		// IDs in a query are filters: an ill-formed one matches nothing.
		for _, path := range []string{"/disclosures?client_id=%00", "/disclosures?beneficiary_id=a%ff", "/audit?target_id=%00", "/beneficiaries?mobile=%00"} {
			if resp := ts.call(http.MethodGet, admin.APIPrefix+path, ts.owner, nil); resp.Status >= 500 {
				t.Errorf("API GET %s: %d %s", path, resp.Status, resp.Body)
			}
		}
	})
}

// The console's log holds no mobile number, not even masked: a sign-in
// for a mobile that is no admin's, and one locked by wrong codes, are
// logged with the keyed mobile tag only.
func TestConsoleLogsNoMobile(t *testing.T) {
	ts := newTestServer(t, "sqlite")
	ts.addUser("9999900010", admin.RoleOwner)
	for _, mobile := range []string{"9999900010", "9999933300"} {
		ts.clock.Advance(time.Minute)
		b := ts.browser()
		p := b.Submit(b.Get("/admin/login"), "/admin/login", url.Values{"mobile": {mobile}})
		for i := 0; i < 3; i++ {
			p = b.Submit(p, "/admin/login/otp", url.Values{"otp": {"00000" + strconv.Itoa(i)}})
		}
		if p.Status != http.StatusForbidden {
			t.Fatalf("%s: after three wrong codes: %d", mobile, p.Status)
		}
	}
	logs := ts.logs.String()
	if !strings.Contains(logs, "no admin's") || !strings.Contains(logs, "locked") || !strings.Contains(logs, "mobile_tag=") {
		t.Fatalf("the events are not logged:\n%s", logs)
	}
	scrubbed := withoutRandomFields(logs)
	for _, leak := range []string{"3300", "0010", "******", "99999"} {
		if strings.Contains(scrubbed, leak) {
			t.Errorf("the log holds %q:\n%s", leak, logs)
		}
	}
}

// withoutRandomFields is logs without the fields whose values are random
// hex or digits (IDs, tags, times and durations), which may hold a
// mobile's last digits by chance; the rest of each line may not.
func withoutRandomFields(logs string) string {
	return randomFields.ReplaceAllString(logs, "")
}

var randomFields = regexp.MustCompile(`(request_id|mobile_tag|user|duration|time)=\S+`)

// Every page of disclosures is a read of personal data and is audited, on
// the API and the console, and a cursor kycvs did not make is refused: a
// viewer once forged one to read every record with no audit entry.
func TestDisclosurePagesAudited(t *testing.T) {
	forEachBackend(t, func(t *testing.T, ts *testServer) {
		ctx := context.Background()
		for i := range 5 {
			if err := ts.st.CreateDisclosure(ctx, &store.Disclosure{ID: fmt.Sprintf("d%02d", i), ClientID: "c", BeneficiaryID: "b", Subject: "s", Channel: "authorize", Claims: store.StringList{"vaccination_status"}}); err != nil {
				t.Fatal(err)
			}
		}
		viewer := ts.adminKey(admin.RoleViewer)
		audited := func() int {
			es, _, err := ts.st.ListAuditEntries(ctx, store.AuditFilter{Action: "disclosure.query", Limit: 1000})
			if err != nil {
				t.Fatal(err)
			}
			return len(es)
		}
		before := audited()
		cursor, pages := "", 0
		for {
			path := "/admin/v1/disclosures?limit=2"
			if cursor != "" {
				path += "&cursor=" + cursor
			}
			resp := ts.call(http.MethodGet, path, viewer, nil)
			var page struct {
				Items []admin.DisclosureJSON `json:"items"`
				Next  string                 `json:"next_cursor"`
			}
			resp.json(t, &page)
			pages++
			if cursor = page.Next; cursor == "" {
				break
			}
		}
		if pages != 3 || audited()-before != 3 {
			t.Errorf("%d pages read, %d audited", pages, audited()-before)
		}
		forged := base64.RawURLEncoding.EncodeToString([]byte("4102444800000000000|~"))
		for _, cur := range []string{forged, forged + ".AAAAAAAAAAAAAAAAAAAAAA", strings.ToUpper(cursor) + "x"} {
			resp := ts.call(http.MethodGet, "/admin/v1/disclosures?limit=1000&cursor="+url.QueryEscape(cur), viewer, nil)
			if resp.Status != http.StatusBadRequest {
				t.Errorf("forged cursor %q: %d %s", cur, resp.Status, resp.Body)
			}
		}

		ts.addUser("9999900011", admin.RoleViewer)
		b := ts.browser()
		b.signIn(ts, "9999900011")
		before = audited()
		p := b.Get("/admin/disclosures")
		next := regexp.MustCompile(`href="(/admin/disclosures\?[^"]*cursor=[^"]+)"`).FindStringSubmatch(p.Body)
		if next == nil {
			// 5 rows fit one console page of 50: add enough for two.
			for i := range 50 {
				ts.st.CreateDisclosure(ctx, &store.Disclosure{ID: fmt.Sprintf("e%02d", i), ClientID: "c", BeneficiaryID: "b", Subject: "s", Channel: "authorize", Claims: store.StringList{"vaccination_status"}})
			}
			p = b.Get("/admin/disclosures")
			next = regexp.MustCompile(`href="(/admin/disclosures\?[^"]*cursor=[^"]+)"`).FindStringSubmatch(p.Body)
		}
		if next == nil {
			t.Fatalf("no next page link: %s", p.Body)
		}
		if p := b.Get(strings.ReplaceAll(next[1], "&amp;", "&")); p.Status != http.StatusOK {
			t.Fatalf("next page: %d", p.Status)
		}
		if n := audited() - before; n < 2 {
			t.Errorf("console: %d audit entries for two pages", n)
		}
		if p := b.Get("/admin/disclosures?cursor=" + forged); p.Status != http.StatusBadRequest {
			t.Errorf("console, forged cursor: %d", p.Status)
		}
	})
}
