package oauth

import "testing"

func TestOriginOf(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"https://air.example/kycvs/callback", "https://air.example"},
		{"https://Air.Example:443/cb", "https://air.example"},
		{"https://air.example:8443/cb?x=1", "https://air.example:8443"},
		{"http://localhost:8081/demo/kycvs-callback", "http://localhost:8081"},
		{"http://127.0.0.1:80/cb", "http://127.0.0.1"},
		{"http://[::1]:9000/cb", "http://[::1]:9000"},
		{"http://[::1]/cb", "http://[::1]"},
		{"com.example.app:/callback", ""},
		{"/relative", ""},
		{"::not a url", ""},
	} {
		if got := originOf(tc.in); got != tc.want {
			t.Errorf("originOf(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestOriginAllowed(t *testing.T) {
	uris := []string{"https://air.example/kycvs/callback", "http://localhost:8081/cb"}
	for _, tc := range []struct {
		origin string
		want   bool
	}{
		{"https://air.example", true},
		{"http://localhost:8081", true},
		{"https://air.example:444", false},
		{"http://air.example", false},       // scheme matters
		{"https://evil.air.example", false}, // no subdomains
		{"https://air.example.evil", false},
		{"http://localhost:8082", false},
		{"null", false},
		{"*", false},
		{"", false},
	} {
		if got := originAllowed(uris, tc.origin); got != tc.want {
			t.Errorf("originAllowed(%q) = %v, want %v", tc.origin, got, tc.want)
		}
	}
}
