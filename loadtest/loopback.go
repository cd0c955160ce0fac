package loadtest

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"
)

// IsLoopbackHost reports whether host (a name or an IP address, without
// port or brackets) is "localhost" or a loopback address (127.0.0.0/8, ::1).
// The load tool refuses every other target: it is meant to load a server on
// this machine, never someone else's.
func IsLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// CheckLoopbackURL returns an error unless raw is an absolute http(s) URL
// whose host is loopback. what names the URL in the message. Callers check
// their targets with it before they do anything else.
func CheckLoopbackURL(what, raw string) error {
	_, err := checkLoopbackURL(what, raw)
	return err
}

// CheckLoopbackAddr returns an error unless addr is host:port with a
// loopback host.
func CheckLoopbackAddr(what, addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%s %q: %v", what, addr, err)
	}
	if !IsLoopbackHost(host) {
		return fmt.Errorf("%s %q: only loopback addresses may be used", what, addr)
	}
	return nil
}

func checkLoopbackURL(what, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return nil, fmt.Errorf("%s %q: not an absolute URL", what, raw)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%s %q: want http or https", what, raw)
	}
	if !IsLoopbackHost(u.Hostname()) {
		return nil, fmt.Errorf("%s %q: only loopback hosts (localhost, 127.0.0.1, ::1) may be targeted", what, raw)
	}
	return u, nil
}

// loopbackOnly refuses, at connect time, any address that is not
// loopback, whatever name led to it: a second line behind the URL checks,
// which also covers redirects and the endpoints discovery names.
func loopbackOnly(network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.Unmap().IsLoopback() {
		return fmt.Errorf("loadtest: refusing to connect to %s: not a loopback address", address)
	}
	return nil
}

// newTransport returns the connection pool every virtual user shares. It
// dials loopback addresses only and keeps enough idle connections for
// every virtual user to reuse one.
func newTransport(users int) *http.Transport {
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second, Control: loopbackOnly}
	return &http.Transport{
		Proxy: nil, // never through a proxy: the target is this machine
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		},
		MaxIdleConns:          4 * users,
		MaxIdleConnsPerHost:   4 * users,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		ForceAttemptHTTP2:     false,
	}
}
