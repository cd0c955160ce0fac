package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
)

// A client's sector_identifier_uri names the sector its pairwise subjects
// are computed for (claims.Sector takes its host). A client could name
// another client's sector and receive the same subs, so OIDC Core 8.1 has
// the provider fetch the document there, a JSON array of redirect URIs,
// and accept the registration only when it lists every redirect URI of
// the client: only whoever controls the sector's host can put a client in
// it. The fetch has the jwks_uri fetch's limits (JWKSFetchConfig): https,
// public addresses after DNS, no redirects, a time and size limit.

// maxSectorURIs bounds the URIs read from one document.
const maxSectorURIs = 1000

// sectorFetcher fetches sector identifier documents.
type sectorFetcher struct {
	cfg  JWKSFetchConfig
	http *http.Client
}

func newSectorFetcher(cfg JWKSFetchConfig) *sectorFetcher {
	cfg.defaults()
	return &sectorFetcher{cfg: cfg, http: guardedHTTPClient(cfg.Timeout, cfg.RootCAs, cfg.AllowPrivateAddresses, "sector_identifier_uri")}
}

// check fetches uri and returns a problem (as a ValidationError lists
// them) when it is not a JSON array of URIs listing every one of
// redirectURIs; "" when it is.
func (f *sectorFetcher) check(ctx context.Context, uri string, redirectURIs []string) string {
	body, err := fetchDocument(ctx, f.http, f.cfg, uri, "application/json")
	if err != nil {
		var ue interface{ Timeout() bool }
		if errors.As(err, &ue) && ue.Timeout() {
			return fmt.Sprintf("sector identifier %q: no answer within %s", uri, f.cfg.Timeout)
		}
		return fmt.Sprintf("sector identifier %q: could not be fetched: %v", uri, unwrapURLError(err))
	}
	var listed []string
	if err := json.Unmarshal(body, &listed); err != nil || len(listed) > maxSectorURIs {
		return fmt.Sprintf("sector identifier %q: not a JSON array of at most %d URIs (OIDC Core 8.1)", uri, maxSectorURIs)
	}
	for _, r := range redirectURIs {
		if !slices.Contains(listed, r) {
			return fmt.Sprintf("sector identifier %q: does not list redirect URI %q (OIDC Core 8.1: it must list every one)", uri, r)
		}
	}
	return ""
}

// unwrapURLError drops net/http's "Get \"URL\":" prefix, which repeats
// the URI the message already names.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// sectorKey is what a sector check covered: the URI and the redirect URIs
// it was checked against.
type sectorKey struct {
	uri       string
	redirects []string
}

func (k *sectorKey) covers(s ClientSpec) bool {
	return k != nil && k.uri == s.SectorIdentifier && slices.Equal(k.redirects, s.RedirectURIs)
}

// errSectorUnchecked asks Update to check a sector outside its
// transaction and try again.
type errSectorUnchecked struct{ key sectorKey }

func (e *errSectorUnchecked) Error() string { return "oauth: sector identifier not yet checked" }

// needsSectorCheck reports whether spec's sector identifier must be
// fetched: when set, and new or with other redirect URIs than was.
// Clients registered before the check keep their sector until either
// changes.
func needsSectorCheck(spec ClientSpec, was ClientSpec) bool {
	if spec.SectorIdentifier == "" {
		return false
	}
	return spec.SectorIdentifier != was.SectorIdentifier || !sameSet(spec.RedirectURIs, was.RedirectURIs)
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}
