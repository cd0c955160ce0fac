package store_test

import (
	"errors"
	"io"
	"net"
	"net/url"
	"path/filepath"
	"sync"
	"testing"

	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/store/storetest"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		url     string
		dialect store.Dialect
		dsn     string
		wantErr bool
	}{
		{"postgres://u@h/db", store.Postgres, "postgres://u@h/db", false},
		{"postgresql://u@h/db?sslmode=disable", store.Postgres, "postgresql://u@h/db?sslmode=disable", false},
		{"sqlite:/var/lib/kycvs.db", store.SQLite, "/var/lib/kycvs.db", false},
		{"sqlite:", "", "", true},
		{"mysql://u@h/db", "", "", true},
		{"", "", "", true},
	}
	for _, tc := range tests {
		t.Run(tc.url, func(t *testing.T) {
			d, dsn, err := store.ParseURL(tc.url)
			if (err != nil) != tc.wantErr || d != tc.dialect || dsn != tc.dsn {
				t.Errorf("ParseURL = %q, %q, %v", d, dsn, err)
			}
		})
	}
}

// TestOpenUnreachable: a server that cannot be reached fails Open with
// ErrUnavailable, so the caller can tell it from a bad URL.
func TestOpenUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now

	s, err := store.Open("postgres://postgres@" + addr + "/test?sslmode=disable&connect_timeout=5")
	if err == nil {
		s.Close()
		t.Fatal("Open on an unreachable server succeeded")
	}
	wantErr(t, "Open", err, store.ErrUnavailable)

	_, err = store.Open("sqlite:" + filepath.Join(t.TempDir(), "no", "such", "dir", "x.db"))
	if err == nil {
		t.Error("Open of an SQLite file in a missing directory succeeded")
	}
	_, err = store.Open("mysql://localhost/db")
	if err == nil || errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Open(mysql://) = %v, want a URL error", err)
	}
}

// TestPingUnavailable: Ping reports ErrUnavailable once the database is
// gone: a closed SQLite store, and a PostgreSQL server whose connections
// are cut (through a TCP proxy the test stops).
func TestPingUnavailable(t *testing.T) {
	t.Run("sqlite closed", func(t *testing.T) {
		s := storetest.Open(t, string(store.SQLite))
		must(t, s.Ping(testCtx(t)))
		must(t, s.Close())
		wantErr(t, "Ping after Close", s.Ping(testCtx(t)), store.ErrUnavailable)
	})
	t.Run("postgres gone", func(t *testing.T) {
		u, err := url.Parse(storetest.URL(t, string(store.Postgres)))
		must(t, err)
		p := startProxy(t, u.Host)
		u.Host = p.addr()
		s, err := store.Open(u.String())
		must(t, err)
		t.Cleanup(func() { _ = s.Close() })
		must(t, s.Ping(testCtx(t)))
		p.stop()
		wantErr(t, "Ping with the server gone", s.Ping(testCtx(t)), store.ErrUnavailable)
		_, err = s.CountBeneficiaries(testCtx(t))
		wantErr(t, "query with the server gone", err, store.ErrUnavailable)
	})
}

// tcpProxy forwards connections to a target until stopped; stop cuts
// every connection and refuses new ones, as a server that went away.
type tcpProxy struct {
	ln      net.Listener
	mu      sync.Mutex
	conns   []net.Conn
	stopped bool
	wg      sync.WaitGroup
}

func startProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	p := &tcpProxy{ln: ln}
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			if p.stopped {
				p.mu.Unlock()
				c.Close()
				up.Close()
				return
			}
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			p.wg.Go(func() { _, _ = io.Copy(up, c); up.Close() })
			p.wg.Go(func() { _, _ = io.Copy(c, up); c.Close() })
		}
	})
	t.Cleanup(p.stop)
	return p
}

func (p *tcpProxy) addr() string { return p.ln.Addr().String() }

func (p *tcpProxy) stop() {
	p.ln.Close()
	p.mu.Lock()
	p.stopped = true
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
	p.mu.Unlock()
	p.wg.Wait()
}

// SetMaxConns sizes PostgreSQL's pool and refuses a pool of no
// connection; SQLite keeps its one writer whatever it is told.
func TestSetMaxConns(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dialect string) {
		s := storetest.Open(t, dialect)
		db, err := s.DB()
		if err != nil {
			t.Fatal(err)
		}
		want := store.DefaultMaxConns
		if dialect == "sqlite" {
			want = 1
		}
		if got := db.Stats().MaxOpenConnections; got != want {
			t.Errorf("opened with a pool of %d, want %d", got, want)
		}
		if err := s.SetMaxConns(0); err == nil {
			t.Error("a pool of 0 connections was accepted")
		}
		if err := s.SetMaxConns(5); err != nil {
			t.Fatal(err)
		}
		if dialect == "postgres" {
			want = 5
		}
		if got := db.Stats().MaxOpenConnections; got != want {
			t.Errorf("after SetMaxConns(5): a pool of %d, want %d", got, want)
		}
	})
}
