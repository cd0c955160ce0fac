package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/kycvs/kycvs/oauth"
	"github.com/kycvs/kycvs/store"
)

// metricValue returns the value of the series whose name and labels
// (in the exposition's order) are exactly series, and whether it is there.
func metricValue(exposition, series string) (float64, bool) {
	for _, line := range strings.Split(exposition, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			return f, err == nil
		}
	}
	return 0, false
}

var randomHex = regexp.MustCompile(`"[0-9a-f]{12,}"`)

// A real kycvs process: /metrics answers on the metrics listener only,
// with requests by route and status, latencies, OTP sends and checks,
// disclosures by status and the database pool; its JSON log has a request
// ID on every request's lines and no personal data: no mobile number in
// any form, no name, code, token or client address.
func TestMetricsAndLogs(t *testing.T) {
	bin := buildKycvs(t)
	gw := newSMSGateway(t)
	dbURL := "sqlite:" + filepath.Join(t.TempDir(), "kycvs.db")
	addr, metricsAddr := freeLoopbackAddr(t), freeLoopbackAddr(t)
	p := startServe(t, bin, addr, []string{"KYCVS_SECRET=" + testSecret, "KYCVS_DATABASE_URL=" + dbURL},
		"--issuer", "http://"+addr, "--sms", gw.Spec(), "--sms-webhook-secret", gatewaySecret,
		"--metrics-addr", metricsAddr, "--log-format", "json", "--log-level", "debug")

	st, err := store.Open(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	people := loadPeople(t, st, "ops", 2)
	c, secret, err := oauth.NewClients(st, []byte(testSecret)).Create(context.Background(),
		oauth.ClientSpec{Name: "Ops Air", RedirectURIs: []string{"http://127.0.0.1:9/callback"}})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()

	d := &flowDriver{Issuer: p.URL, ClientID: c.ID, ClientSecret: secret, RedirectURI: "http://127.0.0.1:9/callback", Gateway: gw}
	r := d.run(context.Background(), people[0].Mobile, people[0].Name)
	if r.Err != nil {
		t.Fatalf("verification: %v%s", r.Err, lastBody(r))
	}
	// A wrong code, and a page that does not exist.
	s := openSignIn(t, p.URL, c.ID, people[1])
	if status, _, err := s.post(); err != nil || status != http.StatusSeeOther {
		t.Fatalf("send: %d %v", status, err)
	}
	if status, loc := s.postTo(t, s.url+"/otp", url.Values{"otp": {"000000"}}, 0); status != http.StatusSeeOther || !strings.HasSuffix(loc, "?m=wrong") {
		t.Fatalf("wrong code: %d to %q", status, loc)
	}
	req, _ := http.NewRequest(http.MethodGet, p.URL+"/no/such/"+people[1].Mobile, nil)
	req.Header.Set("X-Request-ID", "ops-test-request-1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	if got := get(t, p.URL+"/metrics"); got != http.StatusNotFound {
		t.Errorf("/metrics on the public listener: %d, want 404", got)
	}
	resp, err = http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	exposition := readAll(resp)
	resp.Body.Close()
	for series, atLeast := range map[string]float64{
		`kycvs_http_requests_total{code="200",method="GET",route="/login/:challenge"}`:           2,
		`kycvs_http_requests_total{code="200",method="POST",route="/oauth2/token"}`:              1,
		`kycvs_http_requests_total{code="200",method="GET",route="/userinfo"}`:                   1,
		`kycvs_http_requests_total{code="404",method="GET",route="unmatched"}`:                   1,
		`kycvs_http_request_duration_seconds_count{method="POST",route="/login/:challenge/otp"}`: 2,
		`kycvs_otp_sends_total{result="sent"}`:                                                   2,
		`kycvs_sms_send_duration_seconds_count{result="ok"}`:                                     2,
		`kycvs_otp_verifications_total{result="ok"}`:                                             1,
		`kycvs_otp_verifications_total{result="wrong"}`:                                          1,
		`kycvs_verifications_total{channel="authorize",vaccination_status="2"}`:                  1,
		`kycvs_verifications_total{channel="userinfo",vaccination_status="2"}`:                   1,
		`go_sql_max_open_connections{db_name="kycvs"}`:                                           1,
		`kycvs_http_requests_in_flight`:                                                          0,
	} {
		v, ok := metricValue(exposition, series)
		if !ok || v < atLeast {
			t.Errorf("%s = %v (present %v), want at least %v", series, v, ok, atLeast)
		}
	}
	for _, name := range []string{"process_resident_memory_bytes", "go_goroutines", "go_sql_in_use_connections", "go_sql_wait_duration_seconds_total"} {
		if !strings.Contains(exposition, "\n"+name+"{") && !strings.Contains(exposition, "\n"+name+" ") {
			t.Errorf("metric %s missing", name)
		}
	}

	// The log. Personal data may appear in no form.
	p.stop(10 * 1e9)
	national := strings.TrimPrefix(people[0].Mobile, "+91")
	personal := []string{people[0].Mobile, national, people[0].Name, people[1].Mobile, people[1].Name,
		national[len(national)-4:] + `"`, "******", r.AccessToken, r.IDToken, secret}
	for _, m := range []string{people[0].Mobile, people[1].Mobile} {
		code, _ := gw.LastCode(m)
		personal = append(personal, code)
	}
	requestIDs := 0
	sc := bufio.NewScanner(strings.NewReader(p.log.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	lines := 0
	for sc.Scan() {
		line := sc.Text()
		lines++
		var entry map[string]any
		if err := json.Unmarshal([]byte(line), &entry); err != nil {
			t.Errorf("not a JSON line: %s", line)
			continue
		}
		for _, k := range []string{"time", "level", "msg"} {
			if _, ok := entry[k]; !ok {
				t.Errorf("line without %s: %s", k, line)
			}
		}
		if entry["msg"] == "request" {
			if _, ok := entry["client_ip"]; ok {
				t.Errorf("an access log line names the client's address: %s", line)
			}
			if n, _ := entry["client_net"].(string); !regexp.MustCompile(`^\d+\.\d+\.\d+\.0/24$`).MatchString(n) {
				t.Errorf("client_net %q", n)
			}
		}
		if id, ok := entry["request_id"].(string); ok && id != "" {
			requestIDs++
			if id == "ops-test-request-1" && entry["path"] != nil && entry["status"] != float64(404) {
				t.Errorf("the request ID went to another request: %s", line)
			}
		} else if entry["path"] != nil || strings.Contains(line, "consent:") {
			t.Errorf("a request's line without request_id: %s", line)
		}
		// IDs and tags are random hex, which may end in a mobile's last
		// digits by chance; no personal value is 12 hex digits or more.
		scrubbed := randomHex.ReplaceAllString(line, `""`)
		for _, s := range personal {
			if s != "" && strings.Contains(scrubbed, s) {
				t.Errorf("the log holds personal data %q: %s", s, line)
			}
		}
	}
	if lines < 10 || requestIDs < 10 || !strings.Contains(p.log.String(), `"request_id":"ops-test-request-1"`) {
		t.Errorf("%d lines, %d with a request ID; the caller's X-Request-ID was not kept", lines, requestIDs)
	}
	if !strings.Contains(p.log.String(), `"mobile_tag":"`) {
		t.Error("no log line tags the mobile of a sign-in")
	}
}
