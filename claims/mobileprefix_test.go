package claims

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

func TestPrefixProof(t *testing.T) {
	if !planIsPrefixDetermined("IN") {
		t.Fatal("India's numbering plan no longer follows from 6-digit prefixes: the mobile cache is off and imports are slow")
	}
	for _, tc := range []struct {
		pattern string
		want    bool
	}{
		{`[6-9]\d{9}`, true},
		{`98765\d{5}|7\d{9}`, true},
		{`\d{9}[0-4]`, false},   // the last digit matters
		{`9876543\d{3}`, false}, // the seventh digit matters
		{`(?:6|7)\d{5}(?:12|34)\d{2}`, false},
	} {
		if got := patternIsPrefixDetermined(tc.pattern); got != tc.want {
			t.Errorf("patternIsPrefixDetermined(%q) = %v, want %v", tc.pattern, got, tc.want)
		}
	}
}

// TestPrefixCacheAgrees: numbers checked through the cache get what the
// full check gives them, in both forms, whatever came first.
func TestPrefixCacheAgrees(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 3000 {
		n := fmt.Sprintf("%d%09d", 6+r.IntN(4), r.IntN(1_000_000_000))
		for _, in := range []string{n, "+91" + n} {
			want, wantErr := checkPlan(in)
			got, err := NormalizeMobile(in)
			if got != want || fmt.Sprint(err) != fmt.Sprint(wantErr) {
				t.Fatalf("NormalizeMobile(%q) = %q, %v; the full check says %q, %v", in, got, err, want, wantErr)
			}
		}
	}
}

// TestIndianVerdictAgrees: the number built directly gets the verdict the
// full check (parse, IsValidNumber, GetNumberType) gives its text, over
// every two-digit start of the mobile ranges and random numbers.
func TestIndianVerdictAgrees(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	verdict := func(e164 string, err error) int {
		switch {
		case err == nil:
			return verdictMobile
		case err == errNotMobile:
			return verdictNotMobile
		}
		return verdictInvalid
	}
	seen := map[int]int{}
	for i := range 20000 {
		n := fmt.Sprintf("%d%09d", 6+r.IntN(4), r.IntN(1_000_000_000))
		if i < 40 {
			n = fmt.Sprintf("%02d%08d", 60+i, r.IntN(100_000_000))
		}
		want := verdict(checkPlan(n))
		if got := indianVerdict(n); got != want {
			t.Fatalf("indianVerdict(%s) = %d, the full check says %d", n, got, want)
		}
		seen[want]++
	}
	t.Logf("verdicts: %v", seen)
}
