package store

import (
	"context"
	"fmt"
	"reflect"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/schema"
)

// Every instant is written in UTC, truncated to microseconds.
//
// UTC: SQLite has no time type. The driver writes a time as text in the
// value's own zone ("2024-03-01 15:30:00+05:30") and SQLite compares and
// orders that text, so an expiry written from an Asia/Kolkata clock would
// outlive a UTC "now" by five and a half hours, and newest-first lists would
// interleave zones. With every stored value and every query argument in UTC
// the text order is the time order. PostgreSQL's TIMESTAMPTZ does not care.
//
// Microseconds: PostgreSQL keeps no more; truncating on both dialects makes
// a value read back equal to the value written, whichever backend.

// storedTime is how an instant is written: UTC, microseconds.
func storedTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

var (
	timeType    = reflect.TypeFor[time.Time]()
	timePtrType = reflect.TypeFor[*time.Time]()
)

// registerTimeCallbacks makes every create and update write storedTime
// values. The caller's struct is updated too, so it equals what a later read
// returns; a *time.Time field gets a new pointer, never a write through the
// caller's.
func registerTimeCallbacks(db *gorm.DB) error {
	if err := db.Callback().Create().Before("gorm:create").Register("kycvs:stored_times", normaliseTimes); err != nil {
		return fmt.Errorf("register time callback: %w", err)
	}
	if err := db.Callback().Update().Before("gorm:update").Register("kycvs:stored_times", normaliseTimes); err != nil {
		return fmt.Errorf("register time callback: %w", err)
	}
	return nil
}

func normaliseTimes(db *gorm.DB) {
	st := db.Statement
	if db.Error != nil {
		return
	}
	// Update("column", value) and Updates(map) carry their values in Dest.
	if m, ok := st.Dest.(map[string]any); ok {
		for k, v := range m {
			switch v := v.(type) {
			case time.Time:
				m[k] = storedTime(v)
			case *time.Time:
				if v != nil {
					u := storedTime(*v)
					m[k] = &u
				}
			}
		}
	}
	if st.Schema == nil || !st.ReflectValue.IsValid() {
		return
	}
	switch rv := st.ReflectValue; rv.Kind() {
	case reflect.Slice, reflect.Array:
		for i := 0; i < rv.Len(); i++ {
			normaliseStruct(st.Context, st.Schema, reflect.Indirect(rv.Index(i)))
		}
	case reflect.Struct:
		normaliseStruct(st.Context, st.Schema, rv)
	}
}

func normaliseStruct(ctx context.Context, s *schema.Schema, rv reflect.Value) {
	if rv.Kind() != reflect.Struct || !rv.CanAddr() {
		return
	}
	for _, f := range s.Fields {
		v, zero := f.ValueOf(ctx, rv)
		if zero {
			continue
		}
		switch f.FieldType {
		case timeType:
			_ = f.Set(ctx, rv, storedTime(v.(time.Time)))
		case timePtrType:
			if p := v.(*time.Time); p != nil {
				u := storedTime(*p)
				_ = f.Set(ctx, rv, &u)
			}
		}
	}
}
