package claims

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/kycvs/kycvs/store"
)

// messyRegistry is a registry CSV of n beneficiaries with one to three
// rows each and, now and then, every kind of bad row: a bad mobile, a
// wrong column count, bad quoting, a name or dose that disagrees with the
// beneficiary's other rows, a no-dose row beside doses, an empty ID.
func messyRegistry(r *rand.Rand, n int) string {
	var b strings.Builder
	b.WriteString(strings.Join(csvHeader, ",") + "\n")
	for i := range n {
		id, mobile, name := fmt.Sprintf("b%d", i), fmt.Sprintf("98%08d", r.IntN(100_000_000)), fmt.Sprintf("Person %d", i)
		rows := 1 + r.IntN(3)
		for d := 1; d <= rows; d++ {
			row := fmt.Sprintf("%s,%s,%s,1980,Covishield,%d,3,2021-05-0%d", id, mobile, name, d, d)
			switch r.IntN(40) {
			case 0:
				row = fmt.Sprintf("%s,12345,%s,1980,Covishield,%d,3,2021-05-01", id, name, d)
			case 1:
				row = fmt.Sprintf("%s,%s,%s,1980,Covishield,%d,3", id, mobile, name, d)
			case 2:
				row = fmt.Sprintf(`%s,%s,Per"son,1980,Covishield,%d,3,2021-05-01`, id, mobile, d)
			case 3:
				row = fmt.Sprintf("%s,%s,Someone Else,1980,Covishield,%d,3,2021-05-01", id, mobile, d)
			case 4:
				row = fmt.Sprintf("%s,%s,%s,1980,Covishield,1,3,2021-05-01", id, mobile, name)
			case 5:
				row = fmt.Sprintf("%s,%s,%s,1980,,,,", id, mobile, name)
			case 6:
				row = fmt.Sprintf(",%s,%s,1980,Covishield,%d,3,2021-05-01", mobile, name, d)
			case 7:
				row = fmt.Sprintf(`"%s,%s,%s,1980,Covishield,%d,3,2021-05-01`, id, mobile, name, d)
			}
			b.WriteString(row + "\n")
		}
	}
	return b.String()
}

// readAll runs readCSV and renders what it handed on and returned.
func readAll(t *testing.T, in io.Reader, workers, chunk, stopAfter int) string {
	t.Helper()
	var b strings.Builder
	n := 0
	err := readCSV(in, func(rec *store.ImportRecord) error {
		n++
		fmt.Fprintf(&b, "%d %s %s %s %d %v\n", rec.Line, rec.ID, rec.Mobile, rec.Name, rec.YearOfBirth, rec.Doses)
		if n == stopAfter {
			return errors.New("stop here")
		}
		return nil
	}, workers, chunk)
	var ie *ImportError
	if errors.As(err, &ie) {
		fmt.Fprintf(&b, "%d problems: %v\n", ie.Count(), ie.Errors)
	} else {
		fmt.Fprintf(&b, "error: %v\n", err)
	}
	return b.String()
}

// Cut into chunks of a few rows and checked on several goroutines, a file
// gives exactly what one parser reading it row by row gives: the same
// beneficiaries in the same order, the same problems on the same lines.
func TestReadCSVInChunks(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for i := range 40 {
		in := messyRegistry(r, 5+r.IntN(200))
		if i%5 == 4 {
			in = strings.Replace(in, "\n", "\n"+strings.Repeat("x", maxLineBytes+1)+"\n", 1+r.IntN(50)) // a line too long stops the read
		}
		want := readAll(t, strings.NewReader(in), 1, 1<<30, 0)
		for _, chunk := range []int{1, 2, 3, 5, 8, 64} {
			if got := readAll(t, strings.NewReader(in), 4, chunk, 0); got != want {
				t.Fatalf("file %d in chunks of %d:\n%s\nread whole:\n%s", i, chunk, got, want)
			}
		}
		// The caller's error stops the read at the same beneficiary.
		if got, want := readAll(t, strings.NewReader(in), 4, 3, 7), readAll(t, strings.NewReader(in), 1, 1<<30, 7); got != want {
			t.Fatalf("file %d stopped after 7:\n%s\nread whole:\n%s", i, got, want)
		}
		// An error reading the input: the beneficiaries completed before it.
		cut := io.MultiReader(strings.NewReader(in[:len(in)/2]), iotest.ErrReader(errors.New("disk gone")))
		cutWhole := io.MultiReader(strings.NewReader(in[:len(in)/2]), iotest.ErrReader(errors.New("disk gone")))
		if got, want := readAll(t, cut, 4, 2, 0), readAll(t, cutWhole, 1, 1<<30, 0); got != want {
			t.Fatalf("file %d cut short:\n%s\nread whole:\n%s", i, got, want)
		}
	}
}
