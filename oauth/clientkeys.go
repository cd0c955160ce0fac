package oauth

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"syscall"
	"time"
)

// JWKSFetchConfig bounds how kycvs fetches a client's jwks_uri: the URL
// is the client's to choose, so the fetch must not become a way into the
// private network (SSRF) or a way to hold a server process.
type JWKSFetchConfig struct {
	// Timeout bounds one fetch, connection to last byte; default 5 s.
	Timeout time.Duration
	// MaxBytes bounds the body; default 64 KiB.
	MaxBytes int64
	// CacheTTL is how long a fetched set is used before it is fetched
	// again; default 5 minutes. An unknown kid refreshes sooner.
	CacheTTL time.Duration
	// AllowPrivateAddresses lets a jwks_uri resolve to loopback, private
	// or link-local addresses: for tests and closed networks only.
	AllowPrivateAddresses bool
	// RootCAs replaces the system roots (tests); nil uses the system's.
	RootCAs *x509.CertPool
}

func (c *JWKSFetchConfig) defaults() {
	if c.Timeout == 0 {
		c.Timeout = 5 * time.Second
	}
	if c.MaxBytes == 0 {
		c.MaxBytes = maxJWKSBytes
	}
	if c.CacheTTL == 0 {
		c.CacheTTL = 5 * time.Minute
	}
}

// minRefresh is the least time between two fetches of one jwks_uri forced
// by unknown kids (the first is at once), so assertions with made-up kids cannot turn kycvs into
// a request generator against the client's server.
const minRefresh = 10 * time.Second

// ClientKeys resolves the public keys of private_key_jwt clients: the
// registered jwks, or the jwks_uri fetched over https and cached. Safe for
// concurrent use; each process keeps its own cache.
type ClientKeys struct {
	cfg    JWKSFetchConfig
	http   *http.Client
	now    func() time.Time
	mu     sync.Mutex
	cached map[string]*cachedSet
}

type cachedSet struct {
	keys      *keySet
	fetchedAt time.Time
	// forcedAt is the last fetch an unknown kid asked for.
	forcedAt time.Time
	// fetch serialises fetches of one URI.
	fetch sync.Mutex
}

// NewClientKeys returns a resolver that fetches with cfg's limits.
func NewClientKeys(cfg JWKSFetchConfig, now func() time.Time) *ClientKeys {
	cfg.defaults()
	if now == nil {
		now = time.Now
	}
	return &ClientKeys{
		cfg:    cfg,
		http:   guardedHTTPClient(cfg.Timeout, cfg.RootCAs, cfg.AllowPrivateAddresses, "jwks_uri"),
		now:    now,
		cached: map[string]*cachedSet{},
	}
}

// guardedHTTPClient is the HTTP client for addresses a client registered
// (jwks_uri, backchannel_logout_uri; what names them in errors): every
// step within timeout, TLS 1.2 or later, no redirects, and, unless
// allowPrivate, only publicly routable addresses.
func guardedHTTPClient(timeout time.Duration, roots *x509.CertPool, allowPrivate bool, what string) *http.Client {
	dialer := &net.Dialer{Timeout: timeout}
	if !allowPrivate {
		// The check runs on the address actually dialled, after DNS, so
		// a name that resolves to 127.0.0.1 or 169.254.169.254 is refused
		// too (DNS rebinding included).
		dialer.Control = func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return err
			}
			if !isPublicAddr(ap.Addr()) {
				return fmt.Errorf("%s resolves to a non-public address", what)
			}
			return nil
		}
	}
	transport := &http.Transport{
		DialContext:           dialer.DialContext,
		TLSClientConfig:       &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
		MaxIdleConnsPerHost:   2,
		IdleConnTimeout:       time.Minute,
	}
	return &http.Client{
		Transport: transport,
		Timeout:   timeout,
		// A redirect could lead anywhere the first check did not see.
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return fmt.Errorf("%s redirects are not followed", what)
		},
	}
}

// fetchDocument GETs uri (https only) with client and returns its body,
// refusing a status other than 200 and a body over maxBytes.
func fetchDocument(ctx context.Context, client *http.Client, cfg JWKSFetchConfig, uri, accept string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return nil, err
	}
	if req.URL.Scheme != "https" {
		return nil, errors.New("not https")
	}
	req.Header.Set("Accept", accept)
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, cfg.MaxBytes+1))
	if err != nil {
		return nil, err
	}
	if int64(len(body)) > cfg.MaxBytes {
		return nil, fmt.Errorf("larger than %d bytes", cfg.MaxBytes)
	}
	return body, nil
}

// isPublicAddr reports whether a is a globally routable unicast address.
func isPublicAddr(a netip.Addr) bool {
	a = a.Unmap()
	return a.IsGlobalUnicast() && !a.IsPrivate() && !a.IsLoopback() && !a.IsLinkLocalUnicast() &&
		!netip.MustParsePrefix("100.64.0.0/10").Contains(a) // carrier-grade NAT
}

// Keys returns the client's key set. For a jwks_uri it answers from the
// cache while fresh; refresh asks for a new fetch (an assertion named a
// kid the cached set lacks), which is granted at most once per minRefresh.
// A failed fetch is an error; a stale cached set is not used past
// CacheTTL.
func (k *ClientKeys) Keys(ctx context.Context, c *Client, refresh bool) (*keySet, error) {
	if c.JWKS != "" {
		return parseKeySet([]byte(c.JWKS))
	}
	if c.JWKSURI == "" {
		return nil, &jwksFetchError{errors.New("the client has registered no keys")}
	}
	k.mu.Lock()
	e := k.cached[c.JWKSURI]
	if e == nil {
		e = &cachedSet{}
		k.cached[c.JWKSURI] = e
	}
	k.mu.Unlock()
	e.fetch.Lock()
	defer e.fetch.Unlock()
	now := k.now()
	fresh := e.keys != nil && now.Sub(e.fetchedAt) < k.cfg.CacheTTL
	if fresh && (!refresh || now.Sub(e.forcedAt) < minRefresh) {
		return e.keys, nil
	}
	ks, err := k.fetch(ctx, c.JWKSURI)
	if err != nil {
		return nil, err
	}
	e.keys, e.fetchedAt = ks, now
	if refresh {
		e.forcedAt = now
	}
	return ks, nil
}

// jwksFetchError is a jwks_uri that could not be fetched or read.
type jwksFetchError struct{ err error }

func (e *jwksFetchError) Error() string { return "jwks_uri: " + e.err.Error() }
func (e *jwksFetchError) Unwrap() error { return e.err }

// fetch GETs a key set within the configured limits; every failure is a
// *jwksFetchError.
func (k *ClientKeys) fetch(ctx context.Context, uri string) (*keySet, error) {
	ks, err := k.get(ctx, uri)
	if err != nil {
		return nil, &jwksFetchError{err}
	}
	return ks, nil
}

func (k *ClientKeys) get(ctx context.Context, uri string) (*keySet, error) {
	body, err := fetchDocument(ctx, k.http, k.cfg, uri, "application/jwk-set+json, application/json")
	if err != nil {
		return nil, err
	}
	return parseKeySet(body)
}
