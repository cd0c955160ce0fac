package store

import (
	"context"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm"
)

// CreateToken inserts one token row; ErrAlreadyExists on a repeated
// (kind, signature).
func (s *Store) CreateToken(ctx context.Context, t *OAuthToken) error {
	return translate(s.conn(ctx).Create(t).Error)
}

// CreateTokens inserts rows with one multi-row INSERT: all or none.
// ErrAlreadyExists when any (kind, signature) exists already, or repeats
// within rows. Nothing to insert is no statement.
func (s *Store) CreateTokens(ctx context.Context, rows []*OAuthToken) error {
	if len(rows) == 0 {
		return nil
	}
	return translate(s.conn(ctx).Create(&rows).Error)
}

// TokenKey names one token row: its kind and signature.
type TokenKey struct{ Kind, Signature string }

// GetTokens returns the rows with any of keys, active or not, in one
// SELECT; a key without a row is simply absent from the result, so no
// row is not an error. Each key is a lookup through the primary key (an
// OR of (kind, signature) pairs: both databases use the index for it,
// where SQLite scans the table for a row-value IN).
func (s *Store) GetTokens(ctx context.Context, keys ...TokenKey) ([]*OAuthToken, error) {
	q := tokensByKeys(s.reader(ctx), keys)
	if q == nil {
		return nil, nil
	}
	rows := make([]*OAuthToken, 0, len(keys))
	if err := q.Find(&rows).Error; err != nil {
		return nil, translate(err)
	}
	return rows, nil
}

// tokensByKeys narrows q to the rows with any of keys; nil when no key is
// well formed (no row can match).
func tokensByKeys(q *gorm.DB, keys []TokenKey) *gorm.DB {
	cond, args := tokenKeysCondition("", keys)
	if cond == "" {
		return nil
	}
	return q.Where(cond, args...)
}

// tokenKeysCondition is the condition matching the rows with any of keys,
// their columns prefixed with prefix ("t." in a join); "" when no key is
// well formed.
func tokenKeysCondition(prefix string, keys []TokenKey) (string, []any) {
	var cond []string
	var args []any
	for _, k := range keys {
		if wellFormedKey(k.Kind, k.Signature) {
			cond = append(cond, "("+prefix+"kind = ? AND "+prefix+"signature = ?)")
			args = append(args, k.Kind, k.Signature)
		}
	}
	return strings.Join(cond, " OR "), args
}

// GetTokensAndClient is GetTokens with the rows' client, read in the same
// statement, for rows that share one (the three rows of one code): a
// token request authenticates that client first. Rows whose client no
// longer exists are not returned. The client is nil when no row is.
func (s *Store) GetTokensAndClient(ctx context.Context, keys ...TokenKey) ([]*OAuthToken, *Client, error) {
	cond, args := tokenKeysCondition("t.", keys)
	if cond == "" {
		return nil, nil, nil
	}
	cols, err := s.clientColumns()
	if err != nil {
		return nil, nil, err
	}
	type tokenRow struct {
		OAuthToken `gorm:"embedded"`
		Client     Client `gorm:"embedded;embeddedPrefix:client_row_"`
	}
	// Sized for the keys: gorm gives an empty slice room for 20 rows.
	rows := make([]tokenRow, 0, len(keys))
	err = s.reader(ctx).Raw("SELECT t.*, "+cols+" FROM oauth_tokens t JOIN clients c ON c.id = t.client_id WHERE "+cond, args...).Find(&rows).Error
	if err != nil {
		return nil, nil, translate(err)
	}
	if len(rows) == 0 {
		return nil, nil, nil
	}
	tokens := make([]*OAuthToken, len(rows))
	for i := range rows {
		tokens[i] = &rows[i].OAuthToken
	}
	return tokens, &rows[0].Client, nil
}

// GetTokenWithPerson is GetTokenAndClient with, in the same statement,
// the person the row's grant is for (OAuthToken.BeneficiaryID) with
// doses: userinfo answers from the token and the person, read in one
// round trip. The person is nil when the row names none (a row written
// before the column) or when they are gone from the registry; the row's
// BeneficiaryID tells the two apart.
func (s *Store) GetTokenWithPerson(ctx context.Context, kind, signature string) (*OAuthToken, *Client, *Beneficiary, error) {
	if !wellFormedKey(kind, signature) {
		return nil, nil, nil, ErrNotFound
	}
	cols, err := s.clientColumns()
	if err != nil {
		return nil, nil, nil, err
	}
	// One row per dose of the person (one when there is none).
	type tokenPersonRow struct {
		OAuthToken `gorm:"embedded"`
		Client     Client             `gorm:"embedded;embeddedPrefix:client_row_"`
		Ben        beneficiaryColumns `gorm:"embedded;embeddedPrefix:ben_"`
	}
	rows := make([]tokenPersonRow, 0, typicalDoses)
	err = s.reader(ctx).Raw(`SELECT t.*, `+cols+`, `+joinedBeneficiaryColumns+`
		FROM oauth_tokens t JOIN clients c ON c.id = t.client_id
		LEFT JOIN beneficiaries b ON b.id = t.beneficiary_id
		LEFT JOIN doses d ON d.beneficiary_id = b.id
		WHERE t.kind = ? AND t.signature = ? ORDER BY d.dose_number, d.id`, kind, signature).Find(&rows).Error
	if err != nil {
		return nil, nil, nil, translate(err)
	}
	if len(rows) == 0 {
		return nil, nil, nil, ErrNotFound
	}
	b := joinedBeneficiary(rows, func(r tokenPersonRow) beneficiaryColumns { return r.Ben })
	return &rows[0].OAuthToken, &rows[0].Client, b, nil
}

// GetToken returns the row of kind with signature, active or not, or
// ErrNotFound. Callers decide what an inactive row means.
func (s *Store) GetToken(ctx context.Context, kind, signature string) (*OAuthToken, error) {
	if !wellFormedKey(kind, signature) {
		return nil, ErrNotFound
	}
	var t OAuthToken
	err := s.reader(ctx).Where("kind = ? AND signature = ?", kind, signature).Take(&t).Error
	if err != nil {
		return nil, translate(err)
	}
	return &t, nil
}

// GetTokenAndClient is GetToken with the row's client, read in the same
// statement (a join on the client's ID): a protocol request that reads a
// token needs its client next. A token whose client no longer exists is
// ErrNotFound, as are the client's tokens to the protocol.
func (s *Store) GetTokenAndClient(ctx context.Context, kind, signature string) (*OAuthToken, *Client, error) {
	rows, client, err := s.GetTokensAndClient(ctx, TokenKey{Kind: kind, Signature: signature})
	if err != nil {
		return nil, nil, err
	}
	if len(rows) == 0 {
		return nil, nil, ErrNotFound
	}
	return rows[0], client, nil
}

// clientColumns is the select list of every column of clients as c,
// renamed client_row_<column> for the reads that join a row's client
// (GetTokensAndClient, GetTokenWithPerson, GetLoginRequestWithClient,
// GetLoginRequestForResume); made once from the model's schema, so a new
// column needs no change here.
func (s *Store) clientColumns() (string, error) {
	clientCols.once.Do(func() {
		stmt := &gorm.Statement{DB: s.db}
		if clientCols.err = stmt.Parse(&Client{}); clientCols.err != nil {
			return
		}
		cols := make([]string, 0, len(stmt.Schema.DBNames))
		for _, name := range stmt.Schema.DBNames {
			cols = append(cols, "c."+name+" AS client_row_"+name)
		}
		clientCols.list = strings.Join(cols, ", ")
	})
	return clientCols.list, clientCols.err
}

var clientCols struct {
	once sync.Once
	list string
	err  error
}

// DeactivateToken marks an active row inactive. It returns ErrNotFound when
// no row matches and ErrConflict when it was already inactive, so a code
// redeemed twice at once succeeds only once.
func (s *Store) DeactivateToken(ctx context.Context, kind, signature string) error {
	return s.updateActiveToken(ctx, kind, signature, false)
}

// HoldActiveToken locks an active row until the transaction of ctx ends,
// so a deactivation racing it waits for the transaction: what is written
// in it on the strength of the token (an access token from a refresh
// token that is kept) cannot outlive a revocation that started first, nor
// escape one that started after. ErrNotFound when no row matches,
// ErrConflict when the row is inactive.
func (s *Store) HoldActiveToken(ctx context.Context, kind, signature string) error {
	// An UPDATE that changes nothing takes the row lock on PostgreSQL and
	// the write lock on SQLite, which SELECT does not.
	return s.updateActiveToken(ctx, kind, signature, true)
}

// setActiveToken sets the active row of kind with signature to active,
// on tx: the UPDATE of updateActiveToken and Writes.DeactivateToken.
func setActiveToken(tx *gorm.DB, kind, signature string, active bool) *gorm.DB {
	return tx.Model(&OAuthToken{}).
		Where("kind = ? AND signature = ? AND active = ?", kind, signature, true).
		Update("active", active)
}

// updateActiveToken sets an active row's active flag to active:
// ErrNotFound when no row matches, ErrConflict when the row is inactive.
func (s *Store) updateActiveToken(ctx context.Context, kind, signature string, active bool) error {
	if !wellFormedKey(kind, signature) {
		return ErrNotFound
	}
	res := setActiveToken(s.conn(ctx), kind, signature, active)
	if res.Error != nil {
		return translate(res.Error)
	}
	if res.RowsAffected == 0 {
		if _, err := s.GetToken(ctx, kind, signature); err != nil {
			return err
		}
		return ErrConflict
	}
	return nil
}

// DeleteToken removes one row; a missing row is ErrNotFound.
func (s *Store) DeleteToken(ctx context.Context, kind, signature string) error {
	if !wellFormedKey(kind, signature) {
		return ErrNotFound
	}
	res := s.conn(ctx).Where("kind = ? AND signature = ?", kind, signature).Delete(&OAuthToken{})
	if res.Error != nil {
		return translate(res.Error)
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}

// DeactivateTokensByRequest marks every row of kind issued for requestID
// inactive (revocation of a grant).
func (s *Store) DeactivateTokensByRequest(ctx context.Context, kind, requestID string) error {
	if !wellFormedKey(kind, requestID) {
		return nil
	}
	return translate(s.conn(ctx).Model(&OAuthToken{}).
		Where("kind = ? AND request_id = ?", kind, requestID).
		Update("active", false).Error)
}

// CleanupResult counts rows removed by DeleteExpired.
type CleanupResult struct {
	LoginRequests, Sessions, Tokens, OTPEvents, APITransactions int64
	AdminLogins, AdminSessions, OTPTallies                      int64
	JWTIDs                                                      int64
	RPSessions                                                  int64
	MeSessions                                                  int64
}

// UseJWTID records that the JWT with kind and jti was used, until expires.
// It returns ErrAlreadyExists when it was recorded before and has not
// expired: the JWT is a replay. Of two processes racing with one JWT, only
// one succeeds (the primary key decides).
func (s *Store) UseJWTID(ctx context.Context, kind, jti string, expires time.Time) error {
	return translate(s.conn(ctx).Create(&JWTID{Kind: kind, JTI: jti, ExpiresAt: expires.UTC()}).Error)
}

// LoginRequestKeep is how long a login request is kept after it expired:
// long enough for a person who comes back to an expired sign-in page to
// press "Back to {verifier}", which needs the client, its validated
// redirect URI, the state and the response mode (the stored form). What
// identifies the person (mobile, name, login hint, the code's hash) is
// cleared as soon as the request expires.
const LoginRequestKeep = 24 * time.Hour

// DeleteExpired removes login requests LoginRequestKeep past their expiry
// (and clears the mobile, name, login hint and code hash of those expired
// sooner), sessions, tokens, API transactions, admin sign-ins, admin
// sessions, /me sign-ins and sessions, used JWT IDs and clients' shares of
// sessions (rp_sessions) expired before now, OTP events older than
// keepEvents (the longest limit window) and OTP tallies
// older than OTPTallyRetention.
func (s *Store) DeleteExpired(ctx context.Context, now time.Time, keepEvents time.Duration) (CleanupResult, error) {
	now = now.UTC()
	var res CleanupResult
	db := s.conn(ctx)
	r := db.Where("expires_at < ?", now.Add(-LoginRequestKeep)).Delete(&LoginRequest{})
	if r.Error != nil {
		return res, translate(r.Error)
	}
	res.LoginRequests = r.RowsAffected
	r = db.Model(&LoginRequest{}).Where("expires_at < ? AND (mobile <> '' OR name <> '' OR login_hint <> '' OR otp_hash IS NOT NULL)", now).
		Updates(map[string]any{"mobile": "", "name": "", "login_hint": "", "otp_hash": nil, "version": nextVersion})
	if r.Error != nil {
		return res, translate(r.Error)
	}
	if r = db.Where("expires_at < ?", now).Delete(&Session{}); r.Error != nil {
		return res, translate(r.Error)
	}
	res.Sessions = r.RowsAffected
	if r = db.Where("expires_at < ?", now).Delete(&OAuthToken{}); r.Error != nil {
		return res, translate(r.Error)
	}
	res.Tokens = r.RowsAffected
	if r = db.Where("created_at < ?", now.Add(-keepEvents)).Delete(&OTPEvent{}); r.Error != nil {
		return res, translate(r.Error)
	}
	res.OTPEvents = r.RowsAffected
	if r = db.Where("expires_at < ?", now).Delete(&APITransaction{}); r.Error != nil {
		return res, translate(r.Error)
	}
	res.APITransactions = r.RowsAffected
	if r = db.Where("expires_at < ?", now).Delete(&AdminLogin{}); r.Error != nil {
		return res, translate(r.Error)
	}
	res.AdminLogins = r.RowsAffected
	if r = db.Where("expires_at < ?", now).Delete(&AdminSession{}); r.Error != nil {
		return res, translate(r.Error)
	}
	res.AdminSessions = r.RowsAffected
	if r = db.Where("created_at < ?", now.Add(-OTPTallyRetention)).Delete(&OTPTally{}); r.Error != nil {
		return res, translate(r.Error)
	}
	res.OTPTallies = r.RowsAffected
	if r = db.Where("expires_at < ?", now).Delete(&JWTID{}); r.Error != nil {
		return res, translate(r.Error)
	}
	res.JWTIDs = r.RowsAffected
	if r = db.Where("expires_at < ?", now).Delete(&RPSession{}); r.Error != nil {
		return res, translate(r.Error)
	}
	res.RPSessions = r.RowsAffected
	if r = db.Where("expires_at < ?", now).Delete(&MeSession{}); r.Error != nil {
		return res, translate(r.Error)
	}
	res.MeSessions = r.RowsAffected
	return res, nil
}
