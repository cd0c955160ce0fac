package store

import (
	"fmt"
	"testing"
	"time"
)

// A copy waits writtenLoginTTL for its page, and at most maxWrittenLogins
// wait at once: past either, the page reads the row.
func TestWrittenLoginsBounds(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	w := newWrittenLogins()
	w.keep(&LoginRequest{ID: "late", Version: 1}, now)
	if r := w.take("late", 1, now.Add(writtenLoginTTL+time.Millisecond)); r != nil {
		t.Error("a copy older than writtenLoginTTL was given")
	}
	w.keep(&LoginRequest{ID: "soon", Version: 1}, now)
	if r := w.take("soon", 1, now.Add(writtenLoginTTL)); r == nil || r.ID != "soon" {
		t.Errorf("a copy within writtenLoginTTL: got %v", r)
	}

	for i := range maxWrittenLogins {
		w.keep(&LoginRequest{ID: fmt.Sprint("r", i), Version: 1}, now)
	}
	w.keep(&LoginRequest{ID: "over", Version: 1}, now)
	if r := w.take("over", 1, now); r != nil {
		t.Error("a copy beyond maxWrittenLogins was kept")
	}
	w.keep(&LoginRequest{ID: "r0", Version: 2}, now) // a newer write of one held
	if r := w.take("r0", 2, now); r == nil {
		t.Error("a newer write of a request already held was not kept")
	}
	// Copies past their time are swept when the next is kept.
	w.keep(&LoginRequest{ID: "after", Version: 1}, now.Add(2*writtenLoginTTL))
	if n := len(w.byID); n != 1 {
		t.Errorf("%d copies held after the sweep, want 1", n)
	}
}
