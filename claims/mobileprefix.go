package claims

import (
	"regexp/syntax"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/nyaruka/phonenumbers"
)

// Checking a number against the numbering plan (phonenumbers.Parse,
// IsValidNumber, GetNumberType) costs about 100 us: regular expressions of
// hundreds of alternatives, run several times. A national registry has
// hundreds of millions of numbers, so that alone would take days.
//
// India's plan is allocated in blocks: whether a 10-digit number is valid,
// and of which type, follows from its leading digits. prefixVerdicts caches
// the outcome per 6-digit prefix of 10-digit Indian numbers starting 6 to
// 9 (the mobile ranges). Rather than trust that, planIsPrefixDetermined
// proves it once per process from the metadata itself: every pattern of
// the plan must accept all or none of the numbers sharing a 6-digit
// prefix. If the proof fails (a future plan constrains later digits), the
// cache is never used.

const (
	prefixDigits   = 6
	nationalDigits = 10
)

// Verdicts, two bits each.
const (
	verdictUnknown = iota
	verdictMobile
	verdictInvalid
	verdictNotMobile
)

var (
	prefixProofOnce sync.Once
	prefixProofOK   bool
	// prefixVerdicts packs 16 two-bit verdicts per word, for the 10^6
	// prefixes: 250 KB.
	prefixVerdicts [1_000_000 / 16]atomic.Uint32
)

// indianNational returns the 10-digit national number of s when s is
// exactly ten ASCII digits starting 6 to 9, or +91 followed by such
// digits; ok is false for any other form, which takes the full path.
func indianNational(s string) (string, bool) {
	if len(s) == nationalDigits+3 && s[:3] == "+91" {
		s = s[3:]
	}
	if len(s) != nationalDigits || s[0] < '6' || s[0] > '9' || !allDigits(s) {
		return "", false
	}
	return s, true
}

func prefixVerdict(national string) int {
	i, _ := strconv.Atoi(national[:prefixDigits])
	return int(prefixVerdicts[i/16].Load()>>(2*(i%16))) & 3
}

func setPrefixVerdict(national string, v int) {
	i, _ := strconv.Atoi(national[:prefixDigits])
	w := &prefixVerdicts[i/16]
	for {
		old := w.Load()
		nw := old&^(3<<(2*(i%16))) | uint32(v)<<(2*(i%16))
		if w.CompareAndSwap(old, nw) {
			return
		}
	}
}

// prefixCacheUsable reports whether the proof holds, running it once.
func prefixCacheUsable() bool {
	prefixProofOnce.Do(func() { prefixProofOK = planIsPrefixDetermined("IN") })
	return prefixProofOK
}

// planIsPrefixDetermined reports whether every national-number pattern of
// region's plan, on 10-digit numbers, matches all or none of the numbers
// that share their first 6 digits. It runs each pattern's automaton over
// digits: the sets of states reachable after each 6-digit prefix, then
// every 4-digit continuation from each set. Any pattern it cannot read
// makes it answer false.
func planIsPrefixDetermined(region string) bool {
	coll, err := phonenumbers.MetadataCollection()
	if err != nil {
		return false
	}
	for _, md := range coll.GetMetadata() {
		if md.GetId() != region {
			continue
		}
		for _, d := range []*phonenumbers.PhoneNumberDesc{
			md.GetGeneralDesc(), md.GetFixedLine(), md.GetMobile(), md.GetTollFree(),
			md.GetPremiumRate(), md.GetSharedCost(), md.GetPersonalNumber(), md.GetVoip(),
			md.GetPager(), md.GetUan(), md.GetVoicemail(),
		} {
			if d == nil || d.GetNationalNumberPattern() == "" {
				continue
			}
			if !patternIsPrefixDetermined(d.GetNationalNumberPattern()) {
				return false
			}
		}
		return true
	}
	return false
}

// digitNFA runs a compiled pattern over digit strings of a fixed length.
type digitNFA struct {
	prog *syntax.Prog
	ok   bool // false once an instruction it cannot judge was met
}

// closure adds pc and everything reachable from it without reading a
// digit, at position pos, to set.
func (n *digitNFA) closure(set map[uint32]bool, pc uint32, pos int) {
	if set[pc] {
		return
	}
	set[pc] = true
	in := n.prog.Inst[pc]
	switch in.Op {
	case syntax.InstAlt, syntax.InstAltMatch:
		n.closure(set, in.Out, pos)
		n.closure(set, in.Arg, pos)
	case syntax.InstCapture, syntax.InstNop:
		n.closure(set, in.Out, pos)
	case syntax.InstEmptyWidth:
		switch syntax.EmptyOp(in.Arg) {
		case syntax.EmptyBeginText, syntax.EmptyBeginLine:
			if pos == 0 {
				n.closure(set, in.Out, pos)
			}
		case syntax.EmptyEndText, syntax.EmptyEndLine:
			if pos == nationalDigits {
				n.closure(set, in.Out, pos)
			}
		default:
			n.ok = false
		}
	}
}

func (n *digitNFA) step(set map[uint32]bool, digit rune, pos int) map[uint32]bool {
	next := map[uint32]bool{}
	for pc := range set {
		in := n.prog.Inst[pc]
		switch in.Op {
		case syntax.InstRune, syntax.InstRune1, syntax.InstRuneAny, syntax.InstRuneAnyNotNL:
			if in.MatchRune(digit) {
				n.closure(next, in.Out, pos+1)
			}
		}
	}
	return next
}

func (n *digitNFA) accepts(set map[uint32]bool) bool {
	for pc := range set {
		if n.prog.Inst[pc].Op == syntax.InstMatch {
			return true
		}
	}
	return false
}

func setKey(set map[uint32]bool, n int) string {
	b := make([]byte, n)
	for pc := range set {
		b[pc] = 1
	}
	return string(b)
}

func patternIsPrefixDetermined(pattern string) bool {
	re, err := syntax.Parse("^(?:"+pattern+")$", syntax.Perl)
	if err != nil {
		return false
	}
	prog, err := syntax.Compile(re.Simplify())
	if err != nil {
		return false
	}
	n := &digitNFA{prog: prog, ok: true}
	size := len(prog.Inst)
	start := map[uint32]bool{}
	n.closure(start, uint32(prog.Start), 0)
	frontier := map[string]map[uint32]bool{setKey(start, size): start}
	for pos := 0; pos < prefixDigits; pos++ {
		next := map[string]map[uint32]bool{}
		for _, set := range frontier {
			for d := '0'; d <= '9'; d++ {
				s := n.step(set, d, pos)
				next[setKey(s, size)] = s
			}
		}
		frontier = next
	}
	// outcomes returns bit 1 if some continuation is accepted, bit 2 if
	// some is refused.
	memo := map[string]int{}
	var outcomes func(set map[uint32]bool, pos int) int
	outcomes = func(set map[uint32]bool, pos int) int {
		if pos == nationalDigits {
			if n.accepts(set) {
				return 1
			}
			return 2
		}
		key := strconv.Itoa(pos) + setKey(set, size)
		if v, ok := memo[key]; ok {
			return v
		}
		v := 0
		for d := '0'; d <= '9' && v != 3; d++ {
			v |= outcomes(n.step(set, d, pos), pos+1)
		}
		memo[key] = v
		return v
	}
	for _, set := range frontier {
		if outcomes(set, prefixDigits) == 3 {
			return false
		}
	}
	return n.ok
}
