package admin

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kycvs/kycvs/store"
)

// AuditJSON is one audit entry.
type AuditJSON struct {
	ID         string         `json:"id"`
	At         time.Time      `json:"at"`
	ActorType  string         `json:"actor_type"`
	ActorID    string         `json:"actor_id"`
	ActorName  string         `json:"actor_name"`
	Role       string         `json:"role"`
	IP         string         `json:"ip"`
	RequestID  string         `json:"request_id"`
	Action     string         `json:"action"`
	TargetType string         `json:"target_type"`
	TargetID   string         `json:"target_id"`
	Changes    map[string]any `json:"changes"`
}

// ToAuditJSON renders e.
func ToAuditJSON(e *store.AuditEntry) AuditJSON {
	ch := map[string]any(e.Changes)
	if ch == nil {
		ch = map[string]any{}
	}
	return AuditJSON{ID: e.ID, At: e.At, ActorType: e.ActorType, ActorID: e.ActorID, ActorName: e.ActorName, Role: e.Role, IP: e.IP,
		RequestID: e.RequestID, Action: e.Action, TargetType: e.TargetType, TargetID: e.TargetID, Changes: ch}
}

// auditFilter reads the audit log's filters.
func auditFilter(q *query) store.AuditFilter {
	return store.AuditFilter{
		ActorID: q.str("actor_id", 200), Action: q.str("action", 100),
		TargetType: q.str("target_type", 50), TargetID: q.str("target_id", 200),
		Since: q.time("since", false), Until: q.time("until", true),
	}
}

func (a *API) handleAudit(c *gin.Context, _ Actor) {
	q := &query{c: c}
	f := auditFilter(q)
	f.Limit, f.After = q.limit(), q.cursor(a.svc)
	if !q.ok() {
		return
	}
	es, more, err := a.svc.Store().ListAuditEntries(c.Request.Context(), f)
	if err != nil {
		a.storeError(c, err)
		return
	}
	writePage(c, es, more, ToAuditJSON, func(e *store.AuditEntry) string { return a.svc.encodeCursor(e.At, e.ID) })
}

// writePage answers one page of a cursor-paged list: the rows as JSON and,
// when more follow, the cursor of the last row.
func writePage[R, J any](c *gin.Context, rows []R, more bool, toJSON func(*R) J, cursor func(*R) string) {
	items := make([]J, len(rows))
	for i := range rows {
		items[i] = toJSON(&rows[i])
	}
	next := ""
	if more && len(rows) > 0 {
		next = cursor(&rows[len(rows)-1])
	}
	c.JSON(http.StatusOK, gin.H{"items": items, "next_cursor": next})
}
