package claims

import (
	"bufio"
	"cmp"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/kycvs/kycvs/store"
)

// csvHeader is the registry CSV's header, in order (DESIGN.md, "Registry CSV").
var csvHeader = []string{"beneficiary_id", "mobile", "name", "year_of_birth", "vaccine", "dose_number", "total_doses", "dose_date"}

// Bounds on one registry row. They keep a malformed or hostile file from
// exhausting memory and keep values within what screens and tokens carry.
const (
	maxLineBytes    = 4096
	maxIDLen        = 64
	maxNameLen      = 200
	maxVaccineLen   = 100
	maxDoses        = 10
	minYearOfBirth  = 1900
	maxErrorsListed = 20
)

// LineError is one problem in a registry CSV: the 1-based line it is on
// (the header is line 1) and what is wrong, starting with the column name,
// e.g. "mobile: not a valid mobile number ...".
type LineError struct {
	Line int
	Msg  string
}

// ImportError lists every bad line of a registry CSV, in line order. When a
// file has one, nothing of it is applied.
type ImportError struct {
	Errors []LineError
}

// Error lists the first 20 problems, one per line as "line 3: mobile: ...",
// and says how many more there are.
func (e *ImportError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "registry CSV: %d problem(s), nothing imported", len(e.Errors))
	for i, le := range e.Errors {
		if i == maxErrorsListed {
			fmt.Fprintf(&b, "\n... and %d more", len(e.Errors)-maxErrorsListed)
			break
		}
		fmt.Fprintf(&b, "\nline %d: %s", le.Line, le.Msg)
	}
	return b.String()
}

// ParseCSV reads a registry CSV (DESIGN.md, "Registry CSV"): the header
// beneficiary_id,mobile,name,year_of_birth,vaccine,dose_number,total_doses,dose_date
// then one row per dose; a beneficiary with no dose has one row with the
// last four columns empty. A UTF-8 byte order mark, CRLF line ends and
// quoted fields are accepted; fields are trimmed.
//
// Every row is checked: beneficiary_id 1 to 64 characters; mobile as
// NormalizeMobile takes it; name non-empty, at most 200 characters;
// year_of_birth a four-digit year from 1900 to this year; vaccine non-empty;
// dose_number and total_doses whole numbers from 1 to 10; dose_date a real
// YYYY-MM-DD date. Across rows: the rows of one beneficiary_id agree on
// mobile, name and year_of_birth; no dose_number twice for one
// beneficiary; a no-dose row is a beneficiary's only row; two beneficiaries
// on one mobile do not share a name (Registry.Match could not tell them
// apart). Lines longer than 4 KiB stop the parse.
//
// On success it returns the beneficiaries in the order they first appear,
// with Mobile in E.164, Name with white space collapsed, NameKey set and
// doses ordered by dose number. If any row is bad it returns nil and an
// *ImportError listing every bad line; an error reading r is returned
// wrapped.
func ParseCSV(r io.Reader) ([]store.Beneficiary, error) {
	lr := &lineLimitReader{r: r, max: maxLineBytes, line: 1}
	br := bufio.NewReader(lr)
	if b, err := br.Peek(3); err == nil && string(b) == "\uFEFF" {
		br.Discard(3)
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1 // counted here, to report it like every other problem
	cr.ReuseRecord = true

	p := &parser{
		byID:      map[string]*pending{},
		byNameKey: map[string]nameOwner{},
		thisYear:  time.Now().Year(),
	}
	headerSeen := false
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		var tooLong *lineTooLongError
		if errors.As(err, &tooLong) {
			p.fail(tooLong.line, fmt.Sprintf("line longer than %d bytes; stopped reading", maxLineBytes))
			break
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			p.fail(pe.StartLine, "not valid CSV: "+pe.Err.Error())
			if !headerSeen {
				break
			}
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read registry CSV: %w", err)
		}
		line, _ := cr.FieldPos(0)
		if !headerSeen {
			headerSeen = true
			if !isHeader(rec) {
				p.fail(line, "header must be exactly "+strings.Join(csvHeader, ","))
				break
			}
			continue
		}
		p.row(line, rec)
	}
	if !headerSeen && len(p.errs) == 0 {
		p.fail(1, "empty file: header "+strings.Join(csvHeader, ",")+" is missing")
	}
	if len(p.errs) > 0 {
		// Stable: problems on one line keep their column order.
		slices.SortStableFunc(p.errs, func(a, b LineError) int { return cmp.Compare(a.Line, b.Line) })
		return nil, &ImportError{Errors: p.errs}
	}
	out := make([]store.Beneficiary, 0, len(p.order))
	for _, pb := range p.order {
		b := pb.b
		slices.SortFunc(b.Doses, func(x, y store.Dose) int { return cmp.Compare(x.DoseNumber, y.DoseNumber) })
		out = append(out, b)
	}
	return out, nil
}

// Import parses a registry CSV and writes it with store.ReplaceBeneficiaries
// in one transaction: new beneficiary IDs are created, known ones have
// their fields and doses replaced, beneficiaries absent from the file are
// left alone. On a bad row it returns the *ImportError from ParseCSV, and
// on a store error that error wrapped; either way nothing is applied.
func Import(ctx context.Context, st *store.Store, r io.Reader) (store.ImportResult, error) {
	bs, err := ParseCSV(r)
	if err != nil {
		return store.ImportResult{}, err
	}
	res, err := st.ReplaceBeneficiaries(ctx, bs)
	if err != nil {
		return store.ImportResult{}, fmt.Errorf("claims: import registry: %w", err)
	}
	return res, nil
}

// pending is a beneficiary being assembled from its rows.
type pending struct {
	b         store.Beneficiary
	firstLine int
	noDose    int         // line of its no-dose row, 0 if none
	doseLines map[int]int // dose number -> line
}

type nameOwner struct {
	id   string
	line int
}

type parser struct {
	errs      []LineError
	byID      map[string]*pending
	order     []*pending
	byNameKey map[string]nameOwner // mobile + "\x00" + name key -> first owner
	thisYear  int
}

func (p *parser) fail(line int, msg string) {
	p.errs = append(p.errs, LineError{Line: line, Msg: msg})
}

// row checks one data row and, when it is good, adds it to its beneficiary.
func (p *parser) row(line int, rec []string) {
	if len(rec) != len(csvHeader) {
		p.fail(line, fmt.Sprintf("want %d columns, got %d", len(csvHeader), len(rec)))
		return
	}
	f := make([]string, len(rec))
	for i, v := range rec {
		f[i] = strings.TrimSpace(v)
	}
	id, mobileIn, nameIn, yobIn := f[0], f[1], f[2], f[3]
	vaccine, numIn, totalIn, dateIn := f[4], f[5], f[6], f[7]
	nerr := len(p.errs)

	switch n := utf8.RuneCountInString(id); {
	case id == "":
		p.fail(line, "beneficiary_id: empty")
	case n > maxIDLen:
		p.fail(line, fmt.Sprintf("beneficiary_id: longer than %d characters", maxIDLen))
	case !printable(id):
		p.fail(line, "beneficiary_id: contains control characters or invalid UTF-8")
	}
	mobile, err := NormalizeMobile(mobileIn)
	if err != nil {
		p.fail(line, "mobile: "+err.Error())
	}
	name := displayName(nameIn)
	switch {
	case name == "":
		p.fail(line, "name: empty")
	case !printable(name):
		p.fail(line, "name: contains control characters or invalid UTF-8")
	case utf8.RuneCountInString(name) > maxNameLen:
		p.fail(line, fmt.Sprintf("name: longer than %d characters", maxNameLen))
	}
	yob, ok := parseDigits(yobIn, 4)
	if !ok || yob < minYearOfBirth || yob > p.thisYear {
		p.fail(line, fmt.Sprintf("year_of_birth: want a four-digit year from %d to %d", minYearOfBirth, p.thisYear))
	}

	hasDose := vaccine != "" || numIn != "" || totalIn != "" || dateIn != ""
	var dose store.Dose
	if hasDose {
		switch {
		case vaccine == "":
			p.fail(line, "vaccine: empty (leave all four dose columns empty for a beneficiary with no dose)")
		case !printable(vaccine):
			p.fail(line, "vaccine: contains control characters or invalid UTF-8")
		case utf8.RuneCountInString(vaccine) > maxVaccineLen:
			p.fail(line, fmt.Sprintf("vaccine: longer than %d characters", maxVaccineLen))
		}
		num, ok := parseDigits(numIn, 0)
		if !ok || num < 1 || num > maxDoses {
			p.fail(line, fmt.Sprintf("dose_number: want a whole number from 1 to %d", maxDoses))
		}
		total, ok := parseDigits(totalIn, 0)
		if !ok || total < 1 || total > maxDoses {
			p.fail(line, fmt.Sprintf("total_doses: want a whole number from 1 to %d", maxDoses))
		}
		if _, err := time.Parse(time.DateOnly, dateIn); err != nil || len(dateIn) != len(time.DateOnly) {
			p.fail(line, "dose_date: want a date as YYYY-MM-DD")
		}
		dose = store.Dose{BeneficiaryID: id, Vaccine: vaccine, DoseNumber: num, TotalDoses: total, DoseDate: dateIn}
	}
	if len(p.errs) > nerr {
		return // cross-row checks compare good values only
	}

	pb := p.byID[id]
	if pb == nil {
		nk := mobile + "\x00" + NameKey(name)
		if o, dup := p.byNameKey[nk]; dup {
			p.fail(line, fmt.Sprintf("name: beneficiary %s on line %d has the same mobile and name; they could not be told apart at sign-in", o.id, o.line))
			return
		}
		p.byNameKey[nk] = nameOwner{id: id, line: line}
		pb = &pending{
			b: store.Beneficiary{
				ID: id, Mobile: mobile, Name: name, NameKey: NameKey(name), YearOfBirth: yob,
			},
			firstLine: line,
			doseLines: map[int]int{},
		}
		p.byID[id] = pb
		p.order = append(p.order, pb)
	} else {
		bad := false
		if pb.b.Mobile != mobile {
			p.fail(line, fmt.Sprintf("mobile: differs from line %d for beneficiary %s", pb.firstLine, id))
			bad = true
		}
		if pb.b.Name != name {
			p.fail(line, fmt.Sprintf("name: differs from line %d for beneficiary %s", pb.firstLine, id))
			bad = true
		}
		if pb.b.YearOfBirth != yob {
			p.fail(line, fmt.Sprintf("year_of_birth: differs from line %d for beneficiary %s", pb.firstLine, id))
			bad = true
		}
		if bad {
			return
		}
	}

	switch {
	case !hasDose && pb.noDose != 0:
		p.fail(line, fmt.Sprintf("beneficiary %s already has a no-dose row on line %d", id, pb.noDose))
	case !hasDose && len(pb.doseLines) > 0:
		p.fail(line, fmt.Sprintf("no-dose row for beneficiary %s, who has doses (line %d); a no-dose row must be the only row", id, pb.firstLine))
	case !hasDose:
		pb.noDose = line
	case pb.noDose != 0:
		p.fail(line, fmt.Sprintf("dose for beneficiary %s, who has a no-dose row on line %d; remove that row", id, pb.noDose))
	case pb.doseLines[dose.DoseNumber] != 0:
		p.fail(line, fmt.Sprintf("dose_number: dose %d of beneficiary %s is already on line %d", dose.DoseNumber, id, pb.doseLines[dose.DoseNumber]))
	default:
		pb.doseLines[dose.DoseNumber] = line
		pb.b.Doses = append(pb.b.Doses, dose)
	}
}

func isHeader(rec []string) bool {
	if len(rec) != len(csvHeader) {
		return false
	}
	for i, h := range csvHeader {
		if strings.TrimSpace(rec[i]) != h {
			return false
		}
	}
	return true
}

// parseDigits reads a non-negative decimal of ASCII digits only (no sign, no
// spaces, at most 9 digits); width > 0 demands exactly that many digits.
func parseDigits(s string, width int) (int, bool) {
	if s == "" || len(s) > 9 || (width > 0 && len(s) != width) || !allDigits(s) {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}

// printable reports whether s is valid UTF-8 without control characters.
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// lineTooLongError reports a physical line longer than the limit.
type lineTooLongError struct{ line int }

func (e *lineTooLongError) Error() string {
	return fmt.Sprintf("line %d is longer than %d bytes", e.line, maxLineBytes)
}

// lineLimitReader fails once a physical line exceeds max bytes, so a file
// without line ends cannot make encoding/csv buffer it whole.
type lineLimitReader struct {
	r    io.Reader
	max  int
	cur  int // bytes in the current line so far
	line int // current 1-based line
	err  error
}

func (l *lineLimitReader) Read(b []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	n, err := l.r.Read(b)
	for i := 0; i < n; i++ {
		if b[i] == '\n' {
			l.line++
			l.cur = 0
			continue
		}
		l.cur++
		if l.cur > l.max {
			l.err = &lineTooLongError{line: l.line}
			// Hand over the bytes up to the limit; the next Read fails.
			return i, nil
		}
	}
	return n, err
}

// CheckBeneficiary checks one beneficiary given field by field (the admin
// API and console) by exactly the rules of a registry CSV (ParseCSV): the
// fields become CSV rows, one per dose. It returns the beneficiary as an
// import would store it (mobile in E.164, name collapsed, NameKey set,
// doses by number), or nil and every problem, each starting with the field
// ("mobile: ...", "doses[1].dose_date: ...").
func CheckBeneficiary(id, mobile, name string, yearOfBirth int, doses []store.Dose) (*store.Beneficiary, []string) {
	p := &parser{byID: map[string]*pending{}, byNameKey: map[string]nameOwner{}, thisYear: time.Now().Year()}
	yob := strconv.Itoa(yearOfBirth)
	if len(doses) == 0 {
		p.row(1, []string{id, mobile, name, yob, "", "", "", ""})
	}
	if len(doses) > maxDoses {
		p.fail(1, fmt.Sprintf("doses: at most %d", maxDoses))
	}
	for i, d := range doses {
		p.row(i+1, []string{id, mobile, name, yob, d.Vaccine, strconv.Itoa(d.DoseNumber), strconv.Itoa(d.TotalDoses), d.DoseDate})
	}
	if len(p.errs) > 0 {
		var out []string
		seen := map[string]bool{}
		for _, e := range p.errs {
			msg := e.Msg
			if col, _, _ := strings.Cut(msg, ":"); slices.Contains([]string{"vaccine", "dose_number", "total_doses", "dose_date"}, col) && len(doses) > 0 {
				msg = fmt.Sprintf("doses[%d].%s", e.Line-1, msg)
			}
			msg = lineRef.ReplaceAllStringFunc(msg, func(m string) string {
				n, _ := strconv.Atoi(strings.TrimPrefix(m, "line "))
				return fmt.Sprintf("doses[%d]", n-1)
			})
			if !seen[msg] {
				seen[msg] = true
				out = append(out, msg)
			}
		}
		return nil, out
	}
	b := p.order[0].b
	slices.SortFunc(b.Doses, func(x, y store.Dose) int { return cmp.Compare(x.DoseNumber, y.DoseNumber) })
	return &b, nil
}

// lineRef is a "line N" in a parser message, which CheckBeneficiary
// turns into the dose it came from.
var lineRef = regexp.MustCompile(`line [0-9]+`)
