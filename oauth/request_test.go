package oauth

import (
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ory/fosite"

	"github.com/kycvs/kycvs/store"
)

func TestParsePrompt(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    prompts
		wantErr bool
	}{
		{"", prompts{}, false},
		{"none", prompts{none: true}, false},
		{"login consent", prompts{login: true, consent: true}, false},
		{"select_account", prompts{login: true}, false},
		{"none login", prompts{}, true},
		{"sometimes", prompts{}, true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parsePrompt(tc.in)
			if (err != nil) != tc.wantErr || (!tc.wantErr && got != tc.want) {
				t.Fatalf("got %+v, %v", got, err)
			}
		})
	}
}

func TestCheckPKCE(t *testing.T) {
	public := &Client{Client: &store.Client{Public: true}}
	confidential := &Client{Client: &store.Client{}}
	s256 := url.Values{"code_challenge": {"abc"}, "code_challenge_method": {"S256"}}
	for _, tc := range []struct {
		name   string
		client *Client
		form   url.Values
		ok     bool
	}{
		{"public with S256", public, s256, true},
		{"public without", public, url.Values{}, false},
		{"public plain", public, url.Values{"code_challenge": {"abc"}, "code_challenge_method": {"plain"}}, false},
		{"method defaults to plain", public, url.Values{"code_challenge": {"abc"}}, false},
		{"confidential without", confidential, url.Values{}, true},
		{"confidential with S256", confidential, s256, true},
		{"method without challenge", confidential, url.Values{"code_challenge_method": {"S256"}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := checkPKCE(tc.client, tc.form); (err == nil) != tc.ok {
				t.Fatalf("got %v", err)
			}
		})
	}
}

func TestMaxAgeExpired(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		maxAge string
		age    time.Duration
		want   bool
	}{
		{"", time.Hour, false},
		{"0", 0, true},
		{"60", 30 * time.Second, false},
		{"60", 61 * time.Second, true},
		{"junk", time.Hour, false},
	} {
		if got := maxAgeExpired(tc.maxAge, now.Add(-tc.age), now); got != tc.want {
			t.Errorf("max_age=%q age=%s: got %v", tc.maxAge, tc.age, got)
		}
	}
}

func TestPlanDisclosure(t *testing.T) {
	client := &Client{Client: &store.Client{Scopes: store.StringList{"openid", "vaccination_status", "profile"}}}
	req := func(scope, claims string) fosite.AuthorizeRequester {
		ar := fosite.NewAuthorizeRequest()
		ar.RequestedScope = fosite.Arguments(strings.Fields(scope))
		ar.Form = url.Values{"claims": {claims}}
		return ar
	}
	for _, tc := range []struct {
		name, scope, claims string
		idToken, userinfo   []string
		err                 bool
	}{
		{"status only", "openid vaccination_status", "", []string{"vaccination_status"}, []string{"vaccination_status"}, false},
		{"profile goes to userinfo", "openid vaccination_status profile", "", []string{"vaccination_status"}, []string{"vaccination_status", "name"}, false},
		{"claims parameter puts name in the ID token", "openid", `{"id_token":{"name":{"essential":true}}}`, []string{"name"}, nil, false},
		{"claims the client may not get are ignored", "openid", `{"userinfo":{"phone_number":null,"sub":null}}`, nil, nil, false},
		{"malformed claims", "openid", `{`, nil, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := planDisclosure(req(tc.scope, tc.claims), client, "in_cowin")
			if (err != nil) != tc.err {
				t.Fatalf("err %v", err)
			}
			if tc.err {
				return
			}
			if !slices.Equal(d.IDToken, tc.idToken) || !slices.Equal(d.Userinfo, tc.userinfo) {
				t.Fatalf("id_token %v userinfo %v", d.IDToken, d.Userinfo)
			}
		})
	}
}

// The resume releases the plan stored at authorize, whatever the replayed
// request would work out now; when the replay disagrees with it, the
// answer is server_error and no plan at all.
func TestApprovedPlan(t *testing.T) {
	client := &Client{Client: &store.Client{ID: "air", Scopes: store.StringList{"openid", "vaccination_status", "profile"}}}
	replay := func(scope, claims string) fosite.AuthorizeRequester {
		ar := fosite.NewAuthorizeRequest()
		ar.RequestedScope = fosite.Arguments(strings.Fields(scope))
		ar.Form = url.Values{"claims": {claims}}
		return ar
	}
	stored := func(grants, idToken, userinfo []string) *store.LoginRequest {
		d := disclosure{Grants: grants, IDToken: idToken, Userinfo: userinfo}
		return &store.LoginRequest{Scopes: grants, Claims: d.All(), Plan: d.stored()}
	}
	status := []string{"vaccination_status"}
	for _, tc := range []struct {
		name              string
		lr                *store.LoginRequest
		ar                fosite.AuthorizeRequester
		client            *Client
		idToken, userinfo []string
		wantServerError   bool
	}{
		{"the stored plan, not the replay's", stored([]string{"openid", "vaccination_status"}, status, nil),
			replay("openid vaccination_status", ""), client, status, nil, false},
		{"a claims request kept as stored", stored([]string{"openid", "name"}, []string{"name"}, nil),
			replay("openid", `{"id_token":{"name":null}}`), client, []string{"name"}, nil, false},
		{"before migration 00018: worked out from the replay", &store.LoginRequest{Scopes: []string{"openid", "vaccination_status", "profile"}},
			replay("openid vaccination_status profile", ""), client, status, []string{"vaccination_status", "name"}, false},
		{"shown differs from the plan", &store.LoginRequest{Scopes: []string{"openid", "vaccination_status"}, Claims: []string{"name"}, Plan: &store.DisclosurePlan{IDToken: status}},
			replay("openid vaccination_status", ""), client, nil, nil, true},
		{"the replay asks for a scope the plan lacks", stored([]string{"openid", "vaccination_status"}, status, status),
			replay("openid vaccination_status profile", ""), client, nil, nil, true},
		{"the client lost a claim's scope", stored([]string{"openid", "name"}, nil, []string{"name"}),
			replay("openid", `{"userinfo":{"name":null}}`), &Client{Client: &store.Client{ID: "air", Scopes: store.StringList{"openid", "vaccination_status"}}}, nil, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := approvedPlan(tc.lr, tc.ar, tc.client, "in_cowin")
			if tc.wantServerError {
				var rfc *fosite.RFC6749Error
				if !errors.As(err, &rfc) || rfc.ErrorField != fosite.ErrServerError.ErrorField || got.All() != nil {
					t.Fatalf("want server_error and no plan, got %+v, %v", got, err)
				}
				return
			}
			if err != nil || !slices.Equal(got.IDToken, tc.idToken) || !slices.Equal(got.Userinfo, tc.userinfo) {
				t.Fatalf("got id_token %v userinfo %v, %v", got.IDToken, got.Userinfo, err)
			}
		})
	}
}

func TestClientSpecValidate(t *testing.T) {
	ok := ClientSpec{Name: "Air", RedirectURIs: []string{"https://air.example/cb"}}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		change func(*ClientSpec)
	}{
		{"no name", func(s *ClientSpec) { s.Name = " " }},
		{"no redirect", func(s *ClientSpec) { s.RedirectURIs = nil }},
		{"http on a public host", func(s *ClientSpec) { s.RedirectURIs = []string{"http://air.example/cb"} }},
		{"fragment", func(s *ClientSpec) { s.RedirectURIs = []string{"https://air.example/cb#x"} }},
		{"unknown scope", func(s *ClientSpec) { s.Scopes = []string{"openid", "email"} }},
		{"scopes without openid", func(s *ClientSpec) { s.Scopes = []string{"vaccination_status"} }},
		{"public with a secret method", func(s *ClientSpec) { s.Public = true; s.TokenEndpointAuthMethod = "client_secret_basic" }},
		{"bad alg", func(s *ClientSpec) { s.IDTokenSignedResponseAlg = "none" }},
		{"two hosts without sector", func(s *ClientSpec) { s.RedirectURIs = append(s.RedirectURIs, "https://other.example/cb") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := ok
			s.RedirectURIs = append([]string(nil), ok.RedirectURIs...)
			tc.change(&s)
			if err := s.Validate(); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	loopback := ClientSpec{Name: "Dev", RedirectURIs: []string{"http://localhost:3000/cb"}}
	if err := loopback.Validate(); err != nil {
		t.Fatalf("http on localhost: %v", err)
	}
}

// A fapi2 client gets https redirect URIs only, loopback included (FAPI
// 2.0 Security Profile 5.3.2.2); its post-logout and back-channel logout
// URIs keep the general rule, as they carry no authorization response.
func TestFAPI2RedirectURIs(t *testing.T) {
	fapi2 := ClientSpec{Name: "Gov Air", Profile: ProfileFAPI2, JWKSURI: "https://gov.example/jwks", RedirectURIs: []string{"https://gov.example/cb"}}
	if err := fapi2.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, uri := range []string{"http://localhost:3000/cb", "http://127.0.0.1:9/cb", "http://[::1]:9/cb"} {
		s := fapi2
		s.RedirectURIs = []string{uri}
		var ve *ValidationError
		if err := s.Validate(); !errors.As(err, &ve) || !ve.BadRedirectURI || !strings.Contains(err.Error(), "must be https for profile fapi2") {
			t.Errorf("%s: %v", uri, err)
		}
		s.Profile = ""
		s.TokenEndpointAuthMethod = AuthPrivateKeyJWT
		if err := s.Validate(); err != nil {
			t.Errorf("%s without the profile: %v", uri, err)
		}
	}
	s := fapi2
	s.PostLogoutRedirectURIs = []string{"http://localhost:3000/bye"}
	s.BackchannelLogoutURI = "http://localhost:3000/bc"
	if err := s.Validate(); err != nil {
		t.Errorf("loopback post-logout and back-channel URIs: %v", err)
	}
}

func TestVerifiedClaimsWanted(t *testing.T) {
	for _, tc := range []struct {
		name, raw string
		want      bool
	}{
		{"any framework", `{"verification":{"trust_framework":null},"claims":{"vaccination_status":null}}`, true},
		{"our framework", `{"verification":{"trust_framework":{"value":"in_cowin"}},"claims":{"vaccination_status":{"essential":true}}}`, true},
		{"ours among values", `{"verification":{"trust_framework":{"values":["eidas","in_cowin"]}},"claims":{"vaccination_status":null}}`, true},
		{"another framework", `{"verification":{"trust_framework":{"value":"eidas"}},"claims":{"vaccination_status":null}}`, false},
		{"none of the values", `{"verification":{"trust_framework":{"values":["eidas"]}},"claims":{"vaccination_status":null}}`, false},
		{"no claim we hold", `{"verification":{"trust_framework":null},"claims":{"given_name":null}}`, false},
		{"no claims at all", `{"verification":{"trust_framework":null}}`, false},
		{"one alternative we meet", `[{"verification":{"trust_framework":{"value":"eidas"}},"claims":{"vaccination_status":null}},{"verification":{},"claims":{"vaccination_status":null}}]`, true},
		{"not an object", `"verified"`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := verifiedClaimsWanted(json.RawMessage(tc.raw), "in_cowin"); got != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}
