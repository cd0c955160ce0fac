package claims

import (
	"context"
	"errors"
	"fmt"

	"github.com/kycvs/kycvs/store"
)

// ErrNoMatch is returned by Registry.Match when nobody registered under the
// mobile number has the given name (or nobody is registered under it at
// all: the two are not told apart, so callers cannot leak which).
var ErrNoMatch = errors.New("claims: no beneficiary with this mobile number and name")

// Registry reads the vaccination registry. It is safe for concurrent use.
type Registry struct {
	st *store.Store
}

// NewRegistry returns a Registry reading st.
func NewRegistry(st *store.Store) *Registry {
	return &Registry{st: st}
}

// Match picks the beneficiary registered under mobileE164 (as NormalizeMobile
// returns it) whose name matches name by NameKey: several people may share a
// mobile, and the name picks one. consent calls it after a valid OTP. It
// returns the beneficiary with its doses; ErrNoMatch when there is none (or
// name is blank); a store error wrapped, so errors.Is(err,
// store.ErrUnavailable) works, which callers must turn into server_error,
// never into a token without the claim. Should two people on one mobile
// share a name key (ParseCSV refuses this within a file), the first by ID is
// returned.
//
// The lookup reads the stored NameKey through the (mobile, name_key)
// index, so it costs the same on a registry of a billion people: a change
// to NameKey's rule needs the stored keys rewritten (a re-import does it).
func (r *Registry) Match(ctx context.Context, mobileE164, name string) (*store.Beneficiary, error) {
	key := NameKey(name)
	if key == "" || mobileE164 == "" {
		return nil, ErrNoMatch
	}
	b, err := r.st.BeneficiaryByNameKey(ctx, mobileE164, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNoMatch
	}
	if err != nil {
		return nil, fmt.Errorf("claims: look up beneficiary by mobile and name: %w", err)
	}
	return b, nil
}

// Beneficiary reads the beneficiary with its doses afresh, so userinfo
// reports the status as it is now, not as it was at sign-in. It returns a
// wrapped store.ErrNotFound when the beneficiary is gone, and other store
// errors wrapped.
func (r *Registry) Beneficiary(ctx context.Context, id string) (*store.Beneficiary, error) {
	b, err := r.st.GetBeneficiary(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("claims: read beneficiary: %w", err)
	}
	return b, nil
}
