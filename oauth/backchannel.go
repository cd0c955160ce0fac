package oauth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/kycvs/kycvs/claims"
	"github.com/kycvs/kycvs/store"
)

// OpenID Connect Back-Channel Logout 1.0, the bookkeeping half: which
// clients to tell when a session, a grant, a person's sign-ins or a client
// end. Every authorization finished in a browser session records the
// client, the sub it knows and the session's sid (store.RPSession); ending
// any of them turns those rows into queued deliveries
// (store.LogoutDelivery), in the same transaction as the change that
// caused them, which LogoutSender delivers.

// sidFor returns the sid of a browser session (Back-Channel Logout 1.0
// 2.4, OIDC Core 2 "sid"): an HMAC of the session's ID under a key derived
// from the server secret, so it is stable for the session, the same in
// every process, and neither guessable nor a way back to the session's
// cookie.
func (p *Provider) sidFor(sessionID string) string {
	m := hmac.New(sha256.New, p.sidKey)
	m.Write([]byte(sessionID))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// rpSession is the row that remembers a client signing in within sess; nil
// without a session. It lasts as long as the session, or as the refresh
// token of an offline_access grant, which outlives it.
func (p *Provider) rpSession(sess *store.Session, clientID, subject, beneficiaryID string, offline bool) *store.RPSession {
	if sess == nil {
		return nil
	}
	now := p.cfg.Now().UTC()
	expires := sess.ExpiresAt
	if offline && now.Add(p.cfg.RefreshTokenTTL).After(expires) {
		expires = now.Add(p.cfg.RefreshTokenTTL)
	}
	return &store.RPSession{SID: p.sidFor(sess.ID), ClientID: clientID, Subject: subject, BeneficiaryID: beneficiaryID,
		CreatedAt: now, ExpiresAt: expires}
}

// Logouts queues back-channel logout tokens when something ends a
// person's sign-in at clients. Each method ends what it names and queues
// a delivery for every client with a backchannel_logout_uri that signed
// the person in within it, in one transaction (joining the caller's, when
// ctx carries one), and returns how many it queued. LogoutSender delivers
// them. Safe for concurrent use.
type Logouts struct {
	st  *store.Store
	now func() time.Time
	// queued is signalled after deliveries are queued, so this process's
	// sender delivers them at once instead of at its next poll.
	queued chan struct{}
}

// NewLogouts returns the queue's producer over st; now is the clock (nil:
// time.Now).
func NewLogouts(st *store.Store, now func() time.Time) *Logouts {
	if now == nil {
		now = time.Now
	}
	return &Logouts{st: st, now: now, queued: make(chan struct{}, 1)}
}

// Queued is signalled (without blocking, so signals merge) when
// deliveries were queued in this process; LogoutSender waits on it.
func (l *Logouts) Queued() <-chan struct{} { return l.queued }

func (l *Logouts) end(ctx context.Context, f store.RPSessionFilter) (int, error) {
	rows, err := l.st.EndRPSessions(ctx, f, l.now())
	if err != nil {
		return 0, err
	}
	if len(rows) > 0 {
		select {
		case l.queued <- struct{}{}:
		default:
		}
	}
	return len(rows), nil
}

// EndSession tells every client that signed the person in within the
// browser session sid that it ended (RP-initiated logout). The oauth
// logout endpoint calls it; the session itself is ended by its owner.
//
// A client with an offline_access grant is told too, but its refresh
// token stays valid (Back-Channel Logout 1.0 2.7: refresh tokens issued
// with offline_access normally should not be revoked at logout; kycvs
// issues no others), and its sign-in is kept, so it is told again when
// the grant ends (EndGrant, EndClient).
func (l *Logouts) EndSession(ctx context.Context, sid string) (int, error) {
	if sid == "" {
		return 0, nil
	}
	return l.end(ctx, store.RPSessionFilter{SID: sid, KeepStanding: true})
}

// EndClient tells a client that every sign-in it holds has ended: the
// admin service calls it when an admin disables the client, in the
// transaction that disables it.
func (l *Logouts) EndClient(ctx context.Context, clientID string) (int, error) {
	return l.end(ctx, store.RPSessionFilter{ClientID: clientID})
}

// EndPerson ends every browser session of the beneficiary and tells every
// client that signed them in within one: an admin ending a person's
// sessions (a lost phone, a complaint). Tokens of offline_access grants
// stay valid, and their sign-ins are kept as EndSession keeps them;
// withdrawing those grants is EndGrant's.
func (l *Logouts) EndPerson(ctx context.Context, beneficiaryID string) (sessions, queued int, err error) {
	err = l.st.InTx(ctx, func(ctx context.Context) error {
		ids, err := l.st.DeleteSessionsOf(ctx, beneficiaryID)
		if err != nil {
			return err
		}
		sessions = len(ids)
		queued, err = l.end(ctx, store.RPSessionFilter{BeneficiaryID: beneficiaryID, KeepStanding: true})
		return err
	})
	return sessions, queued, err
}

// EndGrant withdraws everything the person granted the client and tells
// the client: it revokes every code, access token and refresh token the
// client holds for the beneficiary (the next refresh fails with
// invalid_grant, the next userinfo call with invalid_token), drops the
// client's grant from the person's live browser sessions (so nothing is
// shared again without asking), and queues a back-channel logout token
// for each of the client's sign-ins of the person. It is the one way to
// withdraw a grant: the person's own page calls it for "Withdraw". All of
// it commits in one transaction, joining the caller's when ctx carries
// one (so an audit entry written in it commits with it).
//
// It returns how many tokens were revoked; store.ErrNotFound for an
// unknown client, and other store errors as they come. A grant already
// withdrawn is not an error (0 tokens).
func (p *Provider) EndGrant(ctx context.Context, clientID, beneficiaryID string) (revoked int64, err error) {
	c, err := p.st.GetClient(ctx, clientID)
	if err != nil {
		return 0, err
	}
	sector, err := claims.Sector(c)
	if err != nil {
		return 0, fmt.Errorf("client %s: %w", clientID, err)
	}
	subject := p.pairwise.Subject(sector, beneficiaryID)
	err = p.st.InTx(ctx, func(ctx context.Context) error {
		n, err := p.st.DeactivateGrantTokens(ctx, clientID, subject)
		if err != nil {
			return err
		}
		revoked = n
		if err := p.st.RemoveSessionGrants(ctx, beneficiaryID, clientID, p.cfg.Now()); err != nil {
			return err
		}
		_, err = p.logouts.end(ctx, store.RPSessionFilter{ClientID: clientID, BeneficiaryID: beneficiaryID})
		return err
	})
	return revoked, err
}

// Logouts returns the provider's logout queue producer, for the admin
// service and the delivery worker.
func (p *Provider) Logouts() *Logouts { return p.logouts }
