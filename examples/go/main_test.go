package main

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/kycvs/kycvs/internal/kycvstest"
)

// The example against a real kycvs process: every status, a decline, and
// an answer that belongs to no flow.
func TestExampleAgainstKycvs(t *testing.T) {
	kv := kycvstest.Start(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	client := kv.CreateClient("Example Rail", []string{base + "/callback"})
	a, err := newApp(context.Background(), config{Issuer: kv.URL, ClientID: client.ID, ClientSecret: client.Secret, BaseURL: base})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: a.routes()}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	for _, tc := range []struct {
		mobile, name string
		want         string
	}{
		{"9999900001", "Asha Verma", `data-status="2">Vaccination status: fully vaccinated, verified by kycvs.`},
		{"9999900002", "Ravi Kumar", `data-status="1">Vaccination status: partially vaccinated, verified by kycvs.`},
		{"9999900003", "Meera Nair", `data-status="0">Vaccination status: not vaccinated, verified by kycvs.`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := kycvstest.NewBrowser(t).SignIn(kv, base+"/login", tc.mobile, tc.name)
			if p.Status != http.StatusOK || !strings.HasPrefix(p.URL.String(), base+"/callback") || !strings.Contains(p.Body, tc.want) {
				t.Fatalf("got %d %s: %s", p.Status, p.URL, p.Body)
			}
		})
	}
	t.Run("declined", func(t *testing.T) {
		p := kycvstest.NewBrowser(t).Decline(base + "/login")
		if p.Status != http.StatusOK || !strings.Contains(p.Body, "You did not share your vaccination status") {
			t.Fatalf("got %d %s: %s", p.Status, p.URL, p.Body)
		}
	})
	t.Run("answer without a flow", func(t *testing.T) {
		p := kycvstest.NewBrowser(t).Get(base + "/callback?code=stolen&state=guessed")
		if p.Status != http.StatusBadRequest || !strings.Contains(p.Body, "does not belong to a check started here") {
			t.Fatalf("got %d: %s", p.Status, p.Body)
		}
	})
}
