package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/gorm"
)

// ErrNotSorted is what a *NotSortedError is (errors.Is).
var ErrNotSorted = errors.New("store: registry import input is not sorted by beneficiary ID")

// NotSortedError says an import with ImportOptions.Sorted met an input
// whose beneficiary IDs do not strictly rise in byte order (or a registry
// whose ID order is not byte order); nothing was applied. Read the input
// again without Sorted.
type NotSortedError struct {
	Line     int    // the input line of the record out of order (0: the registry's order)
	ID       string // its beneficiary ID
	After    string // the ID before it
	Registry bool   // the registry's ID order, not the input's, is not byte order
}

func (e *NotSortedError) Error() string {
	if e.Registry {
		return fmt.Sprintf("the registry's beneficiary IDs are not in byte order (%q after %q): its collation is not C", e.ID, e.After)
	}
	return fmt.Sprintf("line %d: beneficiary_id %s comes after %s; the file is not sorted by beneficiary_id", e.Line, e.ID, e.After)
}

// Is makes errors.Is(err, ErrNotSorted) true.
func (e *NotSortedError) Is(target error) bool { return target == ErrNotSorted }

// Sizes of the sorted merge's work: registry rows read per page, and
// changed records or missing IDs sent per COPY.
const (
	registryPageSize = 10000
	stagedBatch      = 4096
)

// loadSorted is the load of a re-import on PostgreSQL whose input is
// sorted by ID (ImportOptions.Sorted): it walks the input beside the
// registry's IDs and content hashes, read in the same order on a
// connection of its own, and stages only what the merge must write: the
// records that are new or differ (import_beneficiaries, with is_new) and
// the IDs of the registry the input does not name (import_missing).
// Unchanged beneficiaries, most of a routine re-import, never leave the
// process: no COPY of them, no staging index, no join with the registry.
func (imp *registryImport) loadSorted(ctx context.Context, tx *gorm.DB) error {
	for _, q := range []string{
		`CREATE TEMP TABLE import_beneficiaries (` + stagingColumnsSQL + `, is_new BOOLEAN NOT NULL) ON COMMIT DROP`,
		`CREATE TEMP TABLE import_missing (id TEXT NOT NULL) ON COMMIT DROP`,
	} {
		if err := tx.Exec(q).Error; err != nil {
			return err
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	reg := readRegistry(ctx, imp.s)
	defer func() {
		cancel()
		reg.wait()
	}()
	return imp.conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("store: registry import: not a pgx connection (%T)", dc)
		}
		st := &stager{ctx: ctx, conn: sc.Conn()}
		if err := imp.walkSorted(reg, st); err != nil {
			return err
		}
		imp.staged = st.changes
		return st.flush()
	})
}

// walkSorted merges the input with the registry, both in rising ID order.
func (imp *registryImport) walkSorted(reg *registryReader, st *stager) error {
	var prev string
	for {
		rec, err := imp.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if imp.loaded > 0 && rec.ID <= prev {
			return &NotSortedError{Line: rec.Line, ID: rec.ID, After: prev}
		}
		prev = rec.ID
		imp.loaded++
		// The registry's IDs before this one are missing from the input.
		for {
			id, ok, err := reg.peek()
			if err != nil {
				return err
			}
			if !ok || id >= rec.ID {
				break
			}
			if err := st.missing(id); err != nil {
				return err
			}
			reg.advance()
		}
		id, ok, err := reg.peek()
		if err != nil {
			return err
		}
		if ok && id == rec.ID {
			hash := reg.hash()
			reg.advance()
			if bytes.Equal(hash, rec.contentHash()) {
				continue
			}
			if err := st.changed(rec, false); err != nil {
				return err
			}
			continue
		}
		if err := st.changed(rec, true); err != nil {
			return err
		}
	}
	for {
		id, ok, err := reg.peek()
		if err != nil {
			return err
		}
		if !ok {
			return nil
		}
		if err := st.missing(id); err != nil {
			return err
		}
		reg.advance()
	}
}

// stager copies what the sorted merge found into the staging tables, a
// batch at a time, on the import's connection.
type stager struct {
	ctx     context.Context
	conn    *pgx.Conn
	rows    [][]any
	absent  [][]any
	changes int64 // rows staged
}

func (s *stager) changed(rec *ImportRecord, isNew bool) error {
	s.changes++
	s.rows = append(s.rows, append(appendStagingRow(make([]any, 0, len(stagingColumns)+1), rec), isNew))
	if len(s.rows) < stagedBatch {
		return nil
	}
	return s.flushChanged()
}

func (s *stager) missing(id string) error {
	s.absent = append(s.absent, []any{id})
	if len(s.absent) < stagedBatch {
		return nil
	}
	return s.flushMissing()
}

func (s *stager) flushChanged() error {
	if len(s.rows) == 0 {
		return nil
	}
	_, err := s.conn.CopyFrom(s.ctx, pgx.Identifier{"import_beneficiaries"},
		append(slices.Clip(stagingColumns), "is_new"), pgx.CopyFromRows(s.rows))
	s.rows = s.rows[:0]
	return err
}

func (s *stager) flushMissing() error {
	if len(s.absent) == 0 {
		return nil
	}
	_, err := s.conn.CopyFrom(s.ctx, pgx.Identifier{"import_missing"}, []string{"id"}, pgx.CopyFromRows(s.absent))
	s.absent = s.absent[:0]
	return err
}

func (s *stager) flush() error {
	if err := s.flushChanged(); err != nil {
		return err
	}
	return s.flushMissing()
}

// registryPage is one page of the registry's IDs and content hashes.
type registryPage struct {
	ids    []string
	hashes [][]byte
	err    error
}

// registryReader reads the registry's IDs and content hashes in rising ID
// order, a page ahead of the merge, on a goroutine and pooled connection
// of its own. Each page starts after the last ID of the one before (keyset
// paging through the primary key), so the pages are the whole table in
// the index's order whatever it is; the reader checks that order is byte
// order, the input's.
type registryReader struct {
	pages chan registryPage
	done  chan struct{}
	cur   registryPage
	i     int
	eof   bool
}

func readRegistry(ctx context.Context, s *Store) *registryReader {
	r := &registryReader{pages: make(chan registryPage, 2), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		defer close(r.pages)
		last, first := "", true
		for {
			p := registryPage{}
			// Two statements, not one with "first OR id > last": a
			// generic plan of that could not range-scan the index.
			q := s.db.WithContext(ctx).Raw(`SELECT id, content_hash FROM beneficiaries ORDER BY id LIMIT ?`, registryPageSize)
			if !first {
				q = s.db.WithContext(ctx).Raw(`SELECT id, content_hash FROM beneficiaries WHERE id > ? ORDER BY id LIMIT ?`, last, registryPageSize)
			}
			rows, err := q.Rows()
			if err == nil {
				for rows.Next() {
					var id string
					var hash []byte
					if err = rows.Scan(&id, &hash); err != nil {
						break
					}
					if !first && id <= last {
						err = &NotSortedError{ID: id, After: last, Registry: true}
						break
					}
					first, last = false, id
					p.ids, p.hashes = append(p.ids, id), append(p.hashes, hash)
				}
				if cerr := rows.Close(); err == nil {
					err = cerr
				}
				if err == nil {
					err = rows.Err()
				}
			}
			p.err = err
			select {
			case r.pages <- p:
			case <-ctx.Done():
				return
			}
			if err != nil || len(p.ids) < registryPageSize {
				return
			}
		}
	}()
	return r
}

// peek returns the registry's next ID; ok is false at its end.
func (r *registryReader) peek() (id string, ok bool, err error) {
	for r.i == len(r.cur.ids) {
		if r.eof {
			return "", false, nil
		}
		p, open := <-r.pages
		if !open {
			r.eof = true
			return "", false, nil
		}
		if p.err != nil {
			r.eof = true
			return "", false, p.err
		}
		r.cur, r.i = p, 0
	}
	return r.cur.ids[r.i], true, nil
}

// hash returns the content hash of the ID peek returned.
func (r *registryReader) hash() []byte { return r.cur.hashes[r.i] }

func (r *registryReader) advance() { r.i++ }

// wait waits for the goroutine, which ends once the context is cancelled
// or the registry is read.
func (r *registryReader) wait() {
	for range r.pages {
	}
	<-r.done
}
