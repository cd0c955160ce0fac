package main

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kycvs/kycvs/admin"
	"github.com/kycvs/kycvs/claims"
	"github.com/kycvs/kycvs/store"
)

const registryUsage = "usage: kycvs registry import FILE.csv|FILE.csv.gz|- [--delete-missing [--max-delete-fraction F] [--force]] | registry end-sessions BENEFICIARY_ID"

// runEndSessions signs a person out everywhere (admin.Service.EndSessions):
// their browser sessions end and the clients they signed in to are sent
// logout tokens by the running servers, which read the queue.
func runEndSessions(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("registry end-sessions", stderr)
	var d dbFlags
	d.register(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parseFlags(fs, args, 1)
	if err != nil {
		return err
	}
	id := first(pos)
	if id == "" {
		return usageError{registryUsage}
	}
	st, err := openCLIStore(ctx, &d, false)
	if err != nil {
		return err
	}
	defer st.Close()
	ended, err := cliService(st, d.Secret, nil).EndSessions(ctx, cliActor(), id)
	if err != nil {
		return notFoundAs(err, "beneficiary", id)
	}
	if *asJSON {
		return writeJSON(stdout, ended)
	}
	fmt.Fprintf(stdout, "ended %d sessions of beneficiary %s; %d logout tokens queued for its clients\n", ended.Sessions, id, ended.LogoutTokens)
	return nil
}

// stdin is the standard input `registry import -` reads; tests replace it.
var stdin io.Reader = os.Stdin

func runRegistry(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "end-sessions" {
		return runEndSessions(ctx, args[1:], stdout, stderr)
	}
	if len(args) == 0 || args[0] != "import" {
		return usageError{registryUsage}
	}
	return runImport(ctx, args[1:], stdout, stderr)
}

// runImport is `kycvs registry import`: the registry from a CSV file,
// through the admin service, so the import is in the audit log.
func runImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("registry import", stderr)
	var d dbFlags
	d.register(fs)
	deleteMissing := fs.Bool("delete-missing", false, "make the file the whole registry: delete the beneficiaries it does not name")
	maxDelete := fs.Float64("max-delete-fraction", admin.DefaultMaxDeleteFraction, "with --delete-missing, refuse to delete more than this fraction of the registry")
	force := fs.Bool("force", false, "with --delete-missing, delete however many the file leaves out")
	progressEvery := fs.Duration("progress-every", 10*time.Second, "when standard error is not a terminal, print a progress line this often (0: never)")
	pos, err := parseFlags(fs, args, 1)
	if err != nil {
		return err
	}
	file := first(pos)
	if file == "" {
		return usageError{registryUsage}
	}
	if !(*maxDelete >= 0 && *maxDelete <= 1) {
		return usageError{"--max-delete-fraction: want a number from 0 to 1"}
	}
	if (*force || fs.Lookup("max-delete-fraction").Value.String() != fs.Lookup("max-delete-fraction").DefValue) && !*deleteMissing {
		return usageError{"--force and --max-delete-fraction go with --delete-missing"}
	}
	if err := d.resolve(false); err != nil {
		return err
	}
	src, err := openImportSource(file)
	if err != nil {
		return err
	}
	defer func() { src.close() }()
	st, err := openStore(ctx, d.DatabaseURL, false)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := checkSchema(ctx, st); err != nil {
		return err
	}

	// A file that can be read twice is first taken as sorted by
	// beneficiary_id, as registry exports are: a re-import then sends only
	// what changed to the database. One out of order is read again.
	sorted := src.size > 0
	var res store.ImportResult
	var prog *claims.Progress
	for {
		prog = &claims.Progress{}
		stopProgress := showProgress(stderr, prog, src.raw, src.size, *progressEvery)
		res, err = cliService(st, d.Secret, nil).ImportRegistry(ctx, cliActor(), src.Reader, claims.ImportOptions{
			DeleteMissing: *deleteMissing, MaxDeleteFraction: *maxDelete, Force: *force, Sorted: sorted, Progress: prog,
		})
		stopProgress()
		var unsorted *store.NotSortedError
		if !sorted || !errors.As(err, &unsorted) {
			break
		}
		fmt.Fprintf(stderr, "%s: %v: reading it again, unsorted\n", src.name, unsorted)
		src.close()
		if src, err = openImportSource(file); err != nil {
			return err
		}
		sorted = false
	}
	var ie *claims.ImportError
	if errors.As(err, &ie) {
		return fmt.Errorf("%s: nothing was imported:\n%v", src.name, err)
	}
	if errors.Is(err, store.ErrTooManyDeletes) {
		return fmt.Errorf("%s: %v", src.name, err)
	}
	if err != nil {
		return err
	}
	printImported(stdout, src.name, res, prog.Snapshot())
	return nil
}

// importSource is the file `registry import` reads (standard input for
// "-"), decompressed when its name ends in .gz.
type importSource struct {
	io.Reader
	// name is the file's, as messages say it.
	name string
	// raw counts the bytes of the file as stored, compressed or not, and
	// size is the file's size (0: unknown), for the share done and the
	// time left.
	raw     *byteCounter
	size    int64
	closers []io.Closer
}

// openImportSource opens file; the caller closes it.
func openImportSource(file string) (*importSource, error) {
	src := &importSource{name: file, raw: &byteCounter{}}
	if file == "-" {
		src.name = "standard input"
		src.Reader = io.TeeReader(stdin, src.raw)
	} else {
		f, err := os.Open(file)
		if err != nil {
			return nil, err
		}
		src.closers = append(src.closers, f)
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			src.size = fi.Size()
		}
		src.Reader = io.TeeReader(f, src.raw)
	}
	if strings.HasSuffix(file, ".gz") {
		zr, err := gzip.NewReader(src.Reader)
		if err != nil {
			src.close()
			return nil, fmt.Errorf("%s: not a gzip file: %w", src.name, err)
		}
		src.closers = append(src.closers, zr)
		src.Reader = zr
	}
	return src, nil
}

// close closes the decompressor, then the file.
func (s *importSource) close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i].Close()
	}
}

// printImported prints an import's counts and speed.
func printImported(w io.Writer, name string, res store.ImportResult, snap claims.ProgressSnapshot) {
	rate := 0.0
	if s := snap.Elapsed.Seconds(); s > 0 {
		rate = float64(snap.Records) / s
	}
	fmt.Fprintf(w, "imported %s: %d beneficiaries created, %d updated, %d unchanged, %d deleted, %d doses written; %d rows in %s (%.0f beneficiaries/s)\n",
		name, res.Created, res.Updated, res.Unchanged, res.Deleted, res.Doses,
		max(snap.Lines-1, 0), snap.Elapsed.Round(100*time.Millisecond), rate)
}

// byteCounter counts the bytes written to it.
type byteCounter struct{ n atomic.Int64 }

func (c *byteCounter) Write(b []byte) (int, error) {
	c.n.Add(int64(len(b)))
	return len(b), nil
}

// showProgress reports an import's progress on w until the returned
// function is called: a bar redrawn in place when w is a terminal, else a
// plain line every `every` (none when every is 0). raw and size are the
// bytes read and the size of the file as stored (0: unknown, no estimate).
func showProgress(w io.Writer, p *claims.Progress, raw *byteCounter, size int64, every time.Duration) func() {
	tty := isTerminal(w)
	if !tty && every <= 0 {
		return func() {}
	}
	interval := every
	if tty {
		interval = 250 * time.Millisecond
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				if tty {
					fmt.Fprintf(w, "\r%s\n", progressLine(p.Snapshot(), raw.n.Load(), size, true))
				}
				return
			case <-t.C:
				line := progressLine(p.Snapshot(), raw.n.Load(), size, tty)
				if tty {
					fmt.Fprintf(w, "\r%s\x1b[K", line)
				} else {
					fmt.Fprintln(w, line)
				}
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
	}
}

// progressLine renders one progress report: phase, share done (with a bar
// on a terminal), rows, rows per second and the time left.
func progressLine(s claims.ProgressSnapshot, read, size int64, bar bool) string {
	var b strings.Builder
	rows := max(s.Lines-1, 0)
	rate := 0.0
	if secs := s.Elapsed.Seconds(); secs > 0 {
		rate = float64(rows) / secs
	}
	if size > 0 {
		frac := min(float64(read)/float64(size), 1)
		if bar {
			const width = 30
			n := int(frac * width)
			b.WriteString("[" + strings.Repeat("=", n) + strings.Repeat(" ", width-n) + "] ")
		}
		fmt.Fprintf(&b, "%3.0f%% ", 100*frac)
	}
	fmt.Fprintf(&b, "%s: %d rows, %d beneficiaries, %.0f rows/s", s.Phase, rows, s.Records, rate)
	if s.Phase == "loading" && size > 0 && read > 0 && s.Elapsed > 0 {
		left := time.Duration(float64(s.Elapsed) * float64(size-read) / float64(read))
		fmt.Fprintf(&b, ", about %s left to read", left.Round(time.Second))
	}
	return b.String()
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
