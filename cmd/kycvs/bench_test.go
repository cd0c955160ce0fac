package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/kycvs/kycvs/loadtest"
	"github.com/kycvs/kycvs/store/storetest"
)

const benchWebhookSecret = "bench-webhook-secret"

// freeLoopbackAddr returns a loopback address with a port that was free a
// moment ago, for the bench gateway the server must know before it starts.
func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// `kycvs bench --setup` prepares the server's database, receives every
// code through the webhook, and completes every flow it starts; the
// flows of its warm-up run but are not counted.
func TestBenchAgainstServer(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dialect string) {
		gateway := freeLoopbackAddr(t)
		ts := newTestServer(t, dialect, func(c *serveConfig) {
			c.SMS = "webhook:http://" + gateway + loadtest.GatewayPath
			c.SMSWebhookSecret = benchWebhookSecret
			c.IPLimit, c.OTPDailyLimit, c.OTPHourlyLimit, c.ClientOTPLimit = 0, 0, 0, 0
		})
		metrics := httptest.NewServer(ts.srv.metrics.Handler())
		t.Cleanup(metrics.Close)
		var out, errOut bytes.Buffer
		err := run(context.Background(), []string{"bench", "--setup", "--server-metrics", metrics.URL + "/metrics",
			"--database-url", ts.cfg.DatabaseURL, "--secret", testSecret,
			"--issuer", ts.URL, "--webhook-listen", gateway, "--sms-webhook-secret", benchWebhookSecret,
			"--users", "4", "--flows", "20", "--duration", "1m", "--warmup", "300ms", "--progress", "0",
			"--server-pid", strconv.Itoa(os.Getpid()), "--json",
		}, &out, &errOut)
		if err != nil {
			t.Fatalf("bench: %v\nstdout: %s\nstderr: %s", err, out.String(), errOut.String())
		}
		var res loadtest.Result
		if err := json.Unmarshal(out.Bytes(), &res); err != nil {
			t.Fatalf("bench --json printed %q: %v", out.String(), err)
		}
		if res.Completed != 20 || res.Failed != 0 || len(res.Errors) != 0 {
			t.Fatalf("completed %d, failed %d (%+v), want 20 and 0", res.Completed, res.Failed, res.Errors)
		}
		for _, s := range res.Steps {
			if s.Count != 20 || s.P50Ms <= 0 || s.MaxMs < s.P99Ms {
				t.Errorf("step %s: %+v", s.Step, s)
			}
		}
		// Every user started at least one flow in the warm-up, whose code
		// the gateway received too.
		if res.SMS.Received < 24 || res.SMS.BadSignature != 0 || res.WarmupSeconds != 0.3 {
			t.Errorf("SMS: %+v after a warm-up of %v s, want 20 and at least one a user received and none rejected", res.SMS, res.WarmupSeconds)
		}
		if res.Server == nil || res.Server.CPUSeconds <= 0 || res.Server.Memory == nil || res.Server.Memory.RSS == 0 {
			t.Errorf("server process figures missing: %+v", res.Server)
		}
		// A verification is some tens of statements in a few transactions
		// (BENCHMARKS.md); none would mean the counter counts nothing.
		if q := res.SQL; q == nil || q.Error != "" || q.StatementsPerFlow < 10 || q.StatementsPerFlow > 100 ||
			q.TransactionsPerFlow < 1 || q.TransactionsPerFlow > 20 {
			t.Errorf("SQL figures: %+v", res.SQL)
		}
	})
}

func TestBenchRefuses(t *testing.T) {
	base := []string{"bench", "--sms-webhook-secret", "s", "--client-id", "c", "--client-secret", "x", "--duration", "1s", "--progress", "0"}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"remote issuer", []string{"--issuer", "https://kycvs.example"}, "loopback"},
		{"remote gateway", []string{"--issuer", "http://127.0.0.1:1", "--webhook-listen", "0.0.0.0:9099"}, "loopback"},
		{"remote metrics", []string{"--issuer", "http://127.0.0.1:1", "--server-metrics", "http://metrics.example/metrics"}, "loopback"},
		{"unbounded", []string{"--duration", "0s"}, "--duration"},
		{"negative warm-up", []string{"--warmup", "-1s"}, "--warmup"},
		{"too many users", []string{"--users", "100000"}, "--users"},
		{"setup with a client", []string{"--setup"}, "not used with --setup"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := run(context.Background(), append(append([]string{}, base...), tt.args...), &out, &errOut)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error mentioning %q", err, tt.want)
			}
		})
	}
	t.Run("no webhook secret", func(t *testing.T) {
		t.Setenv("KYCVS_SMS_WEBHOOK_SECRET", "")
		var out, errOut bytes.Buffer
		err := run(context.Background(), []string{"bench", "--client-id", "c", "--client-secret", "x"}, &out, &errOut)
		if exitCode(err) != 2 || !strings.Contains(err.Error(), "--sms-webhook-secret") {
			t.Fatalf("got %v (exit %d), want a usage error about --sms-webhook-secret", err, exitCode(err))
		}
	})
}
