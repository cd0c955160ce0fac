package admin

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"
	"time"

	"github.com/kycvs/kycvs/store"
)

// Charts is what the console's dashboard draws: verifications over time
// by status, the OTP funnel, and each client's wrong-code and lockout
// rates. The first three are limited to ClientID when it is set.
type Charts struct {
	ClientID string
	// Hourly is the last 24 hours of the console's time zone, the current
	// one last; Daily the last 30 days, today last.
	Hourly, Daily []Bucket
	// Since is where Daily, Funnel and Clients begin: midnight 29 days ago.
	Since  time.Time
	Funnel Funnel
	// Clients are the MaxChartClients clients that sent the most codes,
	// most first.
	Clients []ClientRates
}

// MaxChartClients is how many clients the rates chart shows.
const MaxChartClients = 20

// chartStatuses are the status labels in the order the charts stack them.
var chartStatuses = [...]string{"2", "1", "0", "none"}

// Bucket is the verifications of one hour or day, by status in the order
// of chartStatuses.
type Bucket struct {
	Start    time.Time
	ByStatus [len(chartStatuses)]int64
	Total    int64
}

// Funnel is what became of the codes sent: accepted (Verified), then a
// status shared with the client (Shared) or refused by the person
// (Declined); Locked is the sign-ins ended by too many wrong codes.
type Funnel struct {
	Sent, Verified, Shared, Declined, Locked int64
}

// ClientRates is one client's codes: WrongCodeRate is wrong codes over
// codes entered, LockoutRate lockouts over codes sent (0 when there is
// nothing to divide by).
type ClientRates struct {
	ClientID, Name                 string
	Sent, Entered, Refused, Locked int64
	WrongCodeRate, LockoutRate     float64
}

// Charts computes the dashboard's charts in loc, limited to clientID
// unless it is "". An unknown clientID is store.ErrNotFound.
func (s *Service) Charts(ctx context.Context, loc *time.Location, clientID string) (*Charts, error) {
	cs, err := s.st.ListClients(ctx)
	if err != nil {
		return nil, err
	}
	names := map[string]string{}
	for _, c := range cs {
		names[c.ID] = c.Name
	}
	if _, ok := names[clientID]; clientID != "" && !ok {
		return nil, store.ErrNotFound
	}
	now := s.Now().In(loc)
	ch := newCharts(now, clientID)
	// To the end of the current hour: a verification at this very instant
	// is in.
	end := ch.Hourly[len(ch.Hourly)-1].Start.Add(time.Hour)
	counts, err := s.st.CountVerificationsByHour(ctx, ch.Since, end, clientID, loc)
	if err != nil {
		return nil, err
	}
	ch.addVerifications(counts, loc)
	// Tallies are stamped with the start of their minute by the writing
	// processes' clocks and written at each one's next flush (a few
	// seconds; see store.OTPTally): a minute of slack keeps the last
	// moments in.
	tallies, err := s.st.SumOTPTalliesByClient(ctx, ch.Since, now.Add(time.Minute))
	if err != nil {
		return nil, err
	}
	ch.addTallies(tallies, names)
	return ch, nil
}

// newCharts returns empty charts for clientID: the 24 hours up to now's,
// and the 30 days up to its day, in now's location.
func newCharts(now time.Time, clientID string) *Charts {
	loc := now.Location()
	hour := time.Date(now.Year(), now.Month(), now.Day(), now.Hour(), 0, 0, 0, loc)
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, loc)
	ch := &Charts{ClientID: clientID, Since: today.AddDate(0, 0, -29)}
	for i := range 24 {
		ch.Hourly = append(ch.Hourly, Bucket{Start: hour.Add(time.Duration(i-23) * time.Hour)})
	}
	for i := range 30 {
		ch.Daily = append(ch.Daily, Bucket{Start: today.AddDate(0, 0, i-29)})
	}
	return ch
}

// addVerifications counts each hour's verifications into its hour (when
// within the last 24) and its day in loc, by status, and as shared in the
// funnel.
func (ch *Charts) addVerifications(counts []store.HourlyCount, loc *time.Location) {
	for _, c := range counts {
		si := len(chartStatuses) - 1
		if c.Status != nil && *c.Status >= 0 && *c.Status <= 2 {
			si = 2 - *c.Status
		}
		if i := int(c.Hour.Sub(ch.Hourly[0].Start) / time.Hour); i >= 0 && i < len(ch.Hourly) {
			ch.Hourly[i].ByStatus[si] += c.N
			ch.Hourly[i].Total += c.N
		}
		h := c.Hour.In(loc)
		day := time.Date(h.Year(), h.Month(), h.Day(), 0, 0, 0, 0, loc)
		for i := range ch.Daily {
			if ch.Daily[i].Start.Equal(day) {
				ch.Daily[i].ByStatus[si] += c.N
				ch.Daily[i].Total += c.N
			}
		}
		ch.Funnel.Shared += c.N
	}
}

// addTallies adds the OTP tallies of the charts' client (every client's
// when none) to the funnel, and each client's rates, names from names, to
// Clients: the MaxChartClients that sent the most codes.
func (ch *Charts) addTallies(tallies map[string]store.OTPTotals, names map[string]string) {
	for id, t := range tallies {
		if ch.ClientID == "" || id == ch.ClientID {
			ch.Funnel.Sent += t.Sent
			ch.Funnel.Verified += t.Accepted
			ch.Funnel.Declined += t.Declined
			ch.Funnel.Locked += t.Locked
		}
		if t.Sent == 0 && t.Accepted+t.Refused == 0 {
			continue
		}
		r := ClientRates{ClientID: id, Name: names[id], Sent: t.Sent, Entered: t.Accepted + t.Refused, Refused: t.Refused, Locked: t.Locked}
		if r.Entered > 0 {
			r.WrongCodeRate = float64(r.Refused) / float64(r.Entered)
		}
		if r.Sent > 0 {
			r.LockoutRate = float64(r.Locked) / float64(r.Sent)
		}
		ch.Clients = append(ch.Clients, r)
	}
	sort.Slice(ch.Clients, func(i, j int) bool {
		a, b := ch.Clients[i], ch.Clients[j]
		if a.Sent != b.Sent {
			return a.Sent > b.Sent
		}
		return a.ClientID < b.ClientID
	})
	if len(ch.Clients) > MaxChartClients {
		ch.Clients = ch.Clients[:MaxChartClients]
	}
}

// The drawing: each chart becomes a chartView, shapes in SVG user units
// that one template draws, and the table with the same numbers that screen
// readers read instead (the SVG is hidden from them). Colours come from
// classes in admin.css: the strict Content-Security-Policy allows no
// inline style, and SVG presentation attributes would ignore dark mode.

// chartView is one chart ready to draw.
type chartView struct {
	ID, Title, Note string
	Width, Height   int
	Rects           []chartRect
	Texts           []chartText
	Lines           []chartLine
	Legend          []legendItem
	Table           chartTable
}

type chartRect struct {
	X, Y, W, H float64
	Class      string
	// Title is the tooltip a pointer shows.
	Title string
}

type chartText struct {
	X, Y   float64
	Anchor string // start, middle, end
	Text   string
}

type chartLine struct{ X1, Y1, X2, Y2 float64 }

type legendItem struct{ Class, Label string }

type chartTable struct {
	Caption string
	Head    []string
	Rows    [][]string
}

const (
	chartWidth  = 720
	chartHeight = 220
	axisLeft    = 44 // room for the y axis' labels
	axisBottom  = 22 // room for the x axis' labels
	chartTop    = 8
)

var statusClasses = [...]string{"s2", "s1", "s0", "snone"}

func statusLegend() []legendItem {
	out := make([]legendItem, len(chartStatuses))
	for i, s := range chartStatuses {
		out[i] = legendItem{Class: statusClasses[i], Label: statusText(s)}
	}
	return out
}

// niceCeiling is the smallest of 1, 2, 5 times a power of ten at or above
// v (at least 1), so the y axis' labels are round.
func niceCeiling(v float64) float64 {
	if v <= 1 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

// columnChart draws buckets as columns stacked by status, labelling every
// labelEvery-th column with label(start).
func columnChart(id, title string, buckets []Bucket, labelEvery int, label func(time.Time) string, rowLabel func(time.Time) string) chartView {
	v := chartView{ID: id, Title: title, Width: chartWidth, Height: chartHeight, Legend: statusLegend()}
	var peak int64
	for _, b := range buckets {
		peak = max(peak, b.Total)
	}
	top := niceCeiling(float64(peak))
	plotW, plotH := float64(chartWidth-axisLeft), float64(chartHeight-axisBottom-chartTop)
	base := float64(chartTop) + plotH
	for _, f := range []float64{0, 0.5, 1} {
		y := base - f*plotH
		v.Lines = append(v.Lines, chartLine{axisLeft, y, chartWidth, y})
		v.Texts = append(v.Texts, chartText{X: axisLeft - 6, Y: y + 4, Anchor: "end", Text: formatCount(f * top)})
	}
	slot := plotW / float64(len(buckets))
	v.Table = chartTable{Caption: title, Head: []string{"", "Total"}}
	for _, s := range chartStatuses {
		v.Table.Head = append(v.Table.Head, statusText(s))
	}
	for i, b := range buckets {
		x := axisLeft + float64(i)*slot + slot*0.1
		y := base
		for si, n := range b.ByStatus {
			if n == 0 {
				continue
			}
			h := float64(n) / top * plotH
			y -= h
			v.Rects = append(v.Rects, chartRect{X: x, Y: y, W: slot * 0.8, H: h, Class: statusClasses[si],
				Title: fmt.Sprintf("%s: %d %s", rowLabel(b.Start), n, statusText(chartStatuses[si]))})
		}
		if i%labelEvery == 0 {
			v.Texts = append(v.Texts, chartText{X: x + slot*0.4, Y: chartHeight - 6, Anchor: "middle", Text: label(b.Start)})
		}
		row := []string{rowLabel(b.Start), strconv.FormatInt(b.Total, 10)}
		for _, n := range b.ByStatus {
			row = append(row, strconv.FormatInt(n, 10))
		}
		v.Table.Rows = append(v.Table.Rows, row)
	}
	return v
}

// barRow is one bar of a horizontal bar chart.
type barRow struct {
	Label string
	Value float64
	Text  string // the value as shown
	Class string
}

// barChart draws one horizontal bar per row, scaled to top (the largest
// value when top is 0), each group of per rows under its group label.
func barChart(id, title string, rows []barRow, top float64, table chartTable) chartView {
	const rowH, labelW = 26, 180
	v := chartView{ID: id, Title: title, Width: chartWidth, Height: max(rowH*len(rows)+8, 40), Table: table}
	if top == 0 {
		for _, r := range rows {
			top = max(top, r.Value)
		}
	}
	if top == 0 {
		top = 1
	}
	plotW := float64(chartWidth - labelW - 70) // room for the value after the bar
	for i, r := range rows {
		y := float64(4 + i*rowH)
		w := r.Value / top * plotW
		v.Texts = append(v.Texts, chartText{X: labelW - 8, Y: y + 16, Anchor: "end", Text: r.Label})
		v.Rects = append(v.Rects, chartRect{X: labelW, Y: y + 3, W: w, H: rowH - 8, Class: r.Class, Title: r.Label + ": " + r.Text})
		v.Texts = append(v.Texts, chartText{X: labelW + w + 6, Y: y + 16, Anchor: "start", Text: r.Text})
	}
	return v
}

func formatCount(f float64) string {
	if f == math.Trunc(f) {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'f', 1, 64)
}

func percent(f float64) string { return strconv.FormatFloat(f*100, 'f', 1, 64) + "%" }

// dashboardCharts draws ch in loc.
func dashboardCharts(ch *Charts, loc *time.Location) []chartView {
	hourly := columnChart("hourly", "Verifications per hour, last 24 hours", ch.Hourly, 3,
		func(t time.Time) string { return t.In(loc).Format("15:04") },
		func(t time.Time) string { return t.In(loc).Format("2 Jan 15:04") })
	daily := columnChart("daily", "Verifications per day, last 30 days", ch.Daily, 5,
		func(t time.Time) string { return t.In(loc).Format("2 Jan") },
		func(t time.Time) string { return t.In(loc).Format("Mon 2 Jan") })

	f := ch.Funnel
	steps := []struct {
		label string
		n     int64
		class string
	}{
		{"Codes sent", f.Sent, "f-sent"},
		{"Codes verified", f.Verified, "f-ok"},
		{"Status shared", f.Shared, "f-ok"},
		{"Declined", f.Declined, "f-stop"},
		{"Locked out", f.Locked, "f-stop"},
	}
	var rows []barRow
	ft := chartTable{Caption: "OTP funnel, last 30 days", Head: []string{"Step", "Count", "Of codes sent"}}
	for _, s := range steps {
		rows = append(rows, barRow{Label: s.label, Value: float64(s.n), Text: strconv.FormatInt(s.n, 10), Class: s.class})
		share := "-"
		if f.Sent > 0 {
			share = percent(float64(s.n) / float64(f.Sent))
		}
		ft.Rows = append(ft.Rows, []string{s.label, strconv.FormatInt(s.n, 10), share})
	}
	funnel := barChart("funnel", ft.Caption, rows, 0, ft)

	rows = nil
	rt := chartTable{Caption: "Wrong codes and lockouts per client, last 30 days",
		Head: []string{"Client", "Codes sent", "Wrong-code rate", "Wrong codes", "Codes entered", "Lockout rate", "Lockouts"}}
	var peak float64
	for _, c := range ch.Clients {
		name := c.Name
		if name == "" {
			name = c.ClientID
		}
		rows = append(rows,
			barRow{Label: name + " wrong", Value: c.WrongCodeRate, Text: percent(c.WrongCodeRate), Class: "r-wrong"},
			barRow{Label: name + " locked", Value: c.LockoutRate, Text: percent(c.LockoutRate), Class: "r-lock"})
		peak = max(peak, c.WrongCodeRate, c.LockoutRate)
		rt.Rows = append(rt.Rows, []string{name, strconv.FormatInt(c.Sent, 10), percent(c.WrongCodeRate),
			strconv.FormatInt(c.Refused, 10), strconv.FormatInt(c.Entered, 10), percent(c.LockoutRate), strconv.FormatInt(c.Locked, 10)})
	}
	// Rates on a round scale: 1%, 2%, 5%, 10%, 20%, 50%, 100%.
	top := min(niceCeiling(peak*100), 100) / 100
	rates := barChart("rates", rt.Caption, rows, top, rt)
	rates.Legend = []legendItem{{"r-wrong", "Wrong-code rate"}, {"r-lock", "Lockout rate"}}
	if len(ch.Clients) == MaxChartClients {
		rates.Note = fmt.Sprintf("The %d clients that sent the most codes.", MaxChartClients)
	}
	return []chartView{hourly, daily, funnel, rates}
}
