package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/gorm"
	"gorm.io/gorm/schema"
)

// Writes are statements to be written together, all or none, by
// Store.WriteTogether. Each method builds its statement as the Store
// method of the same name would send it, and sends nothing.
type Writes struct {
	s     *Store
	stmts []pendingStmt
	err   error
}

// pendingStmt is one statement of Writes. When must is set, a statement
// that changes no row fails the whole with must (ErrConflict: the row
// was not in the state the write expected).
type pendingStmt struct {
	sql  string
	vars []any
	must error
}

// WriteTogether runs fn to gather writes, then writes them in one
// transaction: every statement or none. fn reads nothing and decides
// nothing on what is written; it only says what to write. On PostgreSQL
// the statements go in one pipeline, one round trip, which the server
// runs as one implicit transaction: a conditional statement that changes
// no row raises an error there (kycvs_expect_changed, migration 00023)
// and the whole rolls back. One by one, with their BEGIN and COMMIT, a
// verification's resume would cost six round trips. On SQLite, where a
// statement costs no round trip, it is InTx.
//
// Inside a transaction of InTx (ctx carries one) the statements are sent
// in it, one by one, and the caller's transaction decides.
func (s *Store) WriteTogether(ctx context.Context, fn func(w *Writes) error) error {
	w := s.NewWrites()
	if err := fn(w); err != nil {
		return err
	}
	return s.Write(ctx, w)
}

// NewWrites returns writes to gather for Write, for a caller whose
// framework gathers them across calls (fosite's token transaction).
// Prefer WriteTogether.
func (s *Store) NewWrites() *Writes { return &Writes{s: s} }

// Write writes w as WriteTogether does. One statement needs no
// pipeline: sent alone it is a transaction of its own, and what it
// changed is seen directly.
func (s *Store) Write(ctx context.Context, w *Writes) error {
	if w.err != nil {
		return w.err
	}
	switch {
	case len(w.stmts) == 0:
		return nil
	case len(w.stmts) == 1:
		return s.exec(ctx, w.stmts[0])
	case s.dialect != Postgres || inTx(ctx):
		return s.InTx(ctx, func(ctx context.Context) error {
			for _, st := range w.stmts {
				if err := s.exec(ctx, st); err != nil {
					return err
				}
			}
			return nil
		})
	}
	s.counts.transactions.Add(1)
	s.counts.statements.Add(uint64(len(w.stmts)))
	return translate(s.pipeline(ctx, w.stmts))
}

// exec sends st on its own, in ctx's transaction if it carries one: a
// conditional statement that changes no row is its must.
func (s *Store) exec(ctx context.Context, st pendingStmt) error {
	res := s.conn(ctx).Exec(st.sql, st.vars...)
	if res.Error != nil {
		return translate(res.Error)
	}
	if st.must != nil && res.RowsAffected == 0 {
		return st.must
	}
	return nil
}

// pgExpectChanged is the SQLSTATE kycvs_expect_changed raises.
const pgExpectChanged = "KY409"

// pipeline sends stmts in one batch on one connection, a conditional
// statement wrapped so that changing no row fails it, and returns the
// first failure: a statement's error, or a conditional one's must.
func (s *Store) pipeline(ctx context.Context, stmts []pendingStmt) error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("store: not a pgx connection (%T)", dc)
		}
		b := &pgx.Batch{}
		for _, st := range stmts {
			q := st.sql
			if st.must != nil {
				q = "WITH changed AS (" + q + " RETURNING 1) SELECT kycvs_expect_changed(count(*)) FROM changed"
			}
			b.Queue(q, st.vars...)
		}
		br := sc.Conn().SendBatch(ctx, b)
		var failed error
		for _, st := range stmts {
			_, err := br.Exec()
			if err == nil || failed != nil {
				continue
			}
			failed = err
			var pg *pgconn.PgError
			if errors.As(err, &pg) && pg.Code == pgExpectChanged {
				failed = st.must
			}
		}
		if err := br.Close(); failed == nil {
			failed = err
		}
		return failed
	})
}

// add builds the statement q would send, without sending it; q may
// build none (returns nil).
func (w *Writes) add(q func(tx *gorm.DB) *gorm.DB, must error) {
	if w.err != nil {
		return
	}
	tx := q(w.s.db.Session(&gorm.Session{DryRun: true, NewDB: true}))
	switch {
	case tx == nil:
	case tx.Error != nil:
		w.err = translate(tx.Error)
	default:
		w.stmts = append(w.stmts, pendingStmt{sql: tx.Statement.SQL.String(), vars: tx.Statement.Vars, must: must})
	}
}

// changes adds versionedUpdate's UPDATE of out's changes from before,
// which holds only while the row is at before's version (errStale), and
// reports whether anything changed.
func (w *Writes) changes(ctx context.Context, sch *schema.Schema, before, out any) bool {
	changed := false
	w.add(func(tx *gorm.DB) *gorm.DB {
		res := updateChanges(ctx, tx, sch, before, out, true)
		changed = res != nil
		return res
	}, errStale)
	return changed
}

// CreateSession is Store.CreateSession.
func (w *Writes) CreateSession(sess *Session) {
	sess.setCreated()
	w.add(func(tx *gorm.DB) *gorm.DB { return tx.Create(sess) }, nil)
}

// DeleteSession is Store.DeleteSession.
func (w *Writes) DeleteSession(id string) {
	if !wellFormedKey(id) {
		return
	}
	w.add(func(tx *gorm.DB) *gorm.DB { return tx.Where("id = ?", id).Delete(&Session{}) }, nil)
}

// UseApprovedLoginRequest is Store.UseApprovedLoginRequest: the whole
// fails with ErrConflict unless the request is approved when written.
func (w *Writes) UseApprovedLoginRequest(id string) {
	w.add(func(tx *gorm.DB) *gorm.DB {
		return tx.Model(&LoginRequest{}).
			Where("id = ? AND state = ?", id, LoginApproved).
			Updates(map[string]any{"state": LoginUsed, "version": nextVersion})
	}, ErrConflict)
}

// DeactivateToken is Store.DeactivateToken, except that a row not
// active, or not there, fails the whole with ErrConflict.
func (w *Writes) DeactivateToken(kind, signature string) {
	w.add(func(tx *gorm.DB) *gorm.DB { return setActiveToken(tx, kind, signature, false) }, ErrConflict)
}

// CreateTokens is Store.CreateTokens.
func (w *Writes) CreateTokens(rows []*OAuthToken) {
	if len(rows) == 0 {
		return
	}
	w.add(func(tx *gorm.DB) *gorm.DB { return tx.Create(&rows) }, nil)
}

// RecordRPSession is Store.RecordRPSession.
func (w *Writes) RecordRPSession(r *RPSession) {
	r.setCreated()
	w.add(func(tx *gorm.DB) *gorm.DB { return tx.Clauses(rpSessionUpsert).Create(r) }, nil)
}

// CreateDisclosure is Store.CreateDisclosure.
func (w *Writes) CreateDisclosure(d *Disclosure) {
	d.setCreated()
	w.add(func(tx *gorm.DB) *gorm.DB { return tx.Create(d) }, nil)
}
