package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kycvs/kycvs/store/storetest"
)

// kycvs runs the command line in-process and returns stdout.
func kycvs(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, &out, &errOut)
	if err != nil && errOut.Len() > 0 {
		t.Logf("stderr: %s", errOut.String())
	}
	return out.String(), err
}

func TestCLI(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dialect string) {
		t.Setenv("KYCVS_DATABASE_URL", storetest.URL(t, dialect))
		t.Setenv("KYCVS_SECRET", testSecret)

		if _, err := kycvs(t, "clients", "list"); err == nil || !strings.Contains(err.Error(), "migrate up") {
			t.Fatalf("before migrating: %v", err)
		}
		out, err := kycvs(t, "migrate", "up")
		if err != nil || !strings.Contains(out, "applied") || strings.Contains(out, "applied 0") {
			t.Fatalf("migrate up: %q %v", out, err)
		}
		if out, _ := kycvs(t, "migrate", "up"); !strings.Contains(out, "applied 0") {
			t.Fatalf("second migrate up: %q", out)
		}
		if out, _ := kycvs(t, "migrate", "status"); !strings.Contains(out, "true") || strings.Contains(out, "false") {
			t.Fatalf("migrate status: %q", out)
		}

		t.Run("clients", func(t *testing.T) {
			out, err := kycvs(t, "clients", "create", "--name", "Example Air", "--redirect-uri", "https://air.example/cb",
				"--redirect-uri", "https://air.example/cb2", "--scope", "openid", "--scope", "vaccination_status", "--scope", "profile", "--json")
			if err != nil {
				t.Fatal(err)
			}
			var created clientJSON
			if err := json.Unmarshal([]byte(out), &created); err != nil || created.ClientID == "" || len(created.ClientSecret) < 43 {
				t.Fatalf("create --json: %q %v", out, err)
			}
			pub, err := kycvs(t, "clients", "create", "--name", "Booking page", "--redirect-uri", "https://air.example/button", "--public", "--json")
			if err != nil || strings.Contains(pub, "client_secret") {
				t.Fatalf("public client: %q %v", pub, err)
			}
			list, _ := kycvs(t, "clients", "list")
			if !strings.Contains(list, "Example Air") || !strings.Contains(list, "Booking page") || strings.Contains(list, created.ClientSecret) {
				t.Fatalf("list: %q", list)
			}
			show, _ := kycvs(t, "clients", "show", created.ClientID, "--json")
			if strings.Contains(show, "client_secret") || !strings.Contains(show, "https://air.example/cb2") {
				t.Fatalf("show: %q", show)
			}
			rotated, err := kycvs(t, "clients", "rotate-secret", created.ClientID, "--json")
			var r clientJSON
			json.Unmarshal([]byte(rotated), &r)
			if err != nil || r.ClientSecret == "" || r.ClientSecret == created.ClientSecret {
				t.Fatalf("rotate-secret: %q %v", rotated, err)
			}
			if _, err := kycvs(t, "clients", "delete", created.ClientID); err != nil {
				t.Fatal(err)
			}
			if _, err := kycvs(t, "clients", "show", created.ClientID); err == nil || !strings.Contains(err.Error(), "no client") {
				t.Fatalf("show deleted: %v", err)
			}
		})

		t.Run("bad client registrations", func(t *testing.T) {
			for _, args := range [][]string{
				{"--name", "X"},
				{"--name", "X", "--redirect-uri", "http://air.example/cb"},
				{"--name", "X", "--redirect-uri", "https://air.example/cb#frag"},
				{"--name", "X", "--redirect-uri", "/relative"},
				{"--name", "X", "--redirect-uri", "https://a.example/cb", "--scope", "email"},
				{"--name", "X", "--redirect-uri", "https://a.example/cb", "--id-token-alg", "HS256"},
				{"--name", "X", "--redirect-uri", "https://a.example/cb", "--redirect-uri", "https://b.example/cb"},
			} {
				if _, err := kycvs(t, append([]string{"clients", "create"}, args...)...); err == nil || !strings.Contains(err.Error(), "invalid client") {
					t.Errorf("%v: %v", args, err)
				}
			}
		})

		t.Run("registry import", func(t *testing.T) {
			dir := t.TempDir()
			good := filepath.Join(dir, "good.csv")
			os.WriteFile(good, []byte("beneficiary_id,mobile,name,year_of_birth,vaccine,dose_number,total_doses,dose_date\n"+
				"B1,9876543210,Asha Verma,1985,Covishield,1,2,2021-05-10\n"+
				"B1,9876543210,Asha Verma,1985,Covishield,2,2,2021-08-02\n"+
				"B2,9876543210,Arjun Verma,1982,,,,\n"), 0o600)
			out, err := kycvs(t, "registry", "import", good)
			if err != nil || !strings.Contains(out, "2 beneficiaries created") || !strings.Contains(out, "2 doses") {
				t.Fatalf("import: %q %v", out, err)
			}
			bad := filepath.Join(dir, "bad.csv")
			os.WriteFile(bad, []byte("beneficiary_id,mobile,name,year_of_birth,vaccine,dose_number,total_doses,dose_date\n"+
				"B3,9876500000,New Person,1990,Covaxin,1,2,2021-06-01\n"+
				"B4,12,Bad Mobile,1990,Covaxin,1,2,2021-06-01\n"+
				"B5,9876500001,Bad Date,1990,Covaxin,1,2,2021-13-01\n"), 0o600)
			_, err = kycvs(t, "registry", "import", bad)
			if err == nil || !strings.Contains(err.Error(), "line 3") || !strings.Contains(err.Error(), "line 4") || !strings.Contains(err.Error(), "nothing was imported") {
				t.Fatalf("bad import: %v", err)
			}
			// Nothing of the failed import is there: a re-import of the good file only updates.
			if out, _ := kycvs(t, "registry", "import", good); !strings.Contains(out, "0 beneficiaries created, 0 updated, 2 unchanged") {
				t.Fatalf("re-import: %q", out)
			}
			// A file out of ID order is taken as sorted, found not to be
			// (on PostgreSQL, which compares sorted files as they stream),
			// and read again.
			unsorted := filepath.Join(dir, "unsorted.csv")
			os.WriteFile(unsorted, []byte("beneficiary_id,mobile,name,year_of_birth,vaccine,dose_number,total_doses,dose_date\n"+
				"B2,9876543210,Arjun Verma,1982,Covaxin,1,2,2021-06-01\n"+
				"B1,9876543210,Asha Verma,1985,Covishield,1,2,2021-05-10\n"+
				"B1,9876543210,Asha Verma,1985,Covishield,2,2,2021-08-02\n"), 0o600)
			var out2, errOut bytes.Buffer
			err = run(context.Background(), []string{"registry", "import", unsorted, "--progress-every", "0"}, &out2, &errOut)
			if err != nil || !strings.Contains(out2.String(), "0 beneficiaries created, 1 updated, 1 unchanged") {
				t.Fatalf("unsorted re-import: %q %v (%s)", out2.String(), err, errOut.String())
			}
			if again := strings.Contains(errOut.String(), "line 3: beneficiary_id B1 comes after B2; the file is not sorted by beneficiary_id: reading it again, unsorted"); again != (dialect == "postgres") {
				t.Errorf("unsorted re-import on %s said %q", dialect, errOut.String())
			}
		})

		t.Run("keys", func(t *testing.T) {
			out, err := kycvs(t, "keys", "rotate")
			if err != nil || strings.Count(out, "signs from now on") != 2 {
				t.Fatalf("rotate: %q %v", out, err)
			}
			list, _ := kycvs(t, "keys", "list")
			if strings.Count(list, "signing") != 2 || strings.Count(list, "RS256") != 1 || strings.Count(list, "ES256") != 1 {
				t.Fatalf("list after first rotate: %q", list)
			}
			kycvs(t, "keys", "rotate", "--alg", "ES256", "--immediate")
			list, _ = kycvs(t, "keys", "list")
			if strings.Count(list, "ES256") != 2 || strings.Count(list, "retiring") != 1 || strings.Count(list, "signing") != 2 {
				t.Fatalf("list after ES256 rotate: %q", list)
			}
			t.Setenv("KYCVS_SECRET", strings.Repeat("x", 40))
			if _, err := kycvs(t, "keys", "rotate"); err == nil || !strings.Contains(err.Error(), "server secret") {
				t.Fatalf("rotate with another secret: %v", err)
			}
		})
	})
}

func TestServeConfigValidation(t *testing.T) {
	t.Setenv("KYCVS_OTP_TTL", "0s")
	_, err := kycvs(t, "serve", "--issuer", "http://kycvs.example", "--database-url", "mysql://x", "--secret", "short", "--log-format", "xml")
	if err == nil {
		t.Fatal("serve accepted a bad configuration")
	}
	for _, want := range []string{"--issuer", "--database-url", "--secret", "--sms", "--otp-ttl", "--log-format"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %s: %v", want, err)
		}
	}
	if exitCode(err) != 2 {
		t.Errorf("exit code %d, want 2", exitCode(err))
	}
	if _, err := kycvs(t, "frobnicate"); exitCode(err) != 2 {
		t.Errorf("unknown command: %v", err)
	}
}
