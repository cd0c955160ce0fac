package store

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/schema"
)

// row is a model whose primary key is a string ID.
type row[T any] interface {
	*T
	key() *string
}

func (r *Client) key() *string             { return &r.ID }
func (r *LoginRequest) key() *string       { return &r.ID }
func (r *Session) key() *string            { return &r.ID }
func (r *AdminUser) key() *string          { return &r.ID }
func (r *AdminLogin) key() *string         { return &r.ID }
func (r *APITransaction) key() *string     { return &r.ID }
func (r *InitialAccessToken) key() *string { return &r.ID }

// versioned is a row with a Version column that every write raises by one
// (see versionedUpdate).
type versioned interface{ version() *int64 }

func (r *LoginRequest) version() *int64 { return &r.Version }

// nextVersion raises a versioned row's version in an UPDATE written by
// hand rather than by writeChanges: every write of such a row must, or a
// versionedUpdate from an earlier read would overwrite it.
var nextVersion = gorm.Expr("version + 1")

// lockedUpdate is the read-modify-write behind every Update method: in one
// transaction it reads the row with id locked (SELECT ... FOR UPDATE on
// PostgreSQL; SQLite serialises writers), applies update, writes the
// columns update changed and runs after (when not nil) with the row as it
// was and as it is now. Concurrent updates of one row are therefore
// serialised, and each sees the other's result.
//
// Only the changed columns are written, in one UPDATE (with updated_at,
// where the model has one): a sign-in step changes two or three of a login
// request's 25 columns, and writing the rest back would encode its JSON
// columns again and make the database compare and log them. An update that
// changes nothing sends no UPDATE. Either way the row returned holds its
// times as stored (UTC, microseconds), as after a write.
//
// It returns ErrNotFound for an unknown id. update's error is returned
// unchanged and nothing is written, unless it is (or wraps) a *KeepChanges:
// then the changes are written and its Err is returned beside the row (a
// wrong OTP counts the try and still fails). Inside an enclosing InTx the
// *KeepChanges itself is returned, so that handing it back to InTx keeps
// the changes there too. update cannot change the ID.
func lockedUpdate[T any, P row[T]](ctx context.Context, s *Store, id string, update func(P) error, after func(ctx context.Context, before, now P) error) (P, error) {
	if !wellFormedKey(id) {
		return nil, ErrNotFound
	}
	nested := inTx(ctx)
	out := P(new(T))
	err := s.InTx(ctx, func(ctx context.Context) error {
		tx := s.conn(ctx)
		read := tx.Clauses(forUpdate).Where("id = ?", id).Take(out)
		if err := read.Error; err != nil {
			return translate(err)
		}
		sch, err := modelSchema(read, out)
		if err != nil {
			return err
		}
		before := P(new(T))
		*before = *out
		// update may change a list, a map or a pointed-to value in place:
		// before gets copies of its own to compare with.
		copyReferences(ctx, sch, reflect.ValueOf(before).Elem())
		var kept *KeepChanges
		if err := update(out); err != nil && !errors.As(err, &kept) {
			return err
		}
		*out.key() = id
		if err := writeChanges(ctx, tx, sch, before, out); err != nil {
			return translate(err)
		}
		if after != nil {
			if err := after(ctx, before, out); err != nil {
				return err
			}
		}
		if kept != nil {
			return kept
		}
		return nil
	})
	var kept *KeepChanges
	if err != nil && !errors.As(err, &kept) {
		return nil, err
	}
	return updated(out, kept, nested)
}

// updated is what an Update method returns for its row out, written: the
// row alone, or with kept (an updater's *KeepChanges) its Err beside the
// row; inside an enclosing InTx (nested) the *KeepChanges itself, so that
// handing it back to InTx keeps the changes there too.
func updated[P any](out P, kept *KeepChanges, nested bool) (P, error) {
	switch {
	case kept == nil:
		return out, nil
	case nested:
		return out, kept
	}
	return out, kept.Err
}

// versionedUpdate is lockedUpdate for a caller that has read the row
// already: update runs on a copy of read, and the changes are written with
// one UPDATE conditional on the row's version still being read's, so an
// update that nobody raced costs one statement instead of a transaction
// around a locked read and a write. When the row was written since, or
// update refuses the copy (the row as it is now might not be refused) or
// changes nothing (nothing to write, but read might be stale), it is
// lockedUpdate on the row as it is now. read itself is never changed.
//
// When update accepts the row (returns nil, not even a *KeepChanges) and
// also is not nil, the statements also gathers are written with the
// UPDATE, all or none (WriteTogether); under lockedUpdate, in its
// transaction.
func versionedUpdate[T any, P interface {
	row[T]
	versioned
}](ctx context.Context, s *Store, read P, update func(P) error, also func(w *Writes, now P), after func(ctx context.Context, before, now P) error) (P, error) {
	id := *read.key()
	accepted := false
	tracked := func(r P) error {
		err := update(r)
		accepted = err == nil
		return err
	}
	locked := func() (P, error) {
		return lockedUpdate(ctx, s, id, tracked, func(ctx context.Context, before, now P) error {
			if also != nil && accepted {
				if err := s.WriteTogether(ctx, func(w *Writes) error { also(w, now); return nil }); err != nil {
					return err
				}
			}
			if after != nil {
				return after(ctx, before, now)
			}
			return nil
		})
	}
	if !wellFormedKey(id) {
		return nil, ErrNotFound
	}
	sch, err := modelSchema(s.conn(ctx), read)
	if err != nil {
		return nil, err
	}
	out := P(new(T))
	*out = *read
	copyReferences(ctx, sch, reflect.ValueOf(out).Elem())
	var kept *KeepChanges
	if err := tracked(out); err != nil && !errors.As(err, &kept) {
		return locked()
	}
	// The key and the version are the store's, whatever update did.
	*out.key() = id
	*out.version() = *read.version()
	err = s.WriteTogether(ctx, func(w *Writes) error {
		if !w.changes(ctx, sch, read, out) {
			return errUnchanged
		}
		if also != nil && accepted {
			also(w, out)
		}
		return nil
	})
	switch {
	case errors.Is(err, errStale), errors.Is(err, errUnchanged):
		return locked()
	case err != nil:
		return nil, err
	}
	if after != nil {
		if err := after(ctx, read, out); err != nil {
			return nil, err
		}
	}
	return updated(out, kept, inTx(ctx))
}

// errStale and errUnchanged send versionedUpdate to lockedUpdate: the row
// was written since it was read, or the update changed nothing.
var (
	errStale     = errors.New("store: row written since it was read")
	errUnchanged = errors.New("store: nothing changed")
)

// modelSchema returns the schema of model, which read (a query into it)
// has parsed already.
func modelSchema(read *gorm.DB, model any) (*schema.Schema, error) {
	if sch := read.Statement.Schema; sch != nil {
		return sch, nil
	}
	stmt := &gorm.Statement{DB: read}
	if err := stmt.Parse(model); err != nil {
		return nil, err
	}
	return stmt.Schema, nil
}

// writeChanges writes the columns of out that differ from before, the row
// as read, with one UPDATE keyed by the primary key; gorm adds an
// updated_at column's new time, and a versioned row's version is set one
// higher than before's. Nothing changed: no UPDATE, and out's times are
// made what a write would have stored (see times.go).
func writeChanges(ctx context.Context, tx *gorm.DB, sch *schema.Schema, before, out any) error {
	if res := updateChanges(ctx, tx, sch, before, out, false); res != nil {
		return res.Error
	}
	return nil
}

// updateChanges is writeChanges' UPDATE as tx ran it (or, in a DryRun
// session, built it); nil when nothing changed. With ifVersion, the
// UPDATE holds only while the row is still at before's version.
func updateChanges(ctx context.Context, tx *gorm.DB, sch *schema.Schema, before, out any, ifVersion bool) *gorm.DB {
	changed := changedColumns(ctx, sch, reflect.ValueOf(before).Elem(), reflect.ValueOf(out).Elem())
	if len(changed) == 0 {
		normaliseStruct(ctx, sch, reflect.ValueOf(out).Elem())
		return nil
	}
	// Select writes the chosen columns even when zero; the time callbacks
	// see the struct, as they do for Save.
	q := tx.Model(out)
	if v, ok := out.(versioned); ok {
		was := *before.(versioned).version()
		*v.version() = was + 1
		changed = append(changed, "version")
		if ifVersion {
			q = q.Where("version = ?", was)
		}
	}
	return q.Select(changed).Updates(out)
}

// changedColumns lists the columns whose values differ between the
// structs a and b of sch's model, leaving out the primary key and the
// updated_at kind of column, which gorm sets itself whenever it writes.
// Times differ when their stored values would (see storedTime).
func changedColumns(ctx context.Context, sch *schema.Schema, a, b reflect.Value) []string {
	var changed []string
	for _, f := range sch.Fields {
		if f.DBName == "" || f.PrimaryKey || !f.Updatable || f.AutoUpdateTime > 0 {
			continue
		}
		if !sameValue(f.ReflectValueOf(ctx, a), f.ReflectValueOf(ctx, b)) {
			changed = append(changed, f.DBName)
		}
	}
	return changed
}

// sameValue reports whether the struct fields a and b, of one type, hold
// the same value as far as the database is concerned. Lists, maps and
// JSON-encoded values compare as Go values (reflect.DeepEqual), so a nil
// list and an empty one differ though both are written as "[]": such a
// change costs a redundant column, never a lost one.
func sameValue(a, b reflect.Value) bool {
	switch a.Type() {
	case timeType:
		return storedTime(*a.Addr().Interface().(*time.Time)).Equal(storedTime(*b.Addr().Interface().(*time.Time)))
	case timePtrType:
		x, y := a.Interface().(*time.Time), b.Interface().(*time.Time)
		if x == nil || y == nil {
			return x == y
		}
		return storedTime(*x).Equal(storedTime(*y))
	}
	switch a.Kind() {
	case reflect.String:
		return a.String() == b.String()
	case reflect.Bool:
		return a.Bool() == b.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return a.Int() == b.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return a.Uint() == b.Uint()
	case reflect.Slice:
		if a.Type().Elem().Kind() == reflect.Uint8 {
			// nil is NULL, an empty slice is not.
			return a.IsNil() == b.IsNil() && bytes.Equal(a.Bytes(), b.Bytes())
		}
	}
	// The fields' addresses, so that no value is copied to compare it.
	return reflect.DeepEqual(a.Addr().Interface(), b.Addr().Interface())
}

// copyReferences gives the struct rv of sch's model copies of its own of
// every list, map and pointed-to value, so that changing the original's in
// place leaves rv as it was.
func copyReferences(ctx context.Context, sch *schema.Schema, rv reflect.Value) {
	for _, f := range sch.Fields {
		switch f.FieldType.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Interface:
			v := f.ReflectValueOf(ctx, rv)
			deepCopy(v, v)
		}
	}
}

// deepCopy sets dst, which is settable, to a copy of src that shares no
// list, map or pointer with it: a struct's exported fields are copied
// deeply, its unexported ones (a time's zone) as they are. dst and src may
// be the same value.
func deepCopy(dst, src reflect.Value) {
	switch src.Kind() {
	case reflect.Pointer:
		if src.IsNil() {
			dst.Set(src)
			return
		}
		p := reflect.New(src.Type().Elem())
		deepCopy(p.Elem(), src.Elem())
		dst.Set(p)
	case reflect.Slice:
		if src.IsNil() {
			dst.Set(src)
			return
		}
		s := reflect.MakeSlice(src.Type(), src.Len(), src.Len())
		if plain(src.Type().Elem()) {
			reflect.Copy(s, src)
		} else {
			for i := range src.Len() {
				deepCopy(s.Index(i), src.Index(i))
			}
		}
		dst.Set(s)
	case reflect.Map:
		if src.IsNil() {
			dst.Set(src)
			return
		}
		m := reflect.MakeMapWithSize(src.Type(), src.Len())
		for it := src.MapRange(); it.Next(); {
			v := reflect.New(src.Type().Elem()).Elem()
			deepCopy(v, it.Value())
			m.SetMapIndex(it.Key(), v)
		}
		dst.Set(m)
	case reflect.Interface:
		if src.IsNil() {
			dst.Set(src)
			return
		}
		v := reflect.New(src.Elem().Type()).Elem()
		deepCopy(v, src.Elem())
		dst.Set(v)
	case reflect.Struct:
		dst.Set(src)
		for i := range dst.NumField() {
			if f := dst.Field(i); f.CanSet() && !plain(f.Type()) {
				deepCopy(f, f)
			}
		}
	case reflect.Array:
		dst.Set(src)
		if !plain(src.Type().Elem()) {
			for i := range dst.Len() {
				deepCopy(dst.Index(i), dst.Index(i))
			}
		}
	default:
		dst.Set(src)
	}
}

// plain reports whether values of t are copied whole by assignment: a
// boolean, a number or a string.
func plain(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Bool, reflect.String,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return true
	}
	return false
}
