package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kycvs/kycvs/internal/kycvstest"
	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/store/storetest"
)

// tallyRow is one otp_tallies row as read back.
type tallyRow struct {
	channel, client                           string
	sent, accepted, refused, locked, declined int
	at                                        time.Time
}

func (r tallyRow) String() string {
	return fmt.Sprintf("%s/%s at %s: sent %d accepted %d refused %d locked %d declined %d",
		r.channel, r.client, r.at.UTC().Format(time.RFC3339Nano), r.sent, r.accepted, r.refused, r.locked, r.declined)
}

func readTallyRows(t *testing.T, s *store.Store) []tallyRow {
	t.Helper()
	db, err := s.DB()
	must(t, err)
	rows, err := db.QueryContext(testCtx(t), `SELECT channel, client_id, sent, accepted, refused, locked, declined, created_at
		FROM otp_tallies ORDER BY created_at, channel, client_id, id`)
	must(t, err)
	defer rows.Close()
	var out []tallyRow
	for rows.Next() {
		var r tallyRow
		must(t, rows.Scan(&r.channel, &r.client, &r.sent, &r.accepted, &r.refused, &r.locked, &r.declined, &r.at))
		out = append(out, r)
	}
	must(t, rows.Err())
	return out
}

// signIns makes sign-ins with codes sent and steps them on, each step one
// tallied change.
type signIns struct {
	t   *testing.T
	s   *store.Store
	ctx context.Context
	n   int
}

// send makes a sign-in of client with a code sent and returns its ID.
func (si *signIns) send(client string) string {
	si.n++
	id := fmt.Sprint("tally", si.n)
	lr := newLoginRequest(id, base.Add(time.Hour))
	lr.ClientID = client
	must(si.t, si.s.CreateLoginRequest(si.ctx, lr))
	sent := base.Add(time.Duration(si.n) * time.Second)
	si.step(id, func(r *store.LoginRequest) {
		r.State, r.OTPHash, r.OTPSentAt = store.LoginOTPSent, []byte{1}, &sent
	})
	return id
}

func (si *signIns) step(id string, change func(*store.LoginRequest)) {
	_, err := si.s.UpdateLoginRequest(si.ctx, id, func(r *store.LoginRequest) error { change(r); return nil })
	must(si.t, err)
}

func wrongCode(r *store.LoginRequest) { r.OTPTries++ }
func rightCode(r *store.LoginRequest) { r.State, r.OTPHash = store.LoginVerified, nil }

// setTallyTable renames otp_tallies away (so a flush fails, as when the
// database refuses it) or back.
func setTallyTable(t *testing.T, s *store.Store, away bool) {
	t.Helper()
	db, err := s.DB()
	must(t, err)
	from, to := "otp_tallies", "otp_tallies_away"
	if !away {
		from, to = to, from
	}
	_, err = db.ExecContext(testCtx(t), "ALTER TABLE "+from+" RENAME TO "+to)
	must(t, err)
}

// The OTP tallies are counted in memory and written by a flush: the
// counts add up per channel, client and minute (stamped with the
// minute's start), one flush is one INSERT whatever the number of rows, a
// flush with nothing to write sends nothing, a failed flush keeps its
// counts for the next (and later counts join them), a full backlog drops
// counts of new rows and says so, and readers sum several rows of one
// minute.
func TestOTPTallyFlush(t *testing.T) {
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		ctx := testCtx(t)
		clock := kycvstest.NewClock(base)
		s.SetTallyClock(clock.Now)
		si := &signIns{t: t, s: s, ctx: ctx}
		m10 := base.Truncate(time.Minute) // 10:00
		m11, m12 := m10.Add(time.Minute), m10.Add(2*time.Minute)

		// 10:00: air sends two codes, one gets a wrong code then the right
		// one; rail sends one; the console sends one of its own.
		a := si.send("air")
		si.step(a, wrongCode)
		clock.Set(m10.Add(59 * time.Second))
		si.step(a, rightCode)
		si.send("air")
		si.send("rail")
		must(t, s.CreateAdminLogin(ctx, &store.AdminLogin{ID: "l1", Mobile: "+919876543210", State: store.AdminLoginOTPSent,
			OTPHash: []byte{1}, OTPSentAt: &base, ExpiresAt: base.Add(time.Hour)}))
		// 10:01: air again.
		clock.Set(m11)
		si.send("air")

		if rows := readTallyRows(t, s); len(rows) != 0 {
			t.Fatalf("rows before the flush: %+v", rows)
		}
		if n := s.PendingOTPTallies(); n != 4 {
			t.Errorf("%d rows pending, want 4 (air and rail at 10:00, the console at 10:00, air at 10:01)", n)
		}
		before, _ := s.Counts()
		must(t, s.FlushOTPTallies(ctx))
		after, _ := s.Counts()
		if after-before != 1 {
			t.Errorf("the flush sent %d statements, want 1 INSERT", after-before)
		}
		want := []tallyRow{
			{channel: "admin", sent: 1, at: m10},
			{channel: "signin", client: "air", sent: 2, accepted: 1, refused: 1, at: m10},
			{channel: "signin", client: "rail", sent: 1, at: m10},
			{channel: "signin", client: "air", sent: 1, at: m11},
		}
		checkTallyRows(t, s, want)
		before, _ = s.Counts()
		must(t, s.FlushOTPTallies(ctx))
		if after, _ := s.Counts(); after != before {
			t.Errorf("a flush with nothing to write sent %d statements", after-before)
		}

		// A failed flush keeps its counts; what is counted meanwhile joins
		// them; the next flush writes them once.
		si.step(si.send("air"), wrongCode) // 10:01
		setTallyTable(t, s, true)
		err := s.FlushOTPTallies(ctx)
		if err == nil || !strings.Contains(err.Error(), "1 OTP tally rows not written, kept for the next flush") {
			t.Errorf("failed flush: %v", err)
		}
		si.send("air") // 10:01 still
		if n := s.PendingOTPTallies(); n != 1 {
			t.Errorf("%d rows pending after the failed flush, want 1", n)
		}
		setTallyTable(t, s, false)
		must(t, s.FlushOTPTallies(ctx))
		want = append(want, tallyRow{channel: "signin", client: "air", sent: 2, refused: 1, at: m11})
		checkTallyRows(t, s, want)
		// Readers sum the two rows of air's 10:01.
		got, err := s.SumOTPTalliesByClient(ctx, m11, m12)
		must(t, err)
		if w := (store.OTPTotals{Sent: 3, Refused: 1}); len(got) != 1 || got["air"] != w {
			t.Errorf("10:01 by client: %+v, want air %+v", got, w)
		}
		got, err = s.SumOTPTalliesByClient(ctx, m10, m11)
		must(t, err)
		if w := (store.OTPTotals{Sent: 2, Accepted: 1, Refused: 1}); len(got) != 2 || got["air"] != w || got["rail"] != (store.OTPTotals{Sent: 1}) {
			t.Errorf("10:00 by client: %+v, want air %+v and rail's one send", got, w)
		}

		// The backlog's cap: while flushes fail, a count that needs a new
		// row beyond the cap is dropped; one for a row kept still adds up.
		s.SetTallyLimit(1)
		clock.Set(m12)
		setTallyTable(t, s, true)
		si.send("air")
		si.send("rail") // dropped
		si.send("air")
		err = s.FlushOTPTallies(ctx)
		if err == nil || !strings.Contains(err.Error(), "1 counts dropped, more than 1 rows waited for a flush") {
			t.Errorf("failed flush at the cap: %v", err)
		}
		setTallyTable(t, s, false)
		must(t, s.FlushOTPTallies(ctx))
		want = append(want, tallyRow{channel: "signin", client: "air", sent: 2, at: m12})
		checkTallyRows(t, s, want)
	})
}

// checkTallyRows compares the table with want, in the order
// readTallyRows reads (time, channel, client, then as written).
func checkTallyRows(t *testing.T, s *store.Store, want []tallyRow) {
	t.Helper()
	if got := readTallyRows(t, s); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("otp_tallies:\n got %v\nwant %v", got, want)
	}
}

// A tally joins the counts only when its transaction commits, whether
// InTx or BeginTx began it.
func TestOTPTallyCommitted(t *testing.T) {
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		ctx := testCtx(t)
		si := &signIns{t: t, s: s, ctx: ctx}
		id := si.send("air")
		must(t, s.FlushOTPTallies(ctx))

		// Rolled back: InTx's function fails after the wrong code was
		// written.
		err := s.InTx(ctx, func(ctx context.Context) error {
			(&signIns{t: t, s: s, ctx: ctx}).step(id, wrongCode)
			if n := s.PendingOTPTallies(); n != 0 {
				t.Errorf("%d rows pending before the commit", n)
			}
			return errBoom
		})
		wantErr(t, "rolled back", err, errBoom)
		tx, err := s.BeginTx(ctx)
		must(t, err)
		(&signIns{t: t, s: s, ctx: tx}).step(id, wrongCode)
		must(t, s.RollbackTx(tx))
		if n := s.PendingOTPTallies(); n != 0 {
			t.Errorf("%d rows pending after two rollbacks", n)
		}

		// Committed.
		tx, err = s.BeginTx(ctx)
		must(t, err)
		(&signIns{t: t, s: s, ctx: tx}).step(id, wrongCode)
		if n := s.PendingOTPTallies(); n != 0 {
			t.Errorf("%d rows pending before CommitTx", n)
		}
		must(t, s.CommitTx(tx))
		must(t, s.InTx(ctx, func(ctx context.Context) error {
			(&signIns{t: t, s: s, ctx: ctx}).step(id, rightCode)
			return nil
		}))
		must(t, s.FlushOTPTallies(ctx))
		got, err := s.SumOTPTalliesByClient(ctx, time.Now().Add(-time.Hour), time.Now().Add(time.Minute))
		must(t, err)
		if w := (store.OTPTotals{Sent: 1, Refused: 1, Accepted: 1}); got["air"] != w {
			t.Errorf("air: %+v, want %+v", got["air"], w)
		}
	})
}

// RunOTPTallies flushes on its own every interval, hands a failed flush's
// error to report and writes its counts at a later tick, and returns when
// its context ends.
func TestRunOTPTallies(t *testing.T) {
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		ctx := testCtx(t)
		si := &signIns{t: t, s: s, ctx: ctx}
		run, stop := context.WithCancel(ctx)
		errs := make(chan error, 100)
		done := make(chan struct{})
		go func() {
			defer close(done)
			s.RunOTPTallies(run, 20*time.Millisecond, func(err error) {
				select {
				case errs <- err:
				default:
				}
			})
		}()
		sent := func() int64 {
			got, err := s.SumOTPTalliesByClient(ctx, time.Now().Add(-time.Hour), time.Now().Add(time.Minute))
			must(t, err)
			return got["air"].Sent
		}
		waitSent := func(want int64) {
			t.Helper()
			for deadline := time.Now().Add(5 * time.Second); sent() != want; time.Sleep(10 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("air's sends: %d, want %d", sent(), want)
				}
			}
		}

		si.send("air")
		waitSent(1)
		setTallyTable(t, s, true)
		si.send("air")
		select {
		case err := <-errs:
			if !strings.Contains(err.Error(), "kept for the next flush") {
				t.Errorf("reported %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no failed flush reported")
		}
		setTallyTable(t, s, false)
		waitSent(2)

		stop()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("RunOTPTallies did not return when its context ended")
		}
	})
}
