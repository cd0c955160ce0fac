package otp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
)

// FileSender appends each SMS to a file as one JSON object per line, for
// development and load tests (ReadSMSFile reads it back). It is safe for
// concurrent use: a mutex serialises writers in this process, and each line
// goes out in a single O_APPEND write, so lines from several server processes
// sharing the file do not interleave either.
type FileSender struct {
	path string
	mu   sync.Mutex
}

var _ Sender = (*FileSender)(nil)

// NewFileSender returns a FileSender appending to path. It creates the file
// (mode 0600: it holds OTPs) if missing and returns an error if path is
// empty or the file cannot be opened for appending, so a bad path fails at
// start-up rather than on the first OTP.
func NewFileSender(path string) (*FileSender, error) {
	if path == "" {
		return nil, errors.New("otp: SMS sender file needs a path: file:PATH")
	}
	s := &FileSender{path: path}
	f, err := s.open()
	if err != nil {
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("otp: SMS file: %w", err)
	}
	return s, nil
}

func (s *FileSender) open() (*os.File, error) {
	f, err := os.OpenFile(s.path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("otp: SMS file: %w", err)
	}
	return f, nil
}

// Send appends msg (SentAt set to now if zero) as one JSON line. The file is
// opened per message, so it may be moved or truncated while the server runs.
// It returns an error if ctx is done or the line could not be written whole.
func (s *FileSender) Send(ctx context.Context, msg SMS) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	line, err := json.Marshal(stamped(msg))
	if err != nil {
		return fmt.Errorf("otp: SMS file: encode: %w", err)
	}
	line = append(line, '\n')

	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.open()
	if err != nil {
		return err
	}
	_, werr := f.Write(line) // one call: a short write returns an error
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		return fmt.Errorf("otp: SMS file: %w", err)
	}
	return nil
}

// ReadSMSFile returns the messages a FileSender wrote to path, oldest first.
// An error wrapping fs.ErrNotExist means nothing was sent yet; a malformed
// line is an error naming its line number. A last line without its newline
// is an append still in progress and is skipped if it does not parse yet.
// Tests and the load tool use it with LastCode.
func ReadSMSFile(path string) ([]SMS, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("otp: read SMS file: %w", err)
	}
	var msgs []SMS
	for n := 1; len(data) > 0; n++ {
		line, rest, complete := bytes.Cut(data, []byte("\n"))
		data = rest
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var msg SMS
		if err := json.Unmarshal(line, &msg); err != nil {
			if !complete {
				break
			}
			return nil, fmt.Errorf("otp: read SMS file: line %d: %w", n, err)
		}
		msgs = append(msgs, msg)
	}
	return msgs, nil
}
