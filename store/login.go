package store

import (
	"context"
	"time"
)

// CreateLoginRequest inserts r; ErrAlreadyExists when the ID is taken.
func (s *Store) CreateLoginRequest(ctx context.Context, r *LoginRequest) error {
	if r.CreatedAt.IsZero() {
		r.CreatedAt = time.Now().UTC()
	}
	return translate(s.conn(ctx).Create(r).Error)
}

// GetLoginRequest returns the request with id, or ErrNotFound. Expiry is
// the caller's policy: the row is returned until cleanup removes it.
func (s *Store) GetLoginRequest(ctx context.Context, id string) (*LoginRequest, error) {
	if !wellFormedKey(id) {
		return nil, ErrNotFound
	}
	var r LoginRequest
	if err := s.reader(ctx).Where("id = ?", id).Take(&r).Error; err != nil {
		return nil, translate(err)
	}
	return &r, nil
}

// GetLoginRequestWithClient returns the request with id and, in the same
// statement, its client: nil when the client no longer exists (a second
// statement finds the request then). ErrNotFound when there is no such
// request. The code's check reads both, since a right code answers the
// client in the same request.
func (s *Store) GetLoginRequestWithClient(ctx context.Context, id string) (*LoginRequest, *Client, error) {
	if !wellFormedKey(id) {
		return nil, nil, ErrNotFound
	}
	cols, err := s.clientColumns()
	if err != nil {
		return nil, nil, err
	}
	type requestRow struct {
		LoginRequest `gorm:"embedded"`
		Client       Client `gorm:"embedded;embeddedPrefix:client_row_"`
	}
	rows := make([]requestRow, 0, 1) // gorm gives an empty slice room for 20
	res := s.reader(ctx).Raw(`SELECT l.*, `+cols+`
		FROM login_requests l JOIN clients c ON c.id = l.client_id WHERE l.id = ?`, id).Find(&rows)
	if res.Error != nil {
		return nil, nil, translate(res.Error)
	}
	if len(rows) == 0 {
		lr, err := s.GetLoginRequest(ctx, id)
		return lr, nil, err
	}
	return &rows[0].LoginRequest, &rows[0].Client, nil
}

// GetLoginRequestForResume returns the login request id and, in the same
// statement, its client, the browser session sessionID when it is that
// request's session (LoginRequest.SessionID) and has not expired at now,
// and the beneficiary the request was approved for, with doses. The
// session is nil otherwise (another session, an unknown or expired one,
// or sessionID ""), the beneficiary nil before an approval or once gone
// from the registry; the client is nil when it no longer exists (a
// second statement finds the request then). The resume needs all four:
// one round trip instead of four. ErrNotFound when there is no such
// request.
func (s *Store) GetLoginRequestForResume(ctx context.Context, id, sessionID string, now time.Time) (*LoginRequest, *Session, *Client, *Beneficiary, error) {
	if !wellFormedKey(id) {
		return nil, nil, nil, nil, ErrNotFound
	}
	if !wellFormedKey(sessionID) {
		sessionID = "" // matches no session
	}
	cols, err := s.clientColumns()
	if err != nil {
		return nil, nil, nil, nil, err
	}
	// One row per dose of the beneficiary (one when there is none).
	type resumeRow struct {
		LoginRequest `gorm:"embedded"`
		Sess         sessionColumns     `gorm:"embedded;embeddedPrefix:sess_"`
		Client       Client             `gorm:"embedded;embeddedPrefix:client_row_"`
		Ben          beneficiaryColumns `gorm:"embedded;embeddedPrefix:ben_"`
	}
	rows := make([]resumeRow, 0, typicalDoses)
	res := s.reader(ctx).Raw(`SELECT l.*, s.id AS sess_id, s.beneficiary_id AS sess_beneficiary_id, s.mobile AS sess_mobile,
			s.name AS sess_name, s.auth_time AS sess_auth_time, s.grants AS sess_grants,
			s.created_at AS sess_created_at, s.expires_at AS sess_expires_at, `+cols+`, `+joinedBeneficiaryColumns+`
		FROM login_requests l JOIN clients c ON c.id = l.client_id
		LEFT JOIN sessions s ON s.id = l.session_id AND s.id = ? AND s.expires_at > ?
		LEFT JOIN beneficiaries b ON b.id = l.beneficiary_id
		LEFT JOIN doses d ON d.beneficiary_id = b.id
		WHERE l.id = ? ORDER BY d.dose_number, d.id`, sessionID, now.UTC(), id).Find(&rows)
	if res.Error != nil {
		return nil, nil, nil, nil, translate(res.Error)
	}
	if len(rows) == 0 {
		// No such request, or its client is gone: the request alone.
		lr, err := s.GetLoginRequest(ctx, id)
		return lr, nil, nil, nil, err
	}
	first := rows[0]
	lr, client := first.LoginRequest, first.Client
	var sess *Session
	if first.Sess.ID != nil {
		sess = first.Sess.session()
	}
	b := joinedBeneficiary(rows, func(r resumeRow) beneficiaryColumns { return r.Ben })
	return &lr, sess, &client, b, nil
}

// joinedBeneficiaryColumns selects a beneficiary b and its doses d, joined
// to another row, as beneficiaryColumns with the prefix ben_.
const joinedBeneficiaryColumns = `b.id AS ben_id, b.mobile AS ben_mobile, b.name AS ben_name, b.name_key AS ben_name_key,
	b.year_of_birth AS ben_year_of_birth, b.content_hash AS ben_content_hash,
	b.created_at AS ben_created_at, b.updated_at AS ben_updated_at,
	d.id AS ben_dose_id, d.vaccine AS ben_vaccine, d.dose_number AS ben_dose_number,
	d.total_doses AS ben_total_doses, d.dose_date AS ben_dose_date`

// joinedBeneficiary gathers the beneficiary of rows, one a dose, read
// with joinedBeneficiaryColumns; nil when the join found none.
func joinedBeneficiary[R any](rows []R, ben func(R) beneficiaryColumns) *Beneficiary {
	if len(rows) == 0 || ben(rows[0]).ID == nil {
		return nil
	}
	doses := make([]beneficiaryDose, len(rows))
	for i, r := range rows {
		doses[i] = ben(r).row()
	}
	return &gatherBeneficiaries(doses)[0]
}

// beneficiaryColumns is a beneficiaryDose read through a LEFT JOIN: every
// column may be NULL.
type beneficiaryColumns struct {
	ID          *string
	Mobile      *string
	Name        *string
	NameKey     *string
	YearOfBirth *int
	ContentHash []byte
	CreatedAt   *time.Time
	UpdatedAt   *time.Time
	DoseID      *int64
	Vaccine     *string
	DoseNumber  *int
	TotalDoses  *int
	DoseDate    *string
}

// row is c as beneficiaryDose, for a beneficiary that is there.
func (c beneficiaryColumns) row() beneficiaryDose {
	return beneficiaryDose{ID: deref(c.ID), Mobile: deref(c.Mobile), Name: deref(c.Name), NameKey: deref(c.NameKey),
		YearOfBirth: deref(c.YearOfBirth), ContentHash: c.ContentHash, CreatedAt: deref(c.CreatedAt), UpdatedAt: deref(c.UpdatedAt),
		DoseID: c.DoseID, Vaccine: c.Vaccine, DoseNumber: c.DoseNumber, TotalDoses: c.TotalDoses, DoseDate: c.DoseDate}
}

// deref is *p, or the zero value for nil.
func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// sessionColumns is a Session read through a LEFT JOIN: every column may
// be NULL.
type sessionColumns struct {
	ID            *string
	BeneficiaryID *string
	Mobile        *string
	Name          *string
	AuthTime      *time.Time
	Grants        Grants
	CreatedAt     *time.Time
	ExpiresAt     *time.Time
}

func (c sessionColumns) session() *Session {
	return &Session{ID: deref(c.ID), BeneficiaryID: deref(c.BeneficiaryID), Mobile: deref(c.Mobile), Name: deref(c.Name),
		AuthTime: deref(c.AuthTime), Grants: c.Grants, CreatedAt: deref(c.CreatedAt), ExpiresAt: deref(c.ExpiresAt)}
}

// UpdateLoginRequest reads the request with its row locked, applies update
// and writes it back in one transaction, so concurrent updates of one
// challenge are serialised and each sees the other's result. update's error
// is returned unchanged and nothing is written, except when update returns
// a *KeepChanges (or an error wrapping one): then the changes are written
// and its Err returned, with the updated request (a wrong OTP must count the
// try and still fail). What the change did to the OTP is tallied when the
// transaction commits (OTPTally).
func (s *Store) UpdateLoginRequest(ctx context.Context, id string, update func(*LoginRequest) error) (*LoginRequest, error) {
	return lockedUpdate(ctx, s, id, update, s.tallyLoginRequest)
}

// UpdateLoginRequestFrom is UpdateLoginRequest for a caller that has just
// read the request (read, as a Get method returned it, left unchanged).
// update runs on a copy of read, and its changes are written by one UPDATE
// that holds only while the row is still at read's Version: no
// transaction, and no second read. When someone wrote the row in between,
// or update refuses the copy or changes nothing, it is UpdateLoginRequest:
// the row is read again, locked, and update runs on that. update may so
// run twice, and must only change the row and its own variables.
func (s *Store) UpdateLoginRequestFrom(ctx context.Context, read *LoginRequest, update func(*LoginRequest) error) (*LoginRequest, error) {
	return versionedUpdate(ctx, s, read, update, nil, s.tallyLoginRequest)
}

// UpdateLoginRequestWith is UpdateLoginRequestFrom that, when update
// accepts the request (returns nil, not a *KeepChanges), writes the
// statements also gathers with it, all or none: the sign-in's session
// beside the approval. Nobody racing, that is one round trip for the
// statements and one for the COMMIT on PostgreSQL (WriteTogether), not a
// transaction around a locked read.
func (s *Store) UpdateLoginRequestWith(ctx context.Context, read *LoginRequest, update func(*LoginRequest) error, also func(w *Writes, now *LoginRequest)) (*LoginRequest, error) {
	return versionedUpdate(ctx, s, read, update, also, s.tallyLoginRequest)
}

// tallyLoginRequest tallies what a write did to the request's OTP
// (OTPTally), when its transaction commits.
func (s *Store) tallyLoginRequest(ctx context.Context, before, now *LoginRequest) error {
	s.tallyOTP(ctx, ChannelSignIn, now.ClientID, loginRequestStep(before), loginRequestStep(now))
	return nil
}

// KeepChanges, returned by an updater or by a function given to InTx,
// writes the changes and still reports Err to the caller (see InTx).
type KeepChanges struct{ Err error }

func (k *KeepChanges) Error() string {
	if k.Err == nil {
		return "store: keep changes"
	}
	return k.Err.Error()
}
func (k *KeepChanges) Unwrap() error { return k.Err }

// UseApprovedLoginRequest moves the request with id from approved to used
// in one conditional UPDATE, so the code is issued once per approval: when
// the request is not (or no longer) approved, or does not exist, it
// returns ErrConflict and changes nothing. oauth writes it with the code
// (Writes.UseApprovedLoginRequest), having read the request already;
// approved to used changes no OTP tally.
func (s *Store) UseApprovedLoginRequest(ctx context.Context, id string) error {
	return s.WriteTogether(ctx, func(w *Writes) error {
		w.UseApprovedLoginRequest(id)
		return nil
	})
}
