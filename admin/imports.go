package admin

import (
	"strconv"
	"sync"
	"time"

	"github.com/kycvs/kycvs/claims"
	"github.com/kycvs/kycvs/store"
)

// keptImports is how many finished imports Imports still shows.
const keptImports = 10

// ImportStatus is one registry import this server process runs or ran,
// started from the admin API or the command line through the service.
type ImportStatus struct {
	ID       string                  `json:"id"`
	Actor    string                  `json:"actor"`
	Progress claims.ProgressSnapshot `json:"progress"`
	Finished *time.Time              `json:"finished,omitempty"`
	// Result is set once the import committed; Error once it failed.
	Result *ImportResultJSON `json:"result,omitempty"`
	Error  string            `json:"error,omitempty"`
}

// ImportResultJSON is what an import wrote.
type ImportResultJSON struct {
	Created   int `json:"created"`
	Updated   int `json:"updated"`
	Unchanged int `json:"unchanged"`
	Deleted   int `json:"deleted"`
	Doses     int `json:"doses"`
}

type trackedImport struct {
	id, actor string
	progress  *claims.Progress
	finished  *time.Time
	result    *ImportResultJSON
	err       string
}

// importTracker keeps the imports of this process, newest first. It is in
// memory: an operator watches an import on the process that runs it.
type importTracker struct {
	mu      sync.Mutex
	next    int
	imports []*trackedImport
}

func (t *importTracker) start(actor string, p *claims.Progress) *trackedImport {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.next++
	ti := &trackedImport{id: strconv.Itoa(t.next), actor: actor, progress: p}
	t.imports = append([]*trackedImport{ti}, t.imports...)
	if len(t.imports) > keptImports {
		// Drop the oldest finished one; running ones always show.
		for i := len(t.imports) - 1; i >= 0; i-- {
			if t.imports[i].finished != nil {
				t.imports = append(t.imports[:i], t.imports[i+1:]...)
				break
			}
		}
	}
	return ti
}

func (t *importTracker) finish(ti *trackedImport, res store.ImportResult, err error, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	ti.finished = &now
	if err != nil {
		ti.err = "failed: nothing was imported"
		return
	}
	ti.result = &ImportResultJSON{Created: res.Created, Updated: res.Updated, Unchanged: res.Unchanged, Deleted: res.Deleted, Doses: res.Doses}
}

// Imports returns the registry imports of this server process, running
// ones and the last finished ones, newest first.
func (s *Service) Imports() []ImportStatus {
	t := &s.imports
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]ImportStatus, 0, len(t.imports))
	for _, ti := range t.imports {
		out = append(out, ImportStatus{ID: ti.id, Actor: ti.actor, Progress: ti.progress.Snapshot(),
			Finished: ti.finished, Result: ti.result, Error: ti.err})
	}
	return out
}
