package claims_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/kycvs/kycvs/claims"
	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/store/storetest"
)

// registryCSV renders n beneficiaries b0..b(n-1), each on its own mobile,
// with two doses for even ones and none for odd ones; change(i) may alter
// beneficiary i's name (a changed beneficiary).
func registryCSV(n int, change func(i int) string) string {
	return renderRegistry("b%d", seq(0, n), change)
}

// renderRegistry renders beneficiaries ids as registryCSV does, each ID
// written with idFormat.
func renderRegistry(idFormat string, ids []int, change func(i int) string) string {
	var b strings.Builder
	b.WriteString(header)
	for _, i := range ids {
		id := fmt.Sprintf(idFormat, i)
		name := fmt.Sprintf("Person %d", i)
		if change != nil {
			name = change(i)
		}
		mobile := fmt.Sprintf("98%08d", i)
		if i%2 == 0 {
			fmt.Fprintf(&b, "%s,%s,%s,1980,Covishield,1,2,2021-05-01\n", id, mobile, name)
			fmt.Fprintf(&b, "%s,%s,%s,1980,Covishield,2,2,2021-08-01\n", id, mobile, name)
		} else {
			fmt.Fprintf(&b, "%s,%s,%s,1980,,,,\n", id, mobile, name)
		}
	}
	return b.String()
}

func importCSV(t *testing.T, st *store.Store, csv string, opts claims.ImportOptions) (store.ImportResult, error) {
	t.Helper()
	return claims.Import(context.Background(), st, strings.NewReader(csv), opts)
}

func count(t *testing.T, st *store.Store) int64 {
	t.Helper()
	n, err := st.CountBeneficiaries(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestImportStreaming(t *testing.T) {
	const n = 3000
	storetest.RunPooled(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()

		t.Run("a bad line near the end of a large file leaves nothing", func(t *testing.T) {
			csv := registryCSV(n, nil)
			csv += "b-last,9876543210,Last Person,1980,Covishield,1,2,2021-02-30\n"
			res, err := importCSV(t, st, csv, claims.ImportOptions{})
			var ie *claims.ImportError
			if !errors.As(err, &ie) || ie.Count() != 1 || ie.Errors[0].Line != n*3/2+2 || !strings.Contains(ie.Errors[0].Msg, "dose_date") {
				t.Fatalf("Import = %+v, %v; want one dose_date problem on line %d", res, err, n*3/2+2)
			}
			if got := count(t, st); got != 0 {
				t.Errorf("%d beneficiaries after a failed import, want 0", got)
			}
		})

		t.Run("rows of one beneficiary apart, same name on one mobile", func(t *testing.T) {
			csv := registryCSV(n, nil) +
				"b7,9800000007,Person 7,1980,,,,\n" + // b7 again, far from its row
				"x1,9800000010,PERSON  10,1990,,,,\n" // b10's mobile and name
			_, err := importCSV(t, st, csv, claims.ImportOptions{})
			var ie *claims.ImportError
			if !errors.As(err, &ie) || ie.Count() != 2 {
				t.Fatalf("Import error = %v, want two problems", err)
			}
			if e := ie.Errors[0]; e.Line != n*3/2+2 || !strings.Contains(e.Msg, "b7 is also on line") {
				t.Errorf("first problem = %+v", e)
			}
			if e := ie.Errors[1]; e.Line != n*3/2+3 || !strings.Contains(e.Msg, "beneficiary b10 on line") {
				t.Errorf("second problem = %+v", e)
			}
			if got := count(t, st); got != 0 {
				t.Errorf("%d beneficiaries after a failed import, want 0", got)
			}
		})

		t.Run("first import, then only what changed", func(t *testing.T) {
			res, err := importCSV(t, st, registryCSV(n, nil), claims.ImportOptions{})
			if want := (store.ImportResult{Created: n, Doses: n}); err != nil || res != want {
				t.Fatalf("first import = %+v, %v; want %+v", res, err, want)
			}
			res, err = importCSV(t, st, registryCSV(n, nil), claims.ImportOptions{})
			if want := (store.ImportResult{Unchanged: n}); err != nil || res != want {
				t.Fatalf("same file again = %+v, %v; want %+v", res, err, want)
			}
			before, err := st.GetBeneficiary(ctx, "b1")
			if err != nil {
				t.Fatal(err)
			}
			// 1% renamed, and 10 more people.
			changed := registryCSV(n+10, func(i int) string {
				if i%100 == 0 {
					return fmt.Sprintf("Renamed %d", i)
				}
				return fmt.Sprintf("Person %d", i)
			})
			res, err = importCSV(t, st, changed, claims.ImportOptions{})
			if want := (store.ImportResult{Created: 10, Updated: n / 100, Unchanged: n - n/100, Doses: n/100*2 + 10}); err != nil || res != want {
				t.Fatalf("1%% changed = %+v, %v; want %+v", res, err, want)
			}
			after, err := st.GetBeneficiary(ctx, "b1")
			if err != nil || !after.UpdatedAt.Equal(before.UpdatedAt) {
				t.Errorf("an unchanged beneficiary was rewritten: updated_at %v, then %v (%v)", before.UpdatedAt, after.UpdatedAt, err)
			}
			b, err := st.GetBeneficiary(ctx, "b200")
			if err != nil || b.Name != "Renamed 200" || len(b.Doses) != 2 {
				t.Errorf("b200 = %+v, %v; want renamed with its two doses", b, err)
			}
			if m, err := claims.NewRegistry(st).Match(ctx, "+919800000200", "renamed  200"); err != nil || m.ID != "b200" {
				t.Errorf("Match by the new name = %v, %v", m, err)
			}
		})

		t.Run("delete missing, within and above the limit", func(t *testing.T) {
			total := n + 10
			// Drop the last 1% exactly: allowed by the default 1%.
			keep := total - total/100
			opts := claims.ImportOptions{DeleteMissing: true, MaxDeleteFraction: 0.01}
			res, err := importCSV(t, st, registryCSV(keep/2, nil), opts)
			var de *store.DeleteLimitError
			if !errors.As(err, &de) || !errors.Is(err, store.ErrTooManyDeletes) || de.Missing != int64(total-keep/2) || de.Registry != int64(total) {
				t.Fatalf("half the registry missing = %+v, %v; want a DeleteLimitError", res, err)
			}
			if got := count(t, st); got != int64(total) {
				t.Fatalf("%d beneficiaries after a refused import, want %d", got, total)
			}
			csv := registryCSV(keep, func(i int) string {
				if i%100 == 0 {
					return fmt.Sprintf("Renamed %d", i)
				}
				return fmt.Sprintf("Person %d", i)
			})
			res, err = importCSV(t, st, csv, opts)
			if want := (store.ImportResult{Unchanged: keep, Deleted: total - keep}); err != nil || res != want {
				t.Fatalf("1%% missing = %+v, %v; want %+v", res, err, want)
			}
			res, err = importCSV(t, st, registryCSV(10, nil), claims.ImportOptions{DeleteMissing: true, MaxDeleteFraction: 0.01, Force: true})
			if err != nil || res.Deleted != keep-10 || res.Updated != 1 {
				t.Fatalf("forced = %+v, %v", res, err)
			}
			if got := count(t, st); got != 10 {
				t.Errorf("%d beneficiaries after a forced import, want 10", got)
			}
			if _, err := st.GetBeneficiary(ctx, "b11"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("deleted b11: %v", err)
			}
		})
	})
}

// TestImportFirstLoadIndexes: a first load into an empty registry (which
// drops the registry's secondary indexes, and on PostgreSQL its primary
// keys and the doses' foreign key, and builds them again after the rows)
// leaves the schema as the migrations made it, whether it fails late or
// succeeds.
func TestImportFirstLoadIndexes(t *testing.T) {
	const n = 3000
	storetest.RunPooled(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		want := registrySchema(t, st)
		if !strings.Contains(want, "doses_beneficiary_number_idx") || !strings.Contains(want, "beneficiaries_mobile_name_idx") {
			t.Fatalf("the schema lacks the registry's indexes before any import:\n%s", want)
		}
		if st.Dialect() == store.Postgres && !strings.Contains(want, "FOREIGN KEY (beneficiary_id) REFERENCES") {
			t.Fatalf("the schema lacks the doses' foreign key before any import:\n%s", want)
		}

		// The bad line is found as it is read but reported at the end,
		// after the merge: the whole first load is rolled back.
		csv := registryCSV(n, nil) + "b-last,9876543210,Last Person,1980,Covishield,1,2,2021-02-30\n"
		var ie *claims.ImportError
		if res, err := importCSV(t, st, csv, claims.ImportOptions{}); !errors.As(err, &ie) {
			t.Fatalf("Import = %+v, %v; want an ImportError", res, err)
		}
		if got := count(t, st); got != 0 {
			t.Errorf("%d beneficiaries after a failed first load, want 0", got)
		}
		if got := registrySchema(t, st); got != want {
			t.Errorf("schema after a failed first load:\n%s\nwant:\n%s", got, want)
		}

		res, err := importCSV(t, st, registryCSV(n, nil), claims.ImportOptions{})
		if want := (store.ImportResult{Created: n, Doses: n}); err != nil || res != want {
			t.Fatalf("first load = %+v, %v; want %+v", res, err, want)
		}
		if got := registrySchema(t, st); got != want {
			t.Errorf("schema after a first load:\n%s\nwant:\n%s", got, want)
		}
		if m, err := claims.NewRegistry(st).Match(ctx, "+919800000042", "person 42"); err != nil || m.ID != "b42" || len(m.Doses) != 2 {
			t.Errorf("Match after a first load = %+v, %v", m, err)
		}
		// The foreign key is back: deleting a beneficiary deletes its doses.
		db, err := st.DB()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, "DELETE FROM beneficiaries WHERE id = 'b42'"); err != nil {
			t.Fatal(err)
		}
		var doses int
		if err := db.QueryRowContext(ctx, "SELECT count(*) FROM doses WHERE beneficiary_id = 'b42'").Scan(&doses); err != nil || doses != 0 {
			t.Errorf("%d doses of a deleted beneficiary (%v), want 0", doses, err)
		}
	})
}

// registrySchema lists the indexes and constraints of st's schema, one a
// line with its definition: pg_indexes, pg_constraint and the columns on
// PostgreSQL, sqlite_master on SQLite.
func registrySchema(t *testing.T, st *store.Store) string {
	t.Helper()
	q := `SELECT type || ' ' || name || ' ' || COALESCE(sql, '') FROM sqlite_master ORDER BY type, name`
	if st.Dialect() == store.Postgres {
		q = `SELECT 'index ' || indexname || ' ' || indexdef FROM pg_indexes WHERE schemaname = current_schema()
			UNION ALL
			SELECT 'constraint ' || conname || ' ' || conrelid::regclass::text || ' ' || pg_get_constraintdef(oid) || ' ' || convalidated
			FROM pg_constraint WHERE connamespace = current_schema()::regnamespace
			UNION ALL
			SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type || ' nullable ' || is_nullable || ' ' || COALESCE(column_default, '')
			FROM information_schema.columns WHERE table_schema = current_schema()
			ORDER BY 1`
	}
	db, err := st.DB()
	if err != nil {
		t.Fatal(err)
	}
	rows, err := db.QueryContext(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		b.WriteString(line + "\n")
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// sortedCSV renders beneficiaries ids as registryCSV does, with IDs that
// sort as their numbers do (s00000, s00001, ...).
func sortedCSV(ids []int, change func(i int) string) string {
	return renderRegistry("s%05d", ids, change)
}

func seq(from, to int) []int {
	var s []int
	for i := from; i < to; i++ {
		s = append(s, i)
	}
	return s
}

// TestImportSorted: a re-import that says its input is sorted by ID
// (which PostgreSQL merges with the registry as both stream past, staging
// only what changed) writes and counts exactly what an unsorted one does,
// refuses an input out of order with nothing applied, and still finds a
// changed beneficiary that would share a mobile and name with an
// unchanged one. SQLite ignores Sorted.
func TestImportSorted(t *testing.T) {
	const n = 3000
	storetest.RunPooled(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		sorted := claims.ImportOptions{Sorted: true}
		renamed := func(i int) string {
			if i%100 == 0 {
				return fmt.Sprintf("Renamed %d", i)
			}
			return fmt.Sprintf("Person %d", i)
		}
		// The first load ignores Sorted: there is nothing to compare with.
		res, err := importCSV(t, st, sortedCSV(seq(0, n), nil), sorted)
		if want := (store.ImportResult{Created: n, Doses: n}); err != nil || res != want {
			t.Fatalf("first import = %+v, %v; want %+v", res, err, want)
		}
		before, err := st.GetBeneficiary(ctx, "s00001")
		if err != nil {
			t.Fatal(err)
		}

		// Out of order: s00002 after s00003, with a rename that must not land.
		ids := append(seq(0, 2), 3, 2)
		ids = append(ids, seq(4, n)...)
		res, err = importCSV(t, st, sortedCSV(ids, renamed), sorted)
		var nse *store.NotSortedError
		switch st.Dialect() {
		case store.SQLite:
			if want := (store.ImportResult{Updated: n / 100, Unchanged: n - n/100, Doses: n / 100 * 2}); err != nil || res != want {
				t.Fatalf("out of order on SQLite = %+v, %v; want %+v", res, err, want)
			}
			return
		default:
			if !errors.As(err, &nse) || !errors.Is(err, store.ErrNotSorted) || nse.ID != "s00002" || nse.After != "s00003" || nse.Line != 6 {
				t.Fatalf("out of order = %+v, %v; want a NotSortedError for s00002 on line 6", res, err)
			}
			if b, err := st.GetBeneficiary(ctx, "s00000"); err != nil || b.Name != "Person 0" {
				t.Fatalf("after a refused import, s00000 = %+v, %v", b, err)
			}
		}

		// 1% renamed, 10 new people after the last, s00001 gone.
		changed := append([]int{0}, seq(2, n+10)...)
		res, err = importCSV(t, st, sortedCSV(changed, renamed), sorted)
		if want := (store.ImportResult{Created: 10, Updated: n / 100, Unchanged: n - 1 - n/100, Doses: n/100*2 + 10}); err != nil || res != want {
			t.Fatalf("1%% changed = %+v, %v; want %+v", res, err, want)
		}
		if b, err := st.GetBeneficiary(ctx, "s00003"); err != nil || !b.UpdatedAt.Equal(before.UpdatedAt) {
			t.Errorf("an unchanged beneficiary was rewritten: %+v, %v", b, err)
		}
		if b, err := st.GetBeneficiary(ctx, "s00200"); err != nil || b.Name != "Renamed 200" || len(b.Doses) != 2 {
			t.Errorf("s00200 = %+v, %v; want renamed with its two doses", b, err)
		}
		if b, err := st.GetBeneficiary(ctx, "s03009"); err != nil || b.Name != "Person 3009" {
			t.Errorf("new s03009 = %+v, %v", b, err)
		}
		if _, err := st.GetBeneficiary(ctx, "s00001"); err != nil {
			t.Errorf("s00001, not in the file, was deleted without DeleteMissing: %v", err)
		}

		// A changed beneficiary taking an unchanged one's mobile and name.
		clash := strings.Replace(sortedCSV(changed, renamed), "s00005,9800000005,Person 5", "s00005,9800000007,Person 7", 1)
		_, err = importCSV(t, st, clash, sorted)
		var ie *claims.ImportError
		if !errors.As(err, &ie) || ie.Count() != 1 || ie.Errors[0].Line != 9 || !strings.Contains(ie.Errors[0].Msg, "beneficiary s00007 elsewhere in the file has the same mobile and name") {
			t.Fatalf("clash with an unchanged beneficiary = %v", err)
		}
		// The same with a beneficiary the import deletes is no clash.
		deleting := claims.ImportOptions{Sorted: true, DeleteMissing: true, MaxDeleteFraction: 0.01}
		withoutS7 := slices.DeleteFunc(slices.Clone(changed), func(i int) bool { return i == 7 })
		clash = strings.Replace(sortedCSV(withoutS7, renamed), "s00005,9800000005,Person 5", "s00005,9800000007,Person 7", 1)
		res, err = importCSV(t, st, clash, deleting)
		if want := (store.ImportResult{Updated: 1, Unchanged: n + 10 - 3, Deleted: 2}); err != nil || res != want {
			t.Fatalf("taking a deleted one's mobile and name = %+v, %v; want %+v", res, err, want)
		}

		// Delete missing above the limit, then forced.
		res, err = importCSV(t, st, sortedCSV(seq(0, n/2), nil), deleting)
		if !errors.Is(err, store.ErrTooManyDeletes) {
			t.Fatalf("half missing = %+v, %v; want ErrTooManyDeletes", res, err)
		}
		res, err = importCSV(t, st, sortedCSV(seq(n-10, n), renamed), claims.ImportOptions{Sorted: true, DeleteMissing: true, Force: true})
		if err != nil || res.Deleted != n+10-2-10 || res.Unchanged != 10 {
			t.Fatalf("forced = %+v, %v", res, err)
		}
		if got := count(t, st); got != 10 {
			t.Errorf("%d beneficiaries after a forced import, want 10", got)
		}
	})
}
