package claims

import (
	"bufio"
	"cmp"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/kycvs/kycvs/store"
)

// A registry file is read on one goroutine and checked on several: the
// reader cuts the rows into chunks, each ending where a beneficiary's rows
// end, a worker per CPU checks a chunk as ReadCSV's one parser would (a
// beneficiary's rows are all in one chunk, so its cross-row checks hold),
// and the caller's goroutine hands the chunks' beneficiaries and problems
// on in file order. Checking a row (the mobile against the numbering plan,
// the name's key, the dates) costs several times reading it, and a
// national registry has a billion rows.

// chunkRows is about how many rows a chunk holds: enough that handing it
// over costs little, few enough that the chunks in flight (two per
// worker) stay within a few megabytes.
const chunkRows = 512

// rawRow is one record as the CSV reader gave it, or a problem the reader
// found on line (fields nil): a line too long, bad quoting, a wrong header.
type rawRow struct {
	line   int
	fields []string
	msg    string
}

// csvChunk is a run of rows for one worker, and where its result goes.
type csvChunk struct {
	rows []rawRow
	// cut: the read stopped with an error reading the input after these
	// rows; the last beneficiary may have had more rows, so it is not
	// handed on (as the one parser would not).
	cut bool
	out chan chunkResult
}

// chunkResult is what checking a chunk found: its good beneficiaries in
// file order and its problems (the first maxErrorsKept, and how many).
type chunkResult struct {
	recs  []*store.ImportRecord
	errs  []LineError
	total int
}

// readCSV is ReadCSV with workers checking goroutines and chunks of about
// chunk rows. One worker and chunks larger than the file are the plain
// sequential read (TestReadCSVInChunks compares the two).
func readCSV(r io.Reader, fn func(*store.ImportRecord) error, workers, chunk int) error {
	workers = max(workers, 1)
	jobs := make(chan csvChunk, workers)
	order := make(chan chan chunkResult, 2*workers)
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() { checkChunks(jobs) })
	}
	var headerSeen bool
	var ioErr error
	wg.Go(func() {
		defer close(order)
		defer close(jobs)
		headerSeen, ioErr = splitCSV(r, chunk, jobs, order, done)
	})

	var fnErr error
	var errs []LineError
	total := 0
	for out := range order {
		res := <-out
		total += res.total
		if room := maxErrorsKept - len(errs); room > 0 {
			errs = append(errs, res.errs[:min(room, len(res.errs))]...)
		}
		for _, rec := range res.recs {
			if fnErr != nil {
				break
			}
			if fnErr = fn(rec); fnErr != nil {
				close(done) // the reader stops; the chunks in flight drain
			}
		}
	}
	wg.Wait()
	switch {
	case fnErr != nil:
		return fnErr
	case ioErr != nil:
		return fmt.Errorf("read registry CSV: %w", ioErr)
	}
	if !headerSeen && total == 0 {
		total, errs = 1, []LineError{{Line: 1, Msg: "empty file: header " + strings.Join(csvHeader, ",") + " is missing"}}
	}
	if total > 0 {
		// Stable: problems on one line keep their column order.
		slices.SortStableFunc(errs, func(a, b LineError) int { return cmp.Compare(a.Line, b.Line) })
		return &ImportError{Errors: errs, Total: total}
	}
	return nil
}

// splitCSV reads r into chunks for jobs, in order, each chunk's result
// channel queued on order, until the end of the input, a problem that
// stops the read, or done. It reports whether the header was read and an
// error reading r.
func splitCSV(r io.Reader, chunk int, jobs chan<- csvChunk, order chan<- chan chunkResult, done <-chan struct{}) (headerSeen bool, ioErr error) {
	lr := &lineLimitReader{r: r, max: maxLineBytes, line: 1}
	br := bufio.NewReaderSize(lr, 256<<10)
	if b, err := br.Peek(3); err == nil && string(b) == "\uFEFF" {
		br.Discard(3)
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1 // counted by the parser, to report it like every other problem
	cr.ReuseRecord = true

	rows := make([]rawRow, 0, min(chunk, chunkRows)+16)
	send := func(cut bool) bool {
		if len(rows) == 0 {
			return true
		}
		out := make(chan chunkResult, 1)
		select {
		case order <- out:
		case <-done:
			return false
		}
		jobs <- csvChunk{rows: rows, cut: cut, out: out}
		rows = make([]rawRow, 0, min(chunk, chunkRows)+16)
		return true
	}
	// curID is the beneficiary the parser would be assembling: a chunk is
	// cut only before a well-formed row that starts another one, where the
	// parser hands the last one on before it checks anything of the row.
	curID := ""
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		var tooLong *lineTooLongError
		if errors.As(err, &tooLong) {
			rows = append(rows, rawRow{line: tooLong.line, msg: fmt.Sprintf("line longer than %d bytes; stopped reading", maxLineBytes)})
			break
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			rows = append(rows, rawRow{line: pe.StartLine, msg: "not valid CSV: " + pe.Err.Error()})
			if !headerSeen {
				break
			}
			continue
		}
		if err != nil {
			send(true)
			return headerSeen, err
		}
		line, _ := cr.FieldPos(0)
		if !headerSeen {
			headerSeen = true
			if !isHeader(rec) {
				rows = append(rows, rawRow{line: line, msg: "header must be exactly " + strings.Join(csvHeader, ",")})
				break
			}
			continue
		}
		if len(rec) == len(csvHeader) {
			id := strings.TrimSpace(rec[0])
			if id != curID && len(rows) >= chunk && !send(false) {
				return headerSeen, nil
			}
			curID = id
		}
		rows = append(rows, rawRow{line: line, fields: slices.Clone(rec)})
	}
	send(false)
	return headerSeen, nil
}

// checkChunks checks the chunks of jobs, one parser for all of them (its
// last mobile and name carry over, which only saves work).
func checkChunks(jobs <-chan csvChunk) {
	p := newParser()
	for job := range jobs {
		var res chunkResult
		p.emit = func(rec *store.ImportRecord) error {
			res.recs = append(res.recs, rec)
			return nil
		}
		p.errs, p.total, p.cur = nil, 0, nil
		for _, row := range job.rows {
			if row.fields == nil {
				p.fail(row.line, row.msg)
				continue
			}
			p.row(row.line, row.fields)
		}
		if job.cut {
			p.cur = nil
		}
		p.flush()
		res.errs, res.total = p.errs, p.total
		job.out <- res
	}
}
