package store_test

import (
	"bytes"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/store/storetest"
)

func TestAdminKeys(t *testing.T) {
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		ctx := testCtx(t)
		k := &store.AdminKey{ID: "kycvsadm_01", Name: "ci", Role: "viewer", Hash: []byte{1, 2, 3}, CreatedAt: base, CreatedBy: "cli:root@host"}
		must(t, s.CreateAdminKey(ctx, k))
		wantErr(t, "duplicate", s.CreateAdminKey(ctx, &store.AdminKey{ID: "kycvsadm_01", Name: "x", Role: "owner", Hash: []byte{1}}), store.ErrAlreadyExists)
		must(t, s.CreateAdminKey(ctx, &store.AdminKey{ID: "kycvsadm_02", Name: "ops", Role: "owner", Hash: []byte{4}, CreatedAt: base.Add(time.Second)}))

		got, err := s.GetAdminKey(ctx, "kycvsadm_01")
		must(t, err)
		if got.Name != "ci" || got.Role != "viewer" || !bytes.Equal(got.Hash, []byte{1, 2, 3}) || got.CreatedBy != "cli:root@host" || got.RevokedAt != nil || got.LastUsedAt != nil {
			t.Fatalf("GetAdminKey = %+v", got)
		}
		_, err = s.GetAdminKey(ctx, "nope")
		wantErr(t, "get unknown", err, store.ErrNotFound)

		// Touch writes once per window.
		must(t, s.TouchAdminKey(ctx, "kycvsadm_01", base.Add(time.Hour), base.Add(59*time.Minute)))
		must(t, s.TouchAdminKey(ctx, "kycvsadm_01", base.Add(time.Hour+time.Second), base.Add(time.Hour-time.Minute)))
		got, _ = s.GetAdminKey(ctx, "kycvsadm_01")
		if got.LastUsedAt == nil || !got.LastUsedAt.Equal(base.Add(time.Hour)) {
			t.Fatalf("LastUsedAt = %v, want the first touch", got.LastUsedAt)
		}

		must(t, s.RevokeAdminKey(ctx, "kycvsadm_01", base.Add(2*time.Hour)))
		wantErr(t, "revoke twice", s.RevokeAdminKey(ctx, "kycvsadm_01", base.Add(3*time.Hour)), store.ErrConflict)
		wantErr(t, "revoke unknown", s.RevokeAdminKey(ctx, "nope", base), store.ErrNotFound)
		ks, err := s.ListAdminKeys(ctx)
		must(t, err)
		if len(ks) != 2 || ks[0].ID != "kycvsadm_01" || ks[0].RevokedAt == nil || !ks[0].RevokedAt.Equal(base.Add(2*time.Hour)) || ks[1].RevokedAt != nil {
			t.Fatalf("ListAdminKeys = %+v", ks)
		}
	})
}

func TestAdminUsersAndSessions(t *testing.T) {
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		ctx := testCtx(t)
		must(t, s.CreateAdminUser(ctx, &store.AdminUser{ID: "u1", Mobile: "+919876543210", Name: "Zoya", Role: "owner"}))
		must(t, s.CreateAdminUser(ctx, &store.AdminUser{ID: "u2", Mobile: "+919876543211", Name: "Arun", Role: "viewer"}))
		wantErr(t, "duplicate mobile", s.CreateAdminUser(ctx, &store.AdminUser{ID: "u3", Mobile: "+919876543210", Name: "X", Role: "viewer"}), store.ErrAlreadyExists)

		u, err := s.AdminUserByMobile(ctx, "+919876543211")
		must(t, err)
		if u.ID != "u2" || u.Role != "viewer" {
			t.Fatalf("AdminUserByMobile = %+v", u)
		}
		_, err = s.AdminUserByMobile(ctx, "+910000000000")
		wantErr(t, "unknown mobile", err, store.ErrNotFound)
		us, err := s.ListAdminUsers(ctx)
		must(t, err)
		if len(us) != 2 || us[0].Name != "Arun" {
			t.Fatalf("ListAdminUsers = %+v", us)
		}
		u, err = s.UpdateAdminUser(ctx, "u2", func(u *store.AdminUser) error { u.Role = "client-admin"; return nil })
		must(t, err)
		if got, _ := s.GetAdminUser(ctx, "u2"); got.Role != "client-admin" || u.Role != "client-admin" {
			t.Fatalf("after update: %+v", got)
		}

		// Sessions: expiry, idle timeout, touch, delete.
		must(t, s.CreateAdminSession(ctx, &store.AdminSession{ID: "s1", UserID: "u1", CreatedAt: base, LastSeenAt: base, ExpiresAt: base.Add(12 * time.Hour)}))
		must(t, s.CreateAdminSession(ctx, &store.AdminSession{ID: "s2", UserID: "u2", CreatedAt: base, LastSeenAt: base, ExpiresAt: base.Add(12 * time.Hour)}))
		idle := 15 * time.Minute
		if _, err := s.GetAdminSession(ctx, "s1", base.Add(10*time.Minute), base.Add(10*time.Minute-idle)); err != nil {
			t.Fatalf("fresh session: %v", err)
		}
		now := base.Add(20 * time.Minute)
		_, err = s.GetAdminSession(ctx, "s1", now, now.Add(-idle))
		wantErr(t, "idle session", err, store.ErrNotFound)
		must(t, s.TouchAdminSession(ctx, "s2", base.Add(10*time.Minute), base.Add(9*time.Minute)))
		if _, err := s.GetAdminSession(ctx, "s2", now, now.Add(-idle)); err != nil {
			t.Fatalf("touched session: %v", err)
		}
		late := base.Add(13 * time.Hour)
		_, err = s.GetAdminSession(ctx, "s2", late, late.Add(-100*time.Hour))
		wantErr(t, "expired session", err, store.ErrNotFound)

		// Removing a user ends their sessions.
		must(t, s.DeleteAdminUser(ctx, "u2"))
		_, err = s.GetAdminSession(ctx, "s2", now, now.Add(-idle))
		wantErr(t, "session of removed user", err, store.ErrNotFound)
		wantErr(t, "delete unknown", s.DeleteAdminUser(ctx, "u2"), store.ErrNotFound)
		must(t, s.DeleteAdminSession(ctx, "s1"))
		must(t, s.DeleteAdminSession(ctx, "s1"))
	})
}

// The OTP tallies follow what each channel's rows commit: sends, wrong
// codes, lockouts and accepted codes, and nothing for a rolled-back change
// or an SMS that was undone. They reach the table when flushed.
func TestOTPTallies(t *testing.T) {
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		ctx := testCtx(t)
		start := time.Now().Add(-time.Minute)
		sent := base
		setOTP := func(r *store.LoginRequest) error {
			r.State, r.OTPHash, r.OTPSentAt, r.OTPTries = store.LoginOTPSent, []byte{1}, &sent, 0
			return nil
		}
		wrong := func(r *store.LoginRequest) error { r.OTPTries++; return &store.KeepChanges{Err: errBoom} }

		// Sign-in 1: sent, one wrong code, accepted.
		must(t, s.CreateLoginRequest(ctx, newLoginRequest("a", base.Add(time.Hour))))
		_, err := s.UpdateLoginRequest(ctx, "a", setOTP)
		must(t, err)
		_, err = s.UpdateLoginRequest(ctx, "a", wrong)
		wantErr(t, "wrong", err, errBoom)
		_, err = s.UpdateLoginRequest(ctx, "a", func(r *store.LoginRequest) error {
			r.OTPHash, r.State = nil, store.LoginVerified
			return nil
		})
		must(t, err)
		_, err = s.UpdateLoginRequest(ctx, "a", func(r *store.LoginRequest) error { r.State = store.LoginApproved; return nil })
		must(t, err)

		// Sign-in 2: sent, then the SMS failed and the row was put back;
		// then sent again, and locked out after two wrong codes.
		must(t, s.CreateLoginRequest(ctx, newLoginRequest("b", base.Add(time.Hour))))
		_, err = s.UpdateLoginRequest(ctx, "b", setOTP)
		must(t, err)
		_, err = s.UpdateLoginRequest(ctx, "b", func(r *store.LoginRequest) error {
			r.State, r.OTPHash, r.OTPSentAt = store.LoginPending, nil, nil
			return nil
		})
		must(t, err)
		_, err = s.UpdateLoginRequest(ctx, "b", setOTP)
		must(t, err)
		_, err = s.UpdateLoginRequest(ctx, "b", wrong)
		wantErr(t, "wrong", err, errBoom)
		_, err = s.UpdateLoginRequest(ctx, "b", func(r *store.LoginRequest) error {
			r.OTPTries++
			r.OTPHash, r.State = nil, store.LoginDead
			return &store.KeepChanges{Err: errBoom}
		})
		wantErr(t, "locked", err, errBoom)
		// A rolled-back change counts nothing.
		_, err = s.UpdateLoginRequest(ctx, "b", func(r *store.LoginRequest) error { r.OTPTries = 9; return errBoom })
		wantErr(t, "rolled back", err, errBoom)

		// The API: a transaction created with a code, then verified.
		txn := newTxn("t1", base.Add(time.Hour))
		must(t, s.CreateAPITransaction(ctx, txn))
		_, err = s.UpdateAPITransaction(ctx, "t1", func(t *store.APITransaction) error {
			t.OTPHash, t.State = nil, store.TxnVerified
			return nil
		})
		must(t, err)

		// The admin console: a sign-in with a code, one wrong try.
		must(t, s.CreateAdminLogin(ctx, &store.AdminLogin{ID: "l1", Mobile: "+919876543210", State: store.AdminLoginOTPSent,
			OTPHash: []byte{1}, OTPSentAt: &sent, ExpiresAt: base.Add(time.Hour)}))
		_, err = s.UpdateAdminLogin(ctx, "l1", func(l *store.AdminLogin) error { l.OTPTries++; return &store.KeepChanges{Err: errBoom} })
		wantErr(t, "admin wrong", err, errBoom)

		// Counted in memory until the flush.
		if got, err := s.SumOTPTallies(ctx, start, time.Now().Add(time.Minute)); err != nil || len(got) != 0 {
			t.Errorf("tallies before the flush: %v %v", got, err)
		}
		must(t, s.FlushOTPTallies(ctx))
		got, err := s.SumOTPTallies(ctx, start, time.Now().Add(time.Minute))
		must(t, err)
		want := map[store.OTPChannel]store.OTPTotals{
			store.ChannelSignIn: {Sent: 3, Accepted: 1, Refused: 3, Locked: 1},
			store.ChannelAPI:    {Sent: 1, Accepted: 1},
			store.ChannelAdmin:  {Sent: 1, Refused: 1},
		}
		for ch, w := range want {
			if got[ch] != w {
				t.Errorf("%s: %+v, want %+v", ch, got[ch], w)
			}
		}
		if len(got) != len(want) {
			t.Errorf("channels %v", got)
		}
		if none, _ := s.SumOTPTallies(ctx, start.Add(-time.Hour), start); len(none) != 0 {
			t.Errorf("before the window: %v", none)
		}
	})
}

func TestAuditLog(t *testing.T) {
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		ctx := testCtx(t)
		for i, a := range []string{"client.create", "client.update", "registry.import", "key.rotate", "client_x.update"} {
			must(t, s.CreateAuditEntry(ctx, &store.AuditEntry{
				ID: fmt.Sprintf("e%d", i), At: base.Add(time.Duration(i) * time.Minute), ActorType: "api_key", ActorID: "k1",
				ActorName: "ci", Role: "owner", IP: "127.0.0.1", Action: a, TargetType: "client", TargetID: "c1",
				Changes: store.JSONObject{"name": map[string]any{"from": "A", "to": "B"}},
			}))
		}
		// Two entries at one instant page by ID.
		must(t, s.CreateAuditEntry(ctx, &store.AuditEntry{ID: "e9", At: base.Add(4 * time.Minute), ActorType: "cli", ActorID: "root@host", Action: "client.delete", TargetType: "client", TargetID: "c2"}))

		all, more, err := s.ListAuditEntries(ctx, store.AuditFilter{})
		must(t, err)
		var ids []string
		for _, e := range all {
			ids = append(ids, e.ID)
		}
		if want := []string{"e4", "e9", "e3", "e2", "e1", "e0"}; !slices.Equal(ids, want) || more {
			t.Fatalf("all = %v (more %v), want %v", ids, more, want)
		}
		if all[5].Changes["name"].(map[string]any)["to"] != "B" || all[5].IP != "127.0.0.1" {
			t.Errorf("entry read back as %+v", all[5])
		}
		sameTime(t, "At", all[5].At, base)

		// Keyset paging visits every entry once.
		var paged []string
		f := store.AuditFilter{Limit: 2}
		for {
			page, more, err := s.ListAuditEntries(ctx, f)
			must(t, err)
			for _, e := range page {
				paged = append(paged, e.ID)
			}
			if !more {
				break
			}
			last := page[len(page)-1]
			f.After = &store.Cursor{At: last.At, ID: last.ID}
		}
		if !slices.Equal(paged, ids) {
			t.Errorf("paged = %v, want %v", paged, ids)
		}

		for _, tc := range []struct {
			name string
			f    store.AuditFilter
			want []string
		}{
			{"action prefix", store.AuditFilter{Action: "client."}, []string{"e9", "e1", "e0"}},
			{"exact action", store.AuditFilter{Action: "key.rotate"}, []string{"e3"}},
			{"target", store.AuditFilter{TargetType: "client", TargetID: "c2"}, []string{"e9"}},
			{"actor", store.AuditFilter{ActorID: "root@host"}, []string{"e9"}},
			{"time range", store.AuditFilter{Since: base.Add(time.Minute), Until: base.Add(3 * time.Minute)}, []string{"e2", "e1"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				es, _, err := s.ListAuditEntries(ctx, tc.f)
				must(t, err)
				var got []string
				for _, e := range es {
					got = append(got, e.ID)
				}
				if !slices.Equal(got, tc.want) {
					t.Errorf("got %v, want %v", got, tc.want)
				}
			})
		}
	})
}

func TestClientSearchAndNewFields(t *testing.T) {
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		ctx := testCtx(t)
		for i, name := range []string{"Zeta Air", "alpha rail", "Alpha Rail", "Beta_Bus", "Beta%Bus"} {
			c := newClient(fmt.Sprintf("c%d", i), name)
			if i == 0 {
				c.Contacts = store.StringList{"ops@zeta.example"}
				c.RotatedSecrets = store.RotatedSecrets{{Hash: []byte{7, 7}, ExpiresAt: base.Add(time.Hour)}, {Hash: []byte{8}, ExpiresAt: base}}
			}
			must(t, s.CreateClient(ctx, c))
		}
		got, err := s.GetClient(ctx, "c0")
		must(t, err)
		if !slices.Equal(got.Contacts, store.StringList{"ops@zeta.example"}) || len(got.RotatedSecrets) != 2 ||
			!bytes.Equal(got.RotatedSecrets[0].Hash, []byte{7, 7}) || !got.RotatedSecrets[0].ExpiresAt.Equal(base.Add(time.Hour)) {
			t.Fatalf("new fields read back as %+v %+v", got.Contacts, got.RotatedSecrets)
		}
		if v := got.RotatedSecrets.Valid(base.Add(time.Minute)); len(v) != 1 || !bytes.Equal(v[0], []byte{7, 7}) {
			t.Errorf("Valid = %v, want the unexpired hash only", v)
		}

		search := func(f store.ClientFilter) ([]string, bool) {
			cs, more, err := s.SearchClients(ctx, f)
			must(t, err)
			var ids []string
			for _, c := range cs {
				ids = append(ids, c.ID)
			}
			return ids, more
		}
		if ids, _ := search(store.ClientFilter{Query: "ALPHA"}); !slices.Equal(ids, []string{"c2", "c1"}) {
			t.Errorf("case-insensitive search = %v", ids)
		}
		if ids, _ := search(store.ClientFilter{Query: "a_r"}); ids != nil {
			t.Errorf("_ is not a wildcard: %v", ids)
		}
		if ids, _ := search(store.ClientFilter{Query: "%"}); !slices.Equal(ids, []string{"c4"}) {
			t.Errorf("%% is not a wildcard: %v", ids)
		}
		if ids, _ := search(store.ClientFilter{Query: "c3"}); !slices.Equal(ids, []string{"c3"}) {
			t.Errorf("by ID: %v", ids)
		}
		var paged []string
		f := store.ClientFilter{Limit: 2}
		for {
			cs, more, err := s.SearchClients(ctx, f)
			must(t, err)
			for _, c := range cs {
				paged = append(paged, c.ID)
			}
			if !more {
				break
			}
			f.AfterName, f.AfterID = cs[len(cs)-1].Name, cs[len(cs)-1].ID
		}
		if want := []string{"c2", "c4", "c3", "c0", "c1"}; !slices.Equal(paged, want) {
			t.Errorf("paged = %v, want %v (byte order of names)", paged, want)
		}
	})
}

func TestDisclosureQueries(t *testing.T) {
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		ctx := testCtx(t)
		st := func(v int) *int { return &v }
		rows := []store.Disclosure{
			{ID: "d1", ClientID: "air", BeneficiaryID: "B1", Channel: "authorize", RequestID: "r1", VaccinationStatus: st(2)},
			{ID: "d2", ClientID: "air", BeneficiaryID: "B1", Channel: "userinfo", RequestID: "r1", VaccinationStatus: st(2)},
			{ID: "d3", ClientID: "air", BeneficiaryID: "B2", Channel: "authorize", RequestID: "r2", VaccinationStatus: st(1)},
			{ID: "d4", ClientID: "rail", BeneficiaryID: "B1", Channel: store.DisclosedByAPI, RequestID: "t1", VaccinationStatus: st(2)},
			{ID: "d5", ClientID: "rail", BeneficiaryID: "B1", Channel: store.DisclosedByAPI, RequestID: "t1", VaccinationStatus: st(2)},
			{ID: "d6", ClientID: "rail", BeneficiaryID: "B3", Channel: "authorize", RequestID: "r3"},
		}
		for i := range rows {
			rows[i].Subject = "sub"
			rows[i].Claims = store.StringList{"vaccination_status"}
			rows[i].CreatedAt = base.Add(time.Duration(i) * time.Minute)
			must(t, s.CreateDisclosure(ctx, &rows[i]))
		}
		list := func(f store.DisclosureFilter) []string {
			ds, err := s.ListDisclosures(ctx, f)
			must(t, err)
			var ids []string
			for _, d := range ds {
				ids = append(ids, d.ID)
			}
			return ids
		}
		for _, tc := range []struct {
			name string
			f    store.DisclosureFilter
			want []string
		}{
			{"status 2 of air", store.DisclosureFilter{ClientID: "air", Status: st(2)}, []string{"d2", "d1"}},
			{"no status", store.DisclosureFilter{Status: st(-1)}, []string{"d6"}},
			{"beneficiary and range", store.DisclosureFilter{BeneficiaryID: "B1", Since: base.Add(time.Minute), Until: base.Add(4 * time.Minute)}, []string{"d4", "d2"}},
		} {
			if got := list(tc.f); !slices.Equal(got, tc.want) {
				t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
			}
		}
		var each []string
		must(t, s.EachDisclosure(ctx, store.DisclosureFilter{ClientID: "rail"}, func(d *store.Disclosure) error {
			each = append(each, d.ID)
			return nil
		}))
		if !slices.Equal(each, []string{"d6", "d5", "d4"}) {
			t.Errorf("EachDisclosure = %v", each)
		}
		ds, more, err := s.PageDisclosures(ctx, store.DisclosureFilter{Limit: 4})
		must(t, err)
		if len(ds) != 4 || !more {
			t.Fatalf("page: %d more %v", len(ds), more)
		}
		rest, more, err := s.PageDisclosures(ctx, store.DisclosureFilter{Limit: 4, After: &store.Cursor{At: ds[3].CreatedAt, ID: ds[3].ID}})
		must(t, err)
		if len(rest) != 2 || more || rest[0].ID != "d2" {
			t.Fatalf("second page: %+v more %v", rest, more)
		}

		counts, err := s.CountVerifications(ctx, base, base.Add(time.Hour))
		must(t, err)
		got := map[string]int64{}
		for _, c := range counts {
			k := c.ClientID + "/none"
			if c.Status != nil {
				k = fmt.Sprintf("%s/%d", c.ClientID, *c.Status)
			}
			got[k] = c.N
		}
		want := map[string]int64{"air/2": 1, "air/1": 1, "rail/2": 1, "rail/none": 1}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("CountVerifications = %v, want %v", got, want)
		}
	})
}

func TestUpdateSigningKeysAndDeleteBeneficiary(t *testing.T) {
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		ctx := testCtx(t)
		must(t, s.CreateSigningKey(ctx, &store.SigningKey{KID: "old", Alg: "RS256", Ciphertext: []byte("x"), CreatedAt: base}))
		must(t, s.CreateSigningKey(ctx, &store.SigningKey{KID: "es", Alg: "ES256", Ciphertext: []byte("y"), CreatedAt: base}))
		act, until := base.Add(6*time.Minute), base.Add(30*time.Minute)
		err := s.UpdateSigningKeys(ctx, "RS256", func(ks []store.SigningKey) (*store.SigningKey, error) {
			if len(ks) != 1 || ks[0].KID != "old" {
				t.Fatalf("keys given: %+v", ks)
			}
			ks[0].RetiredAt, ks[0].PublishUntil = &act, &until
			return &store.SigningKey{KID: "new", Alg: "RS256", Ciphertext: []byte("z"), CreatedAt: base.Add(time.Second), ActivatesAt: &act}, nil
		})
		must(t, err)
		wantErr(t, "updater error", s.UpdateSigningKeys(ctx, "RS256", func(ks []store.SigningKey) (*store.SigningKey, error) {
			ks[0].RetiredAt = &base
			return nil, errBoom
		}), errBoom)
		ks, err := s.ListSigningKeys(ctx)
		must(t, err)
		byKID := map[string]store.SigningKey{}
		for _, k := range ks {
			byKID[k.KID] = k
		}
		if o := byKID["old"]; o.RetiredAt == nil || !o.RetiredAt.Equal(act) || o.PublishUntil == nil || !o.PublishUntil.Equal(until) {
			t.Errorf("old = %+v", o)
		}
		if n := byKID["new"]; n.ActivatesAt == nil || !n.ActivatesAt.Equal(act) || n.RetiredAt != nil {
			t.Errorf("new = %+v", n)
		}
		if e := byKID["es"]; e.RetiredAt != nil || e.ActivatesAt != nil {
			t.Errorf("another algorithm's key changed: %+v", e)
		}

		_, err = s.ReplaceBeneficiaries(ctx, []store.Beneficiary{{ID: "B1", Mobile: "+919876543210", Name: "Asha", NameKey: "asha",
			Doses: []store.Dose{{Vaccine: "V", DoseNumber: 1, TotalDoses: 2, DoseDate: "2021-01-01"}}}})
		must(t, err)
		must(t, s.DeleteBeneficiary(ctx, "B1"))
		_, err = s.GetBeneficiary(ctx, "B1")
		wantErr(t, "deleted", err, store.ErrNotFound)
		wantErr(t, "delete unknown", s.DeleteBeneficiary(ctx, "B1"), store.ErrNotFound)
	})
}

func TestDeleteExpiredAdminRows(t *testing.T) {
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		ctx := testCtx(t)
		must(t, s.CreateAdminUser(ctx, &store.AdminUser{ID: "u1", Mobile: "+919876543210", Name: "Zoya", Role: "owner"}))
		must(t, s.CreateAdminLogin(ctx, &store.AdminLogin{ID: "l1", Mobile: "+919876543210", State: store.AdminLoginOTPSent, ExpiresAt: base}))
		must(t, s.CreateAdminLogin(ctx, &store.AdminLogin{ID: "l2", Mobile: "+919876543210", State: store.AdminLoginOTPSent, ExpiresAt: base.Add(time.Hour)}))
		must(t, s.CreateAdminSession(ctx, &store.AdminSession{ID: "s1", UserID: "u1", LastSeenAt: base, ExpiresAt: base}))
		must(t, s.CreateAdminSession(ctx, &store.AdminSession{ID: "s2", UserID: "u1", LastSeenAt: base, ExpiresAt: base.Add(time.Hour)}))
		res, err := s.DeleteExpired(ctx, base.Add(time.Minute), 25*time.Hour)
		must(t, err)
		if res.AdminLogins != 1 || res.AdminSessions != 1 {
			t.Fatalf("DeleteExpired = %+v", res)
		}
		if _, err := s.GetAdminLogin(ctx, "l2"); err != nil {
			t.Errorf("unexpired sign-in: %v", err)
		}
	})
}

// TestAdminSessionReveal: a secret waiting on a console session is taken
// once, only under its reveal ID and only from its session; a new one
// replaces it; of racing takers exactly one gets it.
func TestAdminSessionReveal(t *testing.T) {
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		ctx := testCtx(t)
		must(t, s.CreateAdminUser(ctx, &store.AdminUser{ID: "u1", Mobile: "+919876543210", Name: "Zoya", Role: "owner"}))
		for _, id := range []string{"s1", "s2"} {
			must(t, s.CreateAdminSession(ctx, &store.AdminSession{ID: id, UserID: "u1", CreatedAt: base, LastSeenAt: base, ExpiresAt: base.Add(12 * time.Hour)}))
		}
		wantErr(t, "no session", s.SetAdminSessionReveal(ctx, "nope", "r1", []byte("x")), store.ErrNotFound)
		wantErr(t, "empty reveal ID", s.SetAdminSessionReveal(ctx, "s1", "", []byte("x")), store.ErrNotFound)
		_, err := s.TakeAdminSessionReveal(ctx, "s1", "")
		wantErr(t, "nothing waits", err, store.ErrNotFound)

		must(t, s.SetAdminSessionReveal(ctx, "s1", "r1", []byte("first")))
		must(t, s.SetAdminSessionReveal(ctx, "s1", "r2", []byte("second")))
		_, err = s.TakeAdminSessionReveal(ctx, "s1", "r1")
		wantErr(t, "replaced reveal", err, store.ErrNotFound)
		_, err = s.TakeAdminSessionReveal(ctx, "s2", "r2")
		wantErr(t, "another session", err, store.ErrNotFound)
		got, err := s.TakeAdminSessionReveal(ctx, "s1", "r2")
		must(t, err)
		if string(got) != "second" {
			t.Fatalf("taken %q", got)
		}
		_, err = s.TakeAdminSessionReveal(ctx, "s1", "r2")
		wantErr(t, "taken twice", err, store.ErrNotFound)
		if sess, err := s.GetAdminSession(ctx, "s1", base, base.Add(-time.Hour)); err != nil || sess.RevealID != "" || sess.Reveal != nil {
			t.Fatalf("after the take: %+v %v", sess, err)
		}

		must(t, s.SetAdminSessionReveal(ctx, "s1", "r3", []byte("raced")))
		var wg sync.WaitGroup
		var mu sync.Mutex
		won := 0
		for range 4 {
			wg.Go(func() {
				if b, err := s.TakeAdminSessionReveal(ctx, "s1", "r3"); err == nil && string(b) == "raced" {
					mu.Lock()
					won++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if won != 1 {
			t.Fatalf("%d racing takers got the reveal, want 1", won)
		}
	})
}
