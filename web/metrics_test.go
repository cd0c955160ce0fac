package web

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestDeployedQueriesUseRealMetrics: every metric the Grafana dashboard
// and the Prometheus alerts query is one kycvs exports, so a renamed
// metric cannot leave a panel empty or an alert silent.
func TestDeployedQueriesUseRealMetrics(t *testing.T) {
	m := NewMetrics()
	// Vectors appear once they have a series.
	m.OTPSent("sent")
	m.OTPChecked("ok")
	m.Disclosed("authorize", nil)
	m.SMSSent(true, time.Millisecond)
	m.requests.WithLabelValues("/", "GET", "200").Inc()
	m.duration.WithLabelValues("/", "GET").Observe(0.001)
	m.RegisterDBCounts(func() (uint64, uint64) { return 1, 1 })
	families, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	exported := map[string]bool{}
	for _, f := range families {
		name := f.GetName()
		exported[name] = true
		for _, suffix := range []string{"_bucket", "_count", "_sum"} {
			exported[name+suffix] = true
		}
	}
	// The pool's metrics come from a collector registered with the
	// database (RegisterDB); up is Prometheus's own.
	for _, name := range []string{"go_sql_in_use_connections", "go_sql_open_connections", "go_sql_max_open_connections", "go_sql_wait_duration_seconds_total", "up"} {
		exported[name] = true
	}

	var queries []string
	dash, err := os.ReadFile("../deploy/grafana/kycvs.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(dash, &d); err != nil {
		t.Fatalf("kycvs.json: %v", err)
	}
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			queries = append(queries, tg.Expr)
		}
	}
	alerts, err := os.ReadFile("../deploy/prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	queries = append(queries, string(alerts))

	metric := regexp.MustCompile(`\b((?:kycvs|go|process)_[a-z_]+|up)\{`)
	seen := 0
	for _, q := range queries {
		for _, m := range metric.FindAllStringSubmatch(q, -1) {
			seen++
			if !exported[m[1]] {
				t.Errorf("%s is not a kycvs metric (in %q)", m[1], strings.TrimSpace(q)[:min(80, len(strings.TrimSpace(q)))])
			}
		}
	}
	if seen < 20 {
		t.Fatalf("only %d metric references found: the pattern misses them", seen)
	}
}
