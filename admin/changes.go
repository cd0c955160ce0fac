package admin

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/kycvs/kycvs/claims"
	"github.com/kycvs/kycvs/store"
)

// maxChangeLineBytes bounds one line of a change feed: a beneficiary with
// ten doses is well under 4 KiB; the bound keeps a line without an end
// from being buffered whole.
const maxChangeLineBytes = 16 << 10

// maxChangeErrors bounds the bad lines a ChangesError lists; Total counts
// them all.
const maxChangeErrors = 1000

// Change is one line of a registry change feed (NDJSON): an upsert carries
// the beneficiary's whole record, which replaces what is stored; a delete
// only the ID. Both are idempotent, so a feed may be sent again after a
// failure.
type Change struct {
	Op          string     `json:"op"` // "upsert" or "delete"
	ID          string     `json:"beneficiary_id"`
	Mobile      string     `json:"mobile,omitempty"`
	Name        string     `json:"name,omitempty"`
	YearOfBirth int        `json:"year_of_birth,omitempty"`
	Doses       []DoseJSON `json:"doses,omitempty"`
}

// ChangesError lists the bad lines of a change batch (the first 1,000;
// Total counts all). Nothing of the batch was applied.
type ChangesError struct {
	Errors []claims.LineError
	Total  int
}

func (e *ChangesError) Error() string {
	return fmt.Sprintf("registry changes: %d bad line(s), nothing applied", e.Total)
}

func (e *ChangesError) add(line int, msg string) {
	e.Total++
	if len(e.Errors) < maxChangeErrors {
		e.Errors = append(e.Errors, claims.LineError{Line: line, Msg: msg})
	}
}

// ApplyChanges applies a batch of registry changes, NDJSON read from r one
// line at a time (memory does not grow with the batch), in one transaction
// with one audit entry. Each upsert is checked by the rules of a registry
// CSV (claims.CheckBeneficiary) and must not give a mobile a second person
// of the same name; an unchanged upsert writes nothing; a delete of an
// unknown ID is counted as unchanged. Lines apply in order, so a later
// line about one beneficiary wins. Blank lines are skipped.
//
// A batch with any bad line is a *ChangesError listing every bad line (the
// rest are still checked) and nothing is applied; an error reading r is
// returned as it is (an *http.MaxBytesError for a body too large).
func (s *Service) ApplyChanges(ctx context.Context, a Actor, r io.Reader) (store.ImportResult, error) {
	h := sha256.New()
	var res store.ImportResult
	bad := &ChangesError{}
	err := s.st.InTx(ctx, func(ctx context.Context) error {
		br := bufio.NewReaderSize(io.TeeReader(r, h), maxChangeLineBytes)
		for line := 1; ; line++ {
			raw, err := br.ReadSlice('\n')
			if errors.Is(err, bufio.ErrBufferFull) {
				bad.add(line, fmt.Sprintf("longer than %d bytes; stopped reading", maxChangeLineBytes))
				break
			}
			if err != nil && !errors.Is(err, io.EOF) {
				return err
			}
			if len(bytes.TrimSpace(raw)) > 0 {
				if err := s.applyChange(ctx, line, raw, bad, &res); err != nil {
					return err
				}
			}
			if errors.Is(err, io.EOF) {
				break
			}
		}
		if bad.Total > 0 {
			return bad
		}
		if res == (store.ImportResult{}) {
			return &ChangesError{Errors: []claims.LineError{{Line: 1, Msg: "empty batch: send one JSON object per line"}}, Total: 1}
		}
		return s.audit(ctx, a, "registry.changes", "registry", "", map[string]any{
			"created": res.Created, "updated": res.Updated, "unchanged": res.Unchanged, "deleted": res.Deleted,
			"doses": res.Doses, "sha256": hex.EncodeToString(h.Sum(nil)),
		})
	})
	if err != nil {
		return store.ImportResult{}, err
	}
	return res, nil
}

// applyChange checks one line and, while the batch has no bad line,
// applies it. Problems go to bad; the error is the store's.
func (s *Service) applyChange(ctx context.Context, line int, raw []byte, bad *ChangesError, res *store.ImportResult) error {
	var ch Change
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ch); err != nil {
		bad.add(line, "not a change: "+jsonProblem(err))
		return nil
	}
	if dec.More() {
		bad.add(line, "more than one JSON value on the line")
		return nil
	}
	switch ch.Op {
	case "delete":
		return s.applyDelete(ctx, line, ch, bad, res)
	case "upsert":
		return s.applyUpsert(ctx, line, ch, bad, res)
	default:
		bad.add(line, `op: want "upsert" or "delete"`)
		return nil
	}
}

// applyDelete checks a delete, which names only the beneficiary, and
// deletes it while the batch has no bad line; one already gone is
// unchanged.
func (s *Service) applyDelete(ctx context.Context, line int, ch Change, bad *ChangesError, res *store.ImportResult) error {
	id := strings.TrimSpace(ch.ID)
	if id == "" {
		bad.add(line, "beneficiary_id: empty")
		return nil
	}
	if ch.Mobile != "" || ch.Name != "" || ch.YearOfBirth != 0 || len(ch.Doses) > 0 {
		bad.add(line, "a delete carries only op and beneficiary_id")
		return nil
	}
	if bad.Total > 0 {
		return nil
	}
	err := s.st.DeleteBeneficiary(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		res.Unchanged++
	case err != nil:
		return err
	default:
		res.Deleted++
	}
	return nil
}

// applyUpsert checks an upsert's beneficiary as a whole record and, while
// the batch has no bad line, writes it unless it is stored as it is.
func (s *Service) applyUpsert(ctx context.Context, line int, ch Change, bad *ChangesError, res *store.ImportResult) error {
	in := beneficiaryInput{ID: ch.ID, Mobile: ch.Mobile, Name: ch.Name, YearOfBirth: ch.YearOfBirth, Doses: ch.Doses}.input()
	b, problems := claims.CheckBeneficiary(in.ID, in.Mobile, in.Name, in.YearOfBirth, in.Doses)
	for _, p := range problems {
		bad.add(line, p)
	}
	if b == nil {
		return nil
	}
	// Another person on the mobile with this name, stored or earlier in
	// this batch (already applied in the transaction), could not be told
	// apart at sign-in.
	other, err := s.st.BeneficiaryByNameKey(ctx, b.Mobile, b.NameKey)
	switch {
	case err == nil && other.ID != b.ID:
		bad.add(line, fmt.Sprintf("name: beneficiary %s has the same mobile and name; they could not be told apart at sign-in", other.ID))
		return nil
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return err
	}
	if bad.Total > 0 {
		return nil
	}
	old, err := s.st.GetBeneficiary(ctx, b.ID)
	switch {
	case err == nil && bytes.Equal(old.ContentHash, store.ContentHash(b)):
		res.Unchanged++
		return nil
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return err
	}
	w, err := s.st.ReplaceBeneficiaries(ctx, []store.Beneficiary{*b})
	if err != nil {
		return err
	}
	res.Created += w.Created
	res.Updated += w.Updated
	res.Doses += w.Doses
	return nil
}
