package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/kycvs/kycvs/store/storetest"
)

// Flags count on either side of a subcommand's argument, and anything a
// subcommand does not use is refused with exit status 2: Go's flag package
// stops at the first positional, so `rotate-secret ID --grace 0` once
// kept the leaked secret working for 24 hours and exited 0.
func TestCLIFlagsAroundArguments(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dialect string) {
		t.Setenv("KYCVS_DATABASE_URL", storetest.URL(t, dialect))
		t.Setenv("KYCVS_SECRET", testSecret)
		if _, err := kycvs(t, "migrate", "up"); err != nil {
			t.Fatal(err)
		}
		create := func() string {
			out, err := kycvs(t, "clients", "create", "--name", "Example Air", "--redirect-uri", "https://air.example/cb", "--json")
			var c clientJSON
			if err != nil || json.Unmarshal([]byte(out), &c) != nil {
				t.Fatalf("create: %q %v", out, err)
			}
			return c.ClientID
		}
		// arrange puts the flags after the ID, before it, or some on each side.
		arrange := func(order, id string, before, after []string) []string {
			switch order {
			case "flags after":
				return append(append([]string{id}, before...), after...)
			case "flags before":
				return append(append(append([]string{}, before...), after...), id)
			}
			return append(append(append([]string{}, before...), id), after...)
		}
		for _, order := range []string{"flags after", "flags before", "flags around"} {
			t.Run(order, func(t *testing.T) {
				id := create()
				out, err := kycvs(t, append([]string{"clients", "rotate-secret"}, arrange(order, id, []string{"--json"}, []string{"--grace", "0"})...)...)
				var r clientJSON
				if err != nil || json.Unmarshal([]byte(out), &r) != nil {
					t.Fatalf("rotate-secret: %q %v", out, err)
				}
				for _, until := range r.PreviousSecretsValidUntil {
					if time.Until(until) > time.Minute {
						t.Errorf("rotate-secret --grace 0: the old secret works until %s", until)
					}
				}
				out, err = kycvs(t, append([]string{"clients", "update"}, arrange(order, id, []string{"--json"}, []string{"--name", "Renamed Air"})...)...)
				if err != nil || !strings.Contains(out, `"Renamed Air"`) {
					t.Errorf("update --name: %q %v", out, err)
				}
				if out, _ := kycvs(t, "clients", "show", "--json", id); !strings.Contains(out, `"Renamed Air"`) {
					t.Errorf("after update: %q", out)
				}
			})
		}
		t.Run("keys retire --withdraw", func(t *testing.T) {
			// A rotation retires the signing key at a later time; --withdraw
			// takes it out of the JWKS now.
			retiredKey := func(alg string) string {
				for range 2 { // the first makes the database's first key
					if out, err := kycvs(t, "keys", "rotate", "--alg", alg); err != nil {
						t.Fatalf("rotate: %q %v", out, err)
					}
				}
				list, _ := kycvs(t, "keys", "list", "--json")
				var keys []map[string]any
				json.Unmarshal([]byte(list), &keys)
				for _, k := range keys {
					if k["retired_at"] != nil && k["alg"] == alg && k["published"] == true {
						return k["kid"].(string)
					}
				}
				t.Fatalf("no retired %s key: %s", alg, list)
				return ""
			}
			published := func(kid string) bool {
				list, _ := kycvs(t, "keys", "list", "--json")
				var keys []map[string]any
				json.Unmarshal([]byte(list), &keys)
				for _, k := range keys {
					if k["kid"] == kid {
						return k["published"] == true
					}
				}
				return false
			}
			for _, args := range [][]string{{"RS256", "retire", "", "--withdraw"}, {"ES256", "retire", "--withdraw", ""}} {
				kid := retiredKey(args[0])
				cmd := []string{"keys"}
				for _, a := range args[1:] {
					if a == "" {
						a = kid
					}
					cmd = append(cmd, a)
				}
				if out, err := kycvs(t, cmd...); err != nil || !strings.Contains(out, "withdrawn") || published(kid) {
					t.Errorf("%v: %q %v, still published: %v", cmd, out, err, published(kid))
				}
			}
		})
		id := create()
		for name, args := range map[string][]string{
			"a second ID":            {"clients", "show", id, "other"},
			"an ID where none goes":  {"clients", "list", "extra"},
			"an unknown flag after":  {"clients", "rotate-secret", id, "--grace-period", "0"},
			"a bad value after":      {"clients", "rotate-secret", id, "--grace", "soon"},
			"keys list with an ID":   {"keys", "list", "KID"},
			"admin keys list, extra": {"admin", "keys", "list", "x"},
			"migrate, extra":         {"migrate", "up", "now"},
			"serve, extra":           {"serve", "--dev", "now"},
			"registry, two files":    {"registry", "import", "a.csv", "b.csv"},
		} {
			_, err := kycvs(t, args...)
			if err == nil || exitCode(err) != 2 {
				t.Errorf("%s (%v): %v, exit %d; want a usage error, exit 2", name, args, err, exitCode(err))
			}
		}
		if out, _ := kycvs(t, "clients", "show", id); strings.Contains(out, "Renamed") {
			t.Error("a refused command changed the client")
		}
	})
}
