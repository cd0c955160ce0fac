package loadtest

import (
	"strings"
	"testing"
	"time"
)

func TestIsLoopbackHost(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost": true, "127.0.0.1": true, "127.1.2.3": true, "::1": true, "::ffff:127.0.0.1": true,
		"10.0.0.1": false, "0.0.0.0": false, "example.com": false, "localhost.example.com": false, "": false, "::": false,
	} {
		if got := IsLoopbackHost(host); got != want {
			t.Errorf("IsLoopbackHost(%q) = %v, want %v", host, got, want)
		}
	}
}

func TestLoopbackOnlyRefusesOtherAddresses(t *testing.T) {
	for addr, ok := range map[string]bool{"127.0.0.1:80": true, "[::1]:443": true, "10.1.2.3:80": false, "[2001:db8::1]:443": false, "93.184.216.34:80": false} {
		err := loopbackOnly("tcp", addr, nil)
		if (err == nil) != ok {
			t.Errorf("loopbackOnly(%s) = %v, want allowed %v", addr, err, ok)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	gw := &Gateway{}
	valid := func() Config {
		return Config{
			Issuer: "http://127.0.0.1:8080", ClientID: "c", ClientSecret: "s", RedirectURI: DefaultRedirectURI,
			Users: BenchUsers(2), Duration: time.Second, Gateway: gw,
		}
	}
	tests := []struct {
		name   string
		change func(*Config)
		want   string // "" = valid
	}{
		{"valid", func(*Config) {}, ""},
		{"remote issuer", func(c *Config) { c.Issuer = "https://kycvs.example" }, "only loopback hosts"},
		{"remote redirect", func(c *Config) { c.RedirectURI = "https://rp.example/cb" }, "redirect URI"},
		{"no users", func(c *Config) { c.Users = nil }, "virtual users"},
		{"too many users", func(c *Config) { c.Users = BenchUsers(MaxUsers + 1) }, "virtual users"},
		{"shared mobile", func(c *Config) { c.Users[1].Mobile = c.Users[0].Mobile }, "used by two"},
		{"unbounded", func(c *Config) { c.Duration = 0 }, "duration"},
		{"too long", func(c *Config) { c.Duration = MaxDuration + time.Second }, "duration"},
		{"too many flows", func(c *Config) { c.Flows = MaxFlows + 1 }, "flows"},
		{"no gateway", func(c *Config) { c.Gateway = nil }, "gateway"},
		{"no client", func(c *Config) { c.ClientSecret = "" }, "client"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid()
			tt.change(&c)
			err := c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("error %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}

func TestBenchUsers(t *testing.T) {
	us := BenchUsers(3)
	if len(us) != 3 || us[0].Mobile != "+917000000001" || us[2].Name != "Bench User 00003" {
		t.Fatalf("got %+v", us)
	}
}
