package store

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"time"
)

// AuditEntry is one admin action: who did it (ActorType "api_key",
// "user" or "cli", ActorID, ActorName, Role), when, from where (IP; for the
// CLI the user and host), what (Action, e.g. "client.update", on
// TargetType/TargetID) and what changed. Changes never holds a secret, a
// secret's hash, an OTP or a full mobile number; package admin writes it.
type AuditEntry struct {
	ID         string `gorm:"primaryKey"`
	At         time.Time
	ActorType  string
	ActorID    string
	ActorName  string
	Role       string
	IP         string `gorm:"column:ip"`
	RequestID  string
	Action     string
	TargetType string
	TargetID   string
	Changes    JSONObject
}

// TableName keeps the table name explicit.
func (AuditEntry) TableName() string { return "audit_log" }

// JSONObject is a JSON object kept in a text column.
type JSONObject map[string]any

// Value implements driver.Valuer.
func (o JSONObject) Value() (driver.Value, error) {
	if o == nil {
		return "{}", nil
	}
	b, err := json.Marshal(map[string]any(o))
	return string(b), err
}

// Scan implements sql.Scanner.
func (o *JSONObject) Scan(src any) error { return scanJSON(src, (*map[string]any)(o)) }

// CreateAuditEntry records one admin action. Call it in the transaction of
// the change it records, so a change is never without its entry.
func (s *Store) CreateAuditEntry(ctx context.Context, e *AuditEntry) error {
	if e.At.IsZero() {
		e.At = time.Now().UTC()
	}
	return translate(s.conn(ctx).Create(e).Error)
}

// AuditFilter selects audit entries; zero fields match everything.
type AuditFilter struct {
	ActorID    string
	Action     string // exact, or a prefix ending in "." ("client.")
	TargetType string
	TargetID   string
	Since      time.Time
	Until      time.Time
	// After continues a listing after the entry with this time and ID
	// (keyset paging, newest first).
	After *Cursor
	Limit int // default 100, at most 1000
}

// Cursor marks a position in a newest-first listing: the last row's time
// and ID.
type Cursor struct {
	At time.Time
	ID string
}

// ListAuditEntries returns matching entries newest first, and whether more
// follow.
func (s *Store) ListAuditEntries(ctx context.Context, f AuditFilter) ([]AuditEntry, bool, error) {
	q := s.conn(ctx).Model(&AuditEntry{})
	if !wellFormedKey(f.ActorID, f.Action, f.TargetType, f.TargetID) || (f.After != nil && !wellFormedKey(f.After.ID)) {
		return nil, false, nil // no stored entry has an ill-formed field
	}
	if f.ActorID != "" {
		q = q.Where("actor_id = ?", f.ActorID)
	}
	switch {
	case f.Action == "":
	case f.Action[len(f.Action)-1] == '.':
		q = q.Where("action LIKE ? ESCAPE '\\'", escapeLike(f.Action)+"%")
	default:
		q = q.Where("action = ?", f.Action)
	}
	if f.TargetType != "" {
		q = q.Where("target_type = ?", f.TargetType)
	}
	if f.TargetID != "" {
		q = q.Where("target_id = ?", f.TargetID)
	}
	if !f.Since.IsZero() {
		q = q.Where("at >= ?", f.Since.UTC())
	}
	if !f.Until.IsZero() {
		q = q.Where("at < ?", f.Until.UTC())
	}
	if f.After != nil {
		at := f.After.At.UTC()
		q = q.Where("(at < ? OR (at = ? AND id > ?))", at, at, f.After.ID)
	}
	limit := pageLimit(f.Limit)
	var es []AuditEntry
	if err := q.Order("at DESC, id").Limit(limit + 1).Find(&es).Error; err != nil {
		return nil, false, translate(err)
	}
	more := len(es) > limit
	if more {
		es = es[:limit]
	}
	return es, more, nil
}

// pageLimit is a listing's page size: default 100, at most 1000.
func pageLimit(n int) int {
	switch {
	case n <= 0:
		return 100
	case n > 1000:
		return 1000
	}
	return n
}

// escapeLike escapes LIKE's wildcards (and the escape character) in s, for
// a pattern with ESCAPE '\'.
func escapeLike(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\', '%', '_':
			out = append(out, '\\')
		}
		out = append(out, s[i])
	}
	return string(out)
}
