package claims

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kycvs/kycvs/store"
)

// ImportOptions tune Import. The zero value adds and updates, deletes
// nothing and reports no progress.
type ImportOptions struct {
	// DeleteMissing, MaxDeleteFraction, Force and Sorted: see
	// store.ImportOptions. With Sorted, a file out of order fails with
	// store.ErrNotSorted and applies nothing.
	DeleteMissing     bool
	MaxDeleteFraction float64
	Force             bool
	Sorted            bool
	// Progress, when set, is kept up to date as the import runs.
	Progress *Progress
	// BeforeCommit: see store.ImportOptions.
	BeforeCommit func(ctx context.Context, res store.ImportResult) error
}

// Import streams a registry CSV (ReadCSV) into st with
// store.ImportRegistry, in one transaction: new beneficiaries are created,
// changed ones updated, unchanged ones counted and left alone, and with
// DeleteMissing the ones the file does not name are deleted. Memory does
// not grow with the file.
//
// If any line is bad, in itself or across the file, it returns an
// *ImportError listing them and nothing is applied; a refused deletion is a
// *store.DeleteLimitError; an error reading r or from the store is
// returned wrapped. Either way nothing is applied.
func Import(ctx context.Context, st *store.Store, r io.Reader, opts ImportOptions) (store.ImportResult, error) {
	prog := opts.Progress
	if prog == nil {
		prog = &Progress{}
	}
	r = &countingReader{r: r, p: prog}
	records, readErr, stop := readAhead(r, prog)
	defer stop()
	res, err := st.ImportRegistry(ctx, records, store.ImportOptions{
		DeleteMissing:     opts.DeleteMissing,
		MaxDeleteFraction: opts.MaxDeleteFraction,
		Force:             opts.Force,
		Sorted:            opts.Sorted,
		Phase:             prog.setPhase,
		BeforeCommit: func(ctx context.Context, res store.ImportResult) error {
			var ie *ImportError
			if errors.As(*readErr, &ie) {
				return ie
			}
			if opts.BeforeCommit != nil {
				return opts.BeforeCommit(ctx, res)
			}
			return nil
		},
	})
	stop() // the reader is done before its result is read
	var ie *ImportError
	var ce *store.ImportConflictError
	switch {
	case errors.As(err, &ce):
		errors.As(*readErr, &ie)
		prog.finish("failed")
		return store.ImportResult{}, mergeImportErrors(ie, ce)
	case errors.As(err, &ie):
		prog.finish("failed")
		return store.ImportResult{}, ie
	case err != nil:
		prog.finish("failed")
		var de *store.DeleteLimitError
		if errors.As(err, &de) {
			return store.ImportResult{}, err
		}
		return store.ImportResult{}, fmt.Errorf("claims: import registry: %w", err)
	}
	prog.finish("done")
	return res, nil
}

var errStopped = errors.New("claims: import stopped")

// readAheadBatch is how many records the reader hands over at a time, and
// readAheadBatches how many batches it may be ahead of the store: enough to
// keep both busy, a few hundred kilobytes at most.
const (
	readAheadBatch   = 256
	readAheadBatches = 4
)

// readAhead reads the CSV (ReadCSV) on a goroutine of its own, so that
// reading and checking the file runs on one core while the store encodes
// and writes the records on another. next returns the records in file
// order, then an error reading r, then io.EOF. readErr is ReadCSV's
// result (an *ImportError when a line was bad), set once next has
// returned io.EOF or the error. stop ends the read early and waits for
// the goroutine; call it before returning.
func readAhead(r io.Reader, prog *Progress) (next func() (*store.ImportRecord, error), readErr *error, stop func()) {
	batches := make(chan []*store.ImportRecord, readAheadBatches)
	done := make(chan struct{})
	var wg sync.WaitGroup
	readErr = new(error)
	var ioErr error // an error reading r, handed to next after the records
	wg.Go(func() {
		defer close(batches)
		batch := make([]*store.ImportRecord, 0, readAheadBatch)
		send := func() bool {
			select {
			case batches <- batch:
				batch = make([]*store.ImportRecord, 0, readAheadBatch)
				return true
			case <-done:
				return false
			}
		}
		err := ReadCSV(r, func(rec *store.ImportRecord) error {
			prog.records.Add(1)
			if batch = append(batch, rec); len(batch) == readAheadBatch && !send() {
				return errStopped
			}
			return nil
		})
		if len(batch) > 0 && !errors.Is(err, errStopped) {
			send()
		}
		var ie *ImportError
		if err != nil && !errors.As(err, &ie) && !errors.Is(err, errStopped) {
			ioErr = err
		}
		*readErr = err
	})
	var cur []*store.ImportRecord
	next = func() (*store.ImportRecord, error) {
		for len(cur) == 0 {
			b, ok := <-batches
			if !ok {
				// Closed after readErr and ioErr were set.
				if ioErr != nil {
					return nil, ioErr
				}
				return nil, io.EOF
			}
			cur = b
		}
		rec := cur[0]
		cur = cur[1:]
		return rec, nil
	}
	var once sync.Once
	stop = func() {
		once.Do(func() { close(done) })
		wg.Wait()
	}
	return next, readErr, stop
}

// Progress is how far an import has come, for a progress bar or a status
// page. Its methods are safe to call while the import updates it.
type Progress struct {
	// Size is the input's size in bytes when known (0 when not), for an
	// estimate of the time left; set it before the import starts.
	Size int64

	bytes, lines, records atomic.Int64
	mu                    sync.Mutex
	phase                 string
	started, ended        time.Time
}

// ProgressSnapshot is Progress at one moment.
type ProgressSnapshot struct {
	Phase   string    `json:"phase"` // loading, checking, merging, indexing, deleting, committing, done, failed
	Bytes   int64     `json:"bytes"` // bytes of the input read
	Size    int64     `json:"size,omitempty"`
	Lines   int64     `json:"lines"`   // lines read, the header included
	Records int64     `json:"records"` // beneficiaries read
	Started time.Time `json:"started"`
	// Elapsed and the rate are up to now, or to the end once ended.
	Elapsed    time.Duration `json:"-"`
	LinesPerS  float64       `json:"lines_per_second"`
	ETASeconds float64       `json:"eta_seconds,omitempty"`
}

// Snapshot returns the progress now.
func (p *Progress) Snapshot() ProgressSnapshot {
	p.mu.Lock()
	phase, started, ended := p.phase, p.started, p.ended
	p.mu.Unlock()
	if phase == "" {
		phase = "starting"
	}
	s := ProgressSnapshot{Phase: phase, Bytes: p.bytes.Load(), Size: p.Size, Lines: p.lines.Load(), Records: p.records.Load(), Started: started}
	if started.IsZero() {
		return s
	}
	end := ended
	if end.IsZero() {
		end = time.Now()
	}
	s.Elapsed = end.Sub(started)
	if secs := s.Elapsed.Seconds(); secs > 0 {
		s.LinesPerS = float64(s.Lines) / secs
		if phase == "loading" && s.Size > 0 && s.Bytes > 0 {
			s.ETASeconds = secs * float64(s.Size-s.Bytes) / float64(s.Bytes)
		}
	}
	return s
}

func (p *Progress) setPhase(phase string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.started.IsZero() {
		p.started = time.Now()
	}
	p.phase = phase
}

func (p *Progress) finish(phase string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.started.IsZero() {
		p.started = time.Now()
	}
	p.phase, p.ended = phase, time.Now()
}

// countingReader counts the bytes and lines read through it.
type countingReader struct {
	r io.Reader
	p *Progress
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.p.bytes.Add(int64(n))
	c.p.lines.Add(int64(bytes.Count(b[:n], []byte{'\n'})))
	return n, err
}
