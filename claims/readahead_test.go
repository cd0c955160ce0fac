package claims

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func readAheadCSV(n int) string {
	var b strings.Builder
	b.WriteString(strings.Join(csvHeader, ",") + "\n")
	for i := range n {
		fmt.Fprintf(&b, "b%d,98%08d,Person %d,1980,Covishield,1,2,2021-05-01\n", i, i, i)
	}
	return b.String()
}

// The reader hands over every record in file order across its batches,
// then io.EOF, with ReadCSV's result.
func TestReadAheadOrder(t *testing.T) {
	n := 3*readAheadBatch + 7
	next, readErr, stop := readAhead(strings.NewReader(readAheadCSV(n)), &Progress{})
	defer stop()
	for i := range n {
		rec, err := next()
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if want := fmt.Sprintf("b%d", i); rec.ID != want {
			t.Fatalf("record %d is %s, want %s", i, rec.ID, want)
		}
	}
	if _, err := next(); err != io.EOF {
		t.Fatalf("after the last record: %v, want io.EOF", err)
	}
	if *readErr != nil {
		t.Errorf("read error %v", *readErr)
	}

	// A bad line is ReadCSV's *ImportError, after the good records.
	bad := readAheadCSV(3) + "b9,not a mobile,X,1980,,,,\n"
	next, readErr, stop = readAhead(strings.NewReader(bad), &Progress{})
	defer stop()
	got := 0
	for _, err := next(); err == nil; _, err = next() {
		got++
	}
	var ie *ImportError
	if got != 3 || !errors.As(*readErr, &ie) || ie.Count() != 1 {
		t.Errorf("%d records and %v, want 3 and one bad line", got, *readErr)
	}
}

// An error reading the input comes after the records completed before it
// (not the last one read: more of its rows might have followed).
func TestReadAheadReadError(t *testing.T) {
	broken := io.MultiReader(strings.NewReader(readAheadCSV(2)), iotest.ErrReader(errors.New("disk gone")))
	next, _, stop := readAhead(broken, &Progress{})
	defer stop()
	var err error
	got := 0
	for _, err = next(); err == nil; _, err = next() {
		got++
	}
	if got != 1 || err == io.EOF || !strings.Contains(err.Error(), "disk gone") {
		t.Errorf("%d records, then %v; want 1 and the read error", got, err)
	}
}

// Stopping early, with batches unread, ends the reading goroutine (stop
// waits for it) and leaves its result errStopped, not an import error.
func TestReadAheadStop(t *testing.T) {
	next, readErr, stop := readAhead(strings.NewReader(readAheadCSV(20*readAheadBatch)), &Progress{})
	if _, err := next(); err != nil {
		t.Fatal(err)
	}
	stop()
	stop() // twice is harmless
	if !errors.Is(*readErr, errStopped) {
		t.Errorf("read error %v, want errStopped", *readErr)
	}
}
