package admin

import (
	"context"
	"sort"
	"time"
)

// Dashboard is what the console's front page and GET /admin/v1/stats show.
type Dashboard struct {
	Today      Period `json:"today"`
	Last30Days Period `json:"last_30_days"`
}

// Period is the verifications and OTP outcomes of one time range.
type Period struct {
	Since         time.Time     `json:"since"`
	Until         time.Time     `json:"until"`
	Verifications int64         `json:"verifications"`
	ByStatus      []StatusCount `json:"by_status"`
	ByClient      []ClientCount `json:"by_client"`
	OTP           OTPStats      `json:"otp"`
}

// StatusCount is the verifications that disclosed one status; Status ""
// when none was disclosed (only the name or phone was asked for).
type StatusCount struct {
	Status string `json:"status"`
	Count  int64  `json:"count"`
}

// ClientCount is one client's verifications, by status.
type ClientCount struct {
	ClientID string           `json:"client_id"`
	Name     string           `json:"name"`
	Count    int64            `json:"count"`
	ByStatus map[string]int64 `json:"by_status"`
}

// OTPStats sums the OTP outcomes of every channel. FailureRate is refused
// codes over codes entered (accepted + refused); LockoutRate is lockouts
// over codes sent. Both are 0 when there is nothing to divide by.
type OTPStats struct {
	Sent        int64   `json:"sent"`
	Accepted    int64   `json:"accepted"`
	Refused     int64   `json:"refused"`
	Locked      int64   `json:"locked"`
	FailureRate float64 `json:"failure_rate"`
	LockoutRate float64 `json:"lockout_rate"`
}

// statusLabel names a disclosed status: "0", "1", "2", or "none".
func statusLabel(s *int) string {
	if s == nil {
		return "none"
	}
	return string(rune('0' + *s))
}

// Dashboard computes today's figures (since midnight in loc) and the last
// 30 days'.
func (s *Service) Dashboard(ctx context.Context, loc *time.Location) (*Dashboard, error) {
	now := s.Now()
	local := now.In(loc)
	midnight := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, loc)
	names := map[string]string{}
	cs, err := s.st.ListClients(ctx)
	if err != nil {
		return nil, err
	}
	for _, c := range cs {
		names[c.ID] = c.Name
	}
	d := &Dashboard{}
	for _, p := range []struct {
		out   *Period
		since time.Time
	}{{&d.Today, midnight}, {&d.Last30Days, now.Add(-30 * 24 * time.Hour)}} {
		if err := s.period(ctx, p.out, p.since.UTC(), now, names); err != nil {
			return nil, err
		}
	}
	return d, nil
}

func (s *Service) period(ctx context.Context, p *Period, since, until time.Time, names map[string]string) error {
	p.Since, p.Until = since, until
	counts, err := s.st.CountVerifications(ctx, since, until)
	if err != nil {
		return err
	}
	byStatus := map[string]int64{}
	byClient := map[string]*ClientCount{}
	for _, c := range counts {
		label := statusLabel(c.Status)
		p.Verifications += c.N
		byStatus[label] += c.N
		cc := byClient[c.ClientID]
		if cc == nil {
			cc = &ClientCount{ClientID: c.ClientID, Name: names[c.ClientID], ByStatus: map[string]int64{}}
			byClient[c.ClientID] = cc
		}
		cc.Count += c.N
		cc.ByStatus[label] += c.N
	}
	p.ByStatus = []StatusCount{}
	for _, label := range []string{"2", "1", "0", "none"} {
		if n := byStatus[label]; n > 0 || label != "none" {
			p.ByStatus = append(p.ByStatus, StatusCount{Status: label, Count: n})
		}
	}
	p.ByClient = []ClientCount{}
	for _, cc := range byClient {
		p.ByClient = append(p.ByClient, *cc)
	}
	sort.Slice(p.ByClient, func(i, j int) bool {
		a, b := p.ByClient[i], p.ByClient[j]
		if a.Count != b.Count {
			return a.Count > b.Count
		}
		return a.ClientID < b.ClientID
	})
	// Tallies are stamped with the start of their minute by the writing
	// processes' clocks and written at each one's next flush (a few
	// seconds; see store.OTPTally): a minute of slack keeps the last
	// moments in.
	tallies, err := s.st.SumOTPTallies(ctx, since, until.Add(time.Minute))
	if err != nil {
		return err
	}
	for _, t := range tallies {
		p.OTP.Sent += t.Sent
		p.OTP.Accepted += t.Accepted
		p.OTP.Refused += t.Refused
		p.OTP.Locked += t.Locked
	}
	if entered := p.OTP.Accepted + p.OTP.Refused; entered > 0 {
		p.OTP.FailureRate = float64(p.OTP.Refused) / float64(entered)
	}
	if p.OTP.Sent > 0 {
		p.OTP.LockoutRate = float64(p.OTP.Locked) / float64(p.OTP.Sent)
	}
	return nil
}
