package oauth_test

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kycvs/kycvs/oauth"
	"github.com/kycvs/kycvs/store/storetest"
)

// A sector_identifier_uri is fetched at registration and must list every
// redirect URI of the client (OIDC Core 8.1), so no client can join
// another's sector, and get its subs, without the sector host's consent.
func TestSectorIdentifierChecked(t *testing.T) {
	ctx := context.Background()
	var fetches atomic.Int32
	docs := map[string]string{
		"/air.json":     `["https://air.example/cb","https://book.air.example/cb"]`,
		"/not-json":     `<html>`,
		"/object.json":  `{"redirect_uris":["https://air.example/cb"]}`,
		"/huge.json":    `["` + strings.Repeat("x", 70<<10) + `"]`,
		"/numbers.json": `[1,2]`,
	}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		switch r.URL.Path {
		case "/slow.json":
			time.Sleep(1500 * time.Millisecond)
		case "/redirect.json":
			http.Redirect(w, r, "/air.json", http.StatusFound)
			return
		}
		doc, ok := docs[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(doc))
	}))
	t.Cleanup(srv.Close)
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())

	storetest.ForEach(t, func(t *testing.T, dialect string) {
		st := storetest.Open(t, dialect)
		// The test hook: loopback allowed, the test server's CA trusted.
		cs := oauth.NewClients(st, []byte(benchSecret)).WithFetch(oauth.JWKSFetchConfig{AllowPrivateAddresses: true, RootCAs: pool, Timeout: time.Second})
		spec := func(sector string, redirects ...string) oauth.ClientSpec {
			return oauth.ClientSpec{Name: "Air", RedirectURIs: redirects, SectorIdentifier: sector}
		}

		c, _, err := cs.Create(ctx, spec(srv.URL+"/air.json", "https://air.example/cb", "https://book.air.example/cb"))
		if err != nil {
			t.Fatalf("a listed client: %v", err)
		}

		for _, tc := range []struct {
			name, sector string
			redirects    []string
			want         string
		}{
			{"a redirect URI not listed", srv.URL + "/air.json", []string{"https://air.example/cb", "https://rail.example/cb"}, `does not list redirect URI "https://rail.example/cb"`},
			{"not found", srv.URL + "/none.json", []string{"https://air.example/cb"}, "status 404"},
			{"not JSON", srv.URL + "/not-json", []string{"https://air.example/cb"}, "not a JSON array"},
			{"an object", srv.URL + "/object.json", []string{"https://air.example/cb"}, "not a JSON array"},
			{"not strings", srv.URL + "/numbers.json", []string{"https://air.example/cb"}, "not a JSON array"},
			{"too large", srv.URL + "/huge.json", []string{"https://air.example/cb"}, "larger than"},
			{"too slow", srv.URL + "/slow.json", []string{"https://air.example/cb"}, "no answer within 1s"},
			{"a redirect", srv.URL + "/redirect.json", []string{"https://air.example/cb"}, "redirects are not followed"},
			{"http", strings.Replace(srv.URL, "https://", "http://", 1) + "/air.json", []string{"https://air.example/cb"}, "must be https"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, _, err := cs.Create(ctx, spec(tc.sector, tc.redirects...))
				var ve *oauth.ValidationError
				if !errors.As(err, &ve) || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("got %v, want a validation error with %q", err, tc.want)
				}
			})
		}

		t.Run("private addresses refused without the test hook", func(t *testing.T) {
			strict := oauth.NewClients(st, []byte(benchSecret)).WithFetch(oauth.JWKSFetchConfig{RootCAs: pool, Timeout: time.Second})
			_, _, err := strict.Create(ctx, spec(srv.URL+"/air.json", "https://air.example/cb"))
			if err == nil || !strings.Contains(err.Error(), "non-public address") {
				t.Fatalf("got %v", err)
			}
		})

		t.Run("update", func(t *testing.T) {
			// A change that keeps the sector and redirect URIs fetches nothing.
			before := fetches.Load()
			if _, _, _, err := cs.Update(ctx, c.ID, func(s *oauth.ClientSpec) error { s.Name = "Air India"; return nil }); err != nil {
				t.Fatal(err)
			}
			if n := fetches.Load() - before; n != 0 {
				t.Errorf("a rename fetched the sector document %d times", n)
			}
			// A redirect URI the document does not list is refused, and
			// nothing changes.
			_, _, _, err := cs.Update(ctx, c.ID, func(s *oauth.ClientSpec) error {
				s.RedirectURIs = append(s.RedirectURIs, "https://rail.example/cb")
				return nil
			})
			if !strings.Contains(fmt.Sprint(err), `does not list redirect URI "https://rail.example/cb"`) {
				t.Fatalf("got %v", err)
			}
			got, err := st.GetClient(ctx, c.ID)
			if err != nil || len(got.RedirectURIs) != 2 || got.Name != "Air India" {
				t.Fatalf("after the refused update: %+v, %v", got, err)
			}
			// Moving an existing client into another's sector is refused.
			other, _, err := cs.Create(ctx, spec("", "https://rail.example/cb"))
			if err != nil {
				t.Fatal(err)
			}
			_, _, _, err = cs.Update(ctx, other.ID, func(s *oauth.ClientSpec) error { s.SectorIdentifier = srv.URL + "/air.json"; return nil })
			var ve *oauth.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("joining Air's sector: %v", err)
			}
			if got, _ := st.GetClient(ctx, other.ID); got.SectorIdentifier != "" {
				t.Errorf("sector stored: %q", got.SectorIdentifier)
			}
			// A listed redirect URI passes.
			if _, after, _, err := cs.Update(ctx, c.ID, func(s *oauth.ClientSpec) error { s.RedirectURIs = []string{"https://book.air.example/cb"}; return nil }); err != nil || len(after.RedirectURIs) != 1 {
				t.Fatalf("a listed redirect URI: %v", err)
			}
		})
	})
}
