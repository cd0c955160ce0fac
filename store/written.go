package store

import (
	"context"
	"reflect"
	"sync"
	"time"
)

// A page that follows a write reads back what the write just wrote: the
// code page, after the mobile form stored the code, reads the login
// request again. writtenLogins keeps, for a few seconds, each login
// request this process has just written before sending the browser to its
// page (KeepForPage), so that page is shown from the copy instead
// (GetLoginRequestAt). The page's address names the version it follows,
// and a copy answers only that version, once: another process's later
// write is another version, which this copy does not answer, so behind a
// balancer a page is never shown from an older copy than the one its
// address asks for.
type writtenLogins struct {
	mu    sync.Mutex
	byID  map[string]writtenLogin
	swept time.Time
}

// writtenLogin is a copy of a login request as this process wrote it.
type writtenLogin struct {
	r  *LoginRequest
	at time.Time
}

// expired reports whether the copy's page is too late for it at now.
func (c writtenLogin) expired(now time.Time) bool { return now.Sub(c.at) > writtenLoginTTL }

const (
	// writtenLoginTTL is how long a copy waits for its page: the browser
	// follows the redirect at once.
	writtenLoginTTL = 5 * time.Second
	// maxWrittenLogins bounds the copies held (about 2 kB each); beyond
	// it, pages read the row.
	maxWrittenLogins = 4096
)

func newWrittenLogins() *writtenLogins {
	return &writtenLogins{byID: map[string]writtenLogin{}}
}

// keep holds a copy of r, which this process has just written and
// committed, replacing any copy of the same request.
func (w *writtenLogins) keep(r *LoginRequest, now time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if now.Sub(w.swept) > writtenLoginTTL {
		for id, c := range w.byID {
			if c.expired(now) {
				delete(w.byID, id)
			}
		}
		w.swept = now
	}
	if _, ok := w.byID[r.ID]; !ok && len(w.byID) >= maxWrittenLogins {
		return
	}
	w.byID[r.ID] = writtenLogin{r: copyLoginRequest(r), at: now}
}

// take returns the copy of request id at version, if this process wrote
// it less than writtenLoginTTL ago, and forgets whatever copy of id it
// holds: a copy is given once, and a page asking for another version
// reads the row.
func (w *writtenLogins) take(id string, version int64, now time.Time) *LoginRequest {
	w.mu.Lock()
	c, ok := w.byID[id]
	delete(w.byID, id)
	w.mu.Unlock()
	if !ok || c.r.Version != version || c.expired(now) {
		return nil
	}
	return c.r
}

// copyLoginRequest returns a copy of r that shares no list, map or
// pointer with it.
func copyLoginRequest(r *LoginRequest) *LoginRequest {
	c := new(LoginRequest)
	deepCopy(reflect.ValueOf(c).Elem(), reflect.ValueOf(r).Elem())
	return c
}

// GetLoginRequestAt is GetLoginRequest for the page that follows a write
// of the request at version: the request as this process wrote it, when
// it wrote that version in the last few seconds and no page has been
// shown from that write yet; the row as read otherwise.
func (s *Store) GetLoginRequestAt(ctx context.Context, id string, version int64) (*LoginRequest, error) {
	if r := s.written.take(id, version, time.Now()); r != nil {
		return r, nil
	}
	return s.GetLoginRequest(ctx, id)
}

// KeepForPage keeps r, just written by the caller, for the page the
// caller sends the browser to next (GetLoginRequestAt). A write inside a
// transaction is not kept: it may still roll back.
func (s *Store) KeepForPage(ctx context.Context, r *LoginRequest) {
	if !inTx(ctx) {
		s.written.keep(r, time.Now())
	}
}
