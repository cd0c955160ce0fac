package store_test

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/store/storetest"
)

// TestRegistryLookupPlans: on a registry big enough for the planner to
// care (20,000 people, three per mobile), every lookup a verification
// makes goes through an index, never a scan of the registry
// (DESIGN.md, "Performance": indexes for every lookup).
func TestRegistryLookupPlans(t *testing.T) {
	s := storetest.Open(t, string(store.Postgres))
	ctx := testCtx(t)
	const n = 20000
	i := 0
	_, err := s.ImportRegistry(ctx, func() (*store.ImportRecord, error) {
		if i == n {
			return nil, io.EOF
		}
		i++
		b := person(fmt.Sprintf("B%06d", i), fmt.Sprintf("+9198%08d", i/3), fmt.Sprintf("person %d", i), dose(1, 2, "2021-05-01"))
		return &store.ImportRecord{Beneficiary: b, Line: i + 1}, nil
	}, store.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	db, err := s.DB()
	if err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"beneficiaries", "doses"} {
		if _, err := db.ExecContext(ctx, "ANALYZE "+table); err != nil {
			t.Fatal(err)
		}
	}
	// Each lookup reads the beneficiaries and their doses in one
	// statement: the beneficiaries through want's index, the doses
	// through theirs.
	want := map[string]string{
		"by mobile and name key": "beneficiaries_mobile_name_idx",
		"by mobile":              "beneficiaries_mobile_name_idx",
		"by id":                  "beneficiaries_pkey",
	}
	for name, q := range s.LookupSQL("+919800001234", "person 3703", "B003703") {
		t.Run(name, func(t *testing.T) {
			plan := explain(t, ctx, s, q)
			for _, index := range []string{want[name], "doses_beneficiary_number_idx"} {
				if !strings.Contains(plan, index) {
					t.Errorf("%s\nplan:\n%s\nwant it through %s", q, plan, index)
				}
			}
			if strings.Contains(plan, "Seq Scan") {
				t.Errorf("%s\nplan:\n%s\nwant no sequential scan", q, plan)
			}
		})
	}
}

// TestTokenRowsPlan: the token exchange's one read of a code's rows
// (GetTokens) looks each (kind, signature) up through the primary key on
// both databases, never scanning oauth_tokens.
func TestTokenRowsPlan(t *testing.T) {
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		ctx := testCtx(t)
		// PostgreSQL plans a sequential scan for a small table, so it gets
		// enough rows that only the keys make sense; SQLite's planner
		// takes a primary key for equality whatever the size, and its
		// driver, built with the race detector, takes seconds per
		// thousand rows.
		perBatch := 500
		if s.Dialect() == store.SQLite {
			perBatch = 50
		}
		for i := range 4 {
			var rows []*store.OAuthToken
			for j := range perBatch {
				sig := fmt.Sprintf("sig%d-%d", i, j)
				for _, kind := range []string{store.KindAuthorizeCode, store.KindPKCE, store.KindAccessToken} {
					rows = append(rows, newToken(kind, sig, "r"+sig, "c1"))
				}
				rows = append(rows, newToken(store.KindOpenID, "raw."+sig, "r"+sig, "c1"))
			}
			must(t, s.CreateTokens(ctx, rows))
		}
		db, err := s.DB()
		must(t, err)
		if _, err := db.ExecContext(ctx, "ANALYZE oauth_tokens"); err != nil {
			t.Fatal(err)
		}
		q := s.TokensSQL(store.TokenKey{Kind: store.KindAuthorizeCode, Signature: "sig1-7"},
			store.TokenKey{Kind: store.KindPKCE, Signature: "sig1-7"}, store.TokenKey{Kind: store.KindOpenID, Signature: "raw.sig1-7"})
		plan := explain(t, ctx, s, q)
		if strings.Contains(plan, "Seq Scan") || strings.Contains(plan, "SCAN oauth_tokens") ||
			strings.Count(plan, "oauth_tokens_pkey")+strings.Count(plan, "sqlite_autoindex_oauth_tokens") < 3 {
			t.Errorf("%s\nplan:\n%s\nwant three lookups through the primary key, no scan", q, plan)
		}
	})
}

// explain is the database's plan of q, one step a line: PostgreSQL's
// EXPLAIN, or SQLite's EXPLAIN QUERY PLAN (whose rows are an ID, a parent,
// an unused column and the step).
func explain(t *testing.T, ctx context.Context, s *store.Store, q string) string {
	t.Helper()
	db, err := s.DB()
	if err != nil {
		t.Fatal(err)
	}
	prefix := "EXPLAIN "
	if s.Dialect() == store.SQLite {
		prefix = "EXPLAIN QUERY PLAN "
	}
	rows, err := db.QueryContext(ctx, prefix+q)
	if err != nil {
		t.Fatalf("%s%s: %v", prefix, q, err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var line string
		var err error
		if s.Dialect() == store.SQLite {
			var id, parent, unused int
			err = rows.Scan(&id, &parent, &unused, &line)
		} else {
			err = rows.Scan(&line)
		}
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(line + "\n")
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}
