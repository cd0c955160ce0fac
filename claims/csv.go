package claims

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"regexp"
	"runtime"
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

// ImportError lists the bad lines of a registry CSV, in line order: every
// one up to the first 1,000 (so a file of ten million bad lines does not
// take ten million messages of memory), and Total counts them all. When a
// file has one, nothing of it is applied.
type ImportError struct {
	Errors []LineError
	// Total is how many problems there are; 0 means len(Errors).
	Total int
}

// Count returns how many problems the file has, listed or not.
func (e *ImportError) Count() int { return max(e.Total, len(e.Errors)) }

// Error lists the first 20 problems, one per line as "line 3: mobile: ...",
// and says how many more there are.
func (e *ImportError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "registry CSV: %d problem(s), nothing imported", e.Count())
	for i, le := range e.Errors {
		if i == maxErrorsListed {
			break
		}
		fmt.Fprintf(&b, "\nline %d: %s", le.Line, le.Msg)
	}
	if more := e.Count() - min(len(e.Errors), maxErrorsListed); more > 0 {
		fmt.Fprintf(&b, "\n... and %d more", more)
	}
	return b.String()
}

// maxErrorsKept bounds the problems an ImportError lists.
const maxErrorsKept = 1000

// mergeImportErrors returns one ImportError with the problems of a and b
// (either may be nil) in line order, or nil when there are none.
func mergeImportErrors(a *ImportError, b *store.ImportConflictError) *ImportError {
	out := &ImportError{}
	if a != nil {
		out.Errors = append(out.Errors, a.Errors...)
		out.Total += a.Count()
	}
	if b != nil {
		for _, p := range b.Problems {
			out.Errors = append(out.Errors, LineError{Line: p.Line, Msg: p.Msg})
		}
		out.Total += b.Total
	}
	if out.Total == 0 {
		return nil
	}
	slices.SortStableFunc(out.Errors, func(x, y LineError) int { return cmp.Compare(x.Line, y.Line) })
	if len(out.Errors) > maxErrorsKept {
		out.Errors = out.Errors[:maxErrorsKept]
	}
	return out
}

// ReadCSV streams a registry CSV (DESIGN.md, "Registry CSV"): the header
// beneficiary_id,mobile,name,year_of_birth,vaccine,dose_number,total_doses,dose_date
// then one row per dose; a beneficiary with no dose has one row with the
// last four columns empty; the rows of one beneficiary are next to each
// other. A UTF-8 byte order mark, CRLF line ends and quoted fields are
// accepted; fields are trimmed.
//
// Every row is checked: beneficiary_id 1 to 64 characters; mobile as
// NormalizeMobile takes it; name non-empty, at most 200 characters;
// year_of_birth a four-digit year from 1900 to this year; vaccine non-empty;
// dose_number and total_doses whole numbers from 1 to 10; dose_date a real
// YYYY-MM-DD date. Across the rows of one beneficiary: they agree on
// mobile, name and year_of_birth; no dose_number twice; a no-dose row is
// the only row. Lines longer than 4 KiB stop the read. What only the whole
// file shows (an ID whose rows are apart, two beneficiaries on one mobile
// with one name) is left to the caller: ParseCSV checks it in memory,
// Import in the database.
//
// fn receives each beneficiary whose rows are all good as soon as its last
// row is read, with Mobile in E.164, Name with white space collapsed,
// NameKey set and doses ordered by dose number; memory does not grow with
// the file. The read goes on past bad rows, so that every bad line is
// reported: at the end, ReadCSV returns an *ImportError if any row was
// bad. An error from fn stops the read and is returned as it is; an error
// reading r is returned wrapped.
func ReadCSV(r io.Reader, fn func(*store.ImportRecord) error) error {
	return readCSV(r, fn, runtime.GOMAXPROCS(0), chunkRows)
}

// ParseCSV reads a whole registry CSV into memory, for inputs that fit
// there (tests, tools): the rows are checked as ReadCSV checks them and,
// across the file, that no beneficiary's rows are apart and that no two
// beneficiaries on one mobile share a name (Registry.Match could not tell
// them apart). It returns the beneficiaries in file order, or nil and an
// *ImportError listing the bad lines; an error reading r is returned
// wrapped. Import is the streaming form that writes to the store.
func ParseCSV(r io.Reader) ([]store.Beneficiary, error) {
	out := []store.Beneficiary{}
	firstLine := map[string]int{}
	names := map[string]nameOwner{}
	var across store.ImportConflictError
	problem := func(line int, msg string) {
		across.Total++
		across.Problems = append(across.Problems, store.ImportProblem{Line: line, Msg: msg})
	}
	err := ReadCSV(r, func(rec *store.ImportRecord) error {
		if first, dup := firstLine[rec.ID]; dup {
			problem(rec.Line, fmt.Sprintf("beneficiary_id: %s is also on line %d; the rows of one beneficiary must be next to each other", rec.ID, first))
			return nil
		}
		firstLine[rec.ID] = rec.Line
		nk := rec.Mobile + "\x00" + rec.NameKey
		if o, dup := names[nk]; dup {
			problem(rec.Line, fmt.Sprintf("name: beneficiary %s on line %d has the same mobile and name; they could not be told apart at sign-in", o.id, o.line))
			return nil
		}
		names[nk] = nameOwner{id: rec.ID, line: rec.Line}
		out = append(out, rec.Beneficiary)
		return nil
	})
	var ie *ImportError
	if err != nil && !errors.As(err, &ie) {
		return nil, err
	}
	if all := mergeImportErrors(ie, &across); all != nil {
		return nil, all
	}
	return out, nil
}

// pending is a beneficiary being assembled from its rows.
type pending struct {
	b         store.Beneficiary
	firstLine int
	firstGood int         // its first good row, whose values the others must repeat
	noDose    int         // line of its no-dose row, 0 if none
	doseLines map[int]int // dose number -> line
	bad       bool        // a row of it was bad: it is not emitted
}

type nameOwner struct {
	id   string
	line int
}

type parser struct {
	errs     []LineError
	total    int
	cur      *pending // the beneficiary whose rows are being read
	emit     func(*store.ImportRecord) error
	fnErr    error
	thisYear int
	f        []string

	// The last raw mobile and name and what they became: the rows of one
	// beneficiary repeat them, and checking a mobile costs far more than
	// comparing it.
	lastMobileIn, lastMobile, lastMobileErr string
	lastNameIn, lastName                    string
}

func newParser() *parser {
	return &parser{thisYear: time.Now().Year()}
}

func (p *parser) fail(line int, msg string) {
	p.total++
	if len(p.errs) < maxErrorsKept {
		p.errs = append(p.errs, LineError{Line: line, Msg: msg})
	}
	if p.cur != nil && p.cur.firstLine <= line {
		p.cur.bad = true
	}
}

// flush hands the current beneficiary to emit, unless a row of it was bad.
func (p *parser) flush() {
	pb := p.cur
	p.cur = nil
	if pb == nil || pb.bad || p.emit == nil || p.fnErr != nil {
		return
	}
	slices.SortFunc(pb.b.Doses, func(x, y store.Dose) int { return cmp.Compare(x.DoseNumber, y.DoseNumber) })
	// The hash here, on the checking goroutines, spares the store's one.
	p.fnErr = p.emit(&store.ImportRecord{Beneficiary: pb.b, Line: pb.firstLine, Hash: store.ContentHash(&pb.b)})
}

func (p *parser) mobile(in string) (string, error) {
	if in != p.lastMobileIn || p.lastMobile == "" && p.lastMobileErr == "" {
		p.lastMobileIn = in
		m, err := NormalizeMobile(in)
		p.lastMobile, p.lastMobileErr = m, ""
		if err != nil {
			p.lastMobileErr = err.Error()
		}
	}
	if p.lastMobileErr != "" {
		return "", errors.New(p.lastMobileErr)
	}
	return p.lastMobile, nil
}

func (p *parser) name(in string) string {
	if in != p.lastNameIn || p.lastName == "" {
		p.lastNameIn = in
		p.lastName = displayName(in)
	}
	return p.lastName
}

// row checks one data row and, when it is good, adds it to its beneficiary.
func (p *parser) row(line int, rec []string) {
	if len(rec) != len(csvHeader) {
		p.fail(line, fmt.Sprintf("want %d columns, got %d", len(csvHeader), len(rec)))
		return
	}
	f := p.f[:0]
	for _, v := range rec {
		f = append(f, strings.TrimSpace(v))
	}
	p.f = f
	id := f[0]
	if p.cur == nil || p.cur.b.ID != id {
		p.flush()
		p.cur = &pending{b: store.Beneficiary{ID: id}, firstLine: line, doseLines: map[int]int{}}
	}
	nerr := p.total
	person := p.person(line, f[0], f[1], f[2], f[3])
	dose, hasDose := p.dose(line, id, f[4], f[5], f[6], f[7])
	if p.total > nerr {
		return // cross-row checks compare good values only
	}
	if !p.sameAsFirst(line, person) {
		return
	}
	p.addDose(line, dose, hasDose)
}

// rowPerson is what a row says about its beneficiary; every row of one
// beneficiary must say the same.
type rowPerson struct {
	mobile, name string
	yob          int
}

// person checks a row's beneficiary columns, reporting each bad one.
func (p *parser) person(line int, id, mobileIn, nameIn, yobIn string) rowPerson {
	switch n := utf8.RuneCountInString(id); {
	case id == "":
		p.fail(line, "beneficiary_id: empty")
	case n > maxIDLen:
		p.fail(line, fmt.Sprintf("beneficiary_id: longer than %d characters", maxIDLen))
	case !printable(id):
		p.fail(line, "beneficiary_id: contains control characters or invalid UTF-8")
	}
	mobile, err := p.mobile(mobileIn)
	if err != nil {
		p.fail(line, "mobile: "+err.Error())
	}
	name := p.name(nameIn)
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
	return rowPerson{mobile: mobile, name: name, yob: yob}
}

// dose checks a row's four dose columns, reporting each bad one; hasDose
// is false for a no-dose row (all four empty).
func (p *parser) dose(line int, id, vaccine, numIn, totalIn, dateIn string) (dose store.Dose, hasDose bool) {
	if vaccine == "" && numIn == "" && totalIn == "" && dateIn == "" {
		return store.Dose{}, false
	}
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
	return store.Dose{BeneficiaryID: id, Vaccine: vaccine, DoseNumber: num, TotalDoses: total, DoseDate: dateIn}, true
}

// sameAsFirst takes the current beneficiary's mobile, name and year of
// birth from its first good row, and checks a later row repeats them. It
// reports false when the row differs.
func (p *parser) sameAsFirst(line int, r rowPerson) bool {
	pb := p.cur
	if pb.b.Mobile == "" {
		pb.b.Mobile, pb.b.Name, pb.b.NameKey, pb.b.YearOfBirth = r.mobile, r.name, NameKey(r.name), r.yob
		pb.firstGood = line
		return true
	}
	same := true
	if pb.b.Mobile != r.mobile {
		p.fail(line, fmt.Sprintf("mobile: differs from line %d for beneficiary %s", pb.firstGood, pb.b.ID))
		same = false
	}
	if pb.b.Name != r.name {
		p.fail(line, fmt.Sprintf("name: differs from line %d for beneficiary %s", pb.firstGood, pb.b.ID))
		same = false
	}
	if pb.b.YearOfBirth != r.yob {
		p.fail(line, fmt.Sprintf("year_of_birth: differs from line %d for beneficiary %s", pb.firstGood, pb.b.ID))
		same = false
	}
	return same
}

// addDose adds a good row's dose (or its no-dose mark) to the current
// beneficiary: a no-dose row must be its only row, and each dose number
// comes once.
func (p *parser) addDose(line int, dose store.Dose, hasDose bool) {
	pb, id := p.cur, p.cur.b.ID
	switch {
	case !hasDose && pb.noDose != 0:
		p.fail(line, fmt.Sprintf("beneficiary %s already has a no-dose row on line %d", id, pb.noDose))
	case !hasDose && len(pb.doseLines) > 0:
		p.fail(line, fmt.Sprintf("no-dose row for beneficiary %s, who has doses (line %d); a no-dose row must be the only row", id, pb.firstGood))
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
	p := newParser()
	var out *store.Beneficiary
	p.emit = func(rec *store.ImportRecord) error {
		out = &rec.Beneficiary
		return nil
	}
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
	p.flush()
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
	return out, nil
}

// lineRef is a "line N" in a parser message, which CheckBeneficiary
// turns into the dose it came from.
var lineRef = regexp.MustCompile(`line [0-9]+`)
