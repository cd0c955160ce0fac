package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/glebarez/sqlite"
	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// Sentinel errors every repository method speaks; compare with errors.Is.
var (
	// ErrNotFound: no row matched.
	ErrNotFound = errors.New("store: not found")
	// ErrAlreadyExists: a row with the same key is already there.
	ErrAlreadyExists = errors.New("store: already exists")
	// ErrConflict: the row changed state under us (a lost race, a used code).
	ErrConflict = errors.New("store: conflict")
	// ErrLimited: a rate limit was reached; nothing was recorded.
	ErrLimited = errors.New("store: limit reached")
	// ErrUnavailable: the database could not be reached. Its Outage
	// method tells web to answer 503, not 500.
	ErrUnavailable error = unavailable{}
)

type unavailable struct{}

func (unavailable) Error() string { return "store: database unavailable" }
func (unavailable) Outage() bool  { return true }

// Dialect names the SQL dialect behind a Store.
type Dialect string

const (
	Postgres Dialect = "postgres"
	SQLite   Dialect = "sqlite"
)

// Store is the repository over one database. It is safe for concurrent use.
type Store struct {
	db *gorm.DB
	// read serves the reads that run outside a transaction (reader): on
	// SQLite a pool of read-only connections, which WAL lets run beside
	// the one writer instead of queueing behind every write; db itself on
	// PostgreSQL.
	read    *gorm.DB
	dialect Dialect
	counts  *counts
	// tallies are the OTP counts not yet written (FlushOTPTallies).
	tallies *pendingTallies
	// written holds the login requests just written, for the pages that
	// follow (GetLoginRequestAt).
	written *writtenLogins
}

// ParseURL splits a database URL ("postgres://...", "postgresql://..." or
// "sqlite:PATH") into its dialect and the driver's DSN.
func ParseURL(url string) (Dialect, string, error) {
	switch {
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		return Postgres, url, nil
	case strings.HasPrefix(url, "sqlite:"):
		path := strings.TrimPrefix(url, "sqlite:")
		if path == "" {
			return "", "", fmt.Errorf("database URL %q: sqlite needs a path", url)
		}
		return SQLite, path, nil
	}
	return "", "", fmt.Errorf("database URL %q: want postgres://... or sqlite:PATH", url)
}

// Open connects to the database named by url. It does not create the schema:
// run migrations.Up on DB() first. A bad URL is an error of its own; a
// server that cannot be reached is ErrUnavailable.
func Open(url string) (*Store, error) {
	dialect, dsn, err := ParseURL(url)
	if err != nil {
		return nil, err
	}
	var opener gorm.Dialector
	switch dialect {
	case Postgres:
		opener = postgres.Open(dsn)
	case SQLite:
		// WAL lets readers (openSQLiteReaders) run beside the writer;
		// busy_timeout waits for the lock instead of failing; one
		// connection serialises writers, which SQLite does anyway, without
		// "database is locked" upgrade deadlocks.
		opener = sqlite.Open(withPragmas(dsn, sqliteWritePragmas))
	}
	c := &counts{}
	db, sqlDB, err := openPool(opener, c)
	if err != nil {
		return nil, fmt.Errorf("open %s database: %w", dialect, err)
	}
	read := db
	switch dialect {
	case SQLite:
		sqlDB.SetMaxOpenConns(1)
		if !sqliteInMemory(dsn) {
			if read, err = openSQLiteReaders(dsn, c); err != nil {
				_ = sqlDB.Close()
				return nil, err
			}
		}
	case Postgres:
		sizePool(sqlDB, DefaultMaxConns)
		sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	}
	return &Store{db: db, read: read, dialect: dialect, counts: c, tallies: newPendingTallies(), written: newWrittenLogins()}, nil
}

// gormConfig is the configuration of every pool; each gorm.Open needs its
// own, as gorm keeps the pool's callbacks in it.
func gormConfig() *gorm.Config {
	return &gorm.Config{
		TranslateError:         true,
		Logger:                 logger.Discard,
		SkipDefaultTransaction: true,
		NowFunc:                func() time.Time { return storedTime(time.Now()) },
	}
}

// openPool opens a pool with the callbacks every pool has: stored times
// and the statement counter c. gorm pings on open: a server that cannot be
// reached is ErrUnavailable, not a configuration error.
func openPool(opener gorm.Dialector, c *counts) (*gorm.DB, *sql.DB, error) {
	db, err := gorm.Open(opener, gormConfig())
	if err != nil {
		return nil, nil, translate(err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, nil, err
	}
	if err := registerTimeCallbacks(db); err != nil {
		_ = sqlDB.Close()
		return nil, nil, err
	}
	if err := registerCounting(db, c); err != nil {
		_ = sqlDB.Close()
		return nil, nil, fmt.Errorf("register statement counter: %w", err)
	}
	return db, sqlDB, nil
}

// sqliteReaders is the size of SQLite's read-only pool. Each connection
// keeps a page cache of its own (2 MB at most, SQLite's default).
const sqliteReaders = 4

// openSQLiteReaders opens the read-only pool of the SQLite database at
// path, counting its statements in c. query_only makes a write sent there
// by mistake fail (SQLITE_READONLY) instead of racing the writer.
func openSQLiteReaders(path string, c *counts) (*gorm.DB, error) {
	db, sqlDB, err := openPool(sqlite.Open(withPragmas(path, sqliteReadPragmas)), c)
	if err != nil {
		return nil, fmt.Errorf("open sqlite read pool: %w", err)
	}
	// Idle connections stay open: a new one reads the schema again.
	sqlDB.SetMaxOpenConns(sqliteReaders)
	sqlDB.SetMaxIdleConns(sqliteReaders)
	return db, nil
}

// sqliteInMemory reports a path that names an in-memory database, which
// each connection would see empty: it keeps its one connection for reads
// too.
func sqliteInMemory(path string) bool {
	return strings.HasPrefix(path, ":memory:") || strings.HasPrefix(path, "file::memory:") ||
		strings.Contains(path, "mode=memory")
}

// The pragmas of SQLite's writer and of its read-only pool.
const (
	sqliteWritePragmas = "_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate"
	sqliteReadPragmas  = "_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=query_only(1)"
)

// withPragmas is the driver's DSN for the SQLite file at path.
func withPragmas(path, pragmas string) string {
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return path + sep + pragmas
}

// DefaultMaxConns is how many PostgreSQL connections a store opens at
// most, unless SetMaxConns says otherwise.
const DefaultMaxConns = 32

// SetMaxConns sets how many PostgreSQL connections the store opens at
// most (and keeps open when idle); more requests than connections wait
// for one. On SQLite it does nothing: one connection writes, and the
// read-only pool is sized for SQLite's own locking.
func (s *Store) SetMaxConns(n int) error {
	if n < 1 {
		return fmt.Errorf("store: at least one connection is needed, not %d", n)
	}
	if s.dialect != Postgres {
		return nil
	}
	db, err := s.db.DB()
	if err != nil {
		return err
	}
	sizePool(db, n)
	return nil
}

// sizePool lets db open n connections and keep them all when idle: a
// connection closed between bursts is one to dial and prepare again.
func sizePool(db *sql.DB, n int) {
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
}

// DB returns the underlying database handle, for migrations and health checks.
func (s *Store) DB() (*sql.DB, error) { return s.db.DB() }

// Dialect reports which SQL dialect the store speaks.
func (s *Store) Dialect() Dialect { return s.dialect }

// Close closes the connection pools.
func (s *Store) Close() error {
	pools := []*gorm.DB{s.db}
	if s.read != s.db {
		pools = append(pools, s.read)
	}
	var errs []error
	for _, db := range pools {
		sqlDB, err := db.DB()
		if err == nil {
			err = sqlDB.Close()
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Ping reports ErrUnavailable when the database cannot be reached.
func (s *Store) Ping(ctx context.Context) error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	if err := sqlDB.PingContext(ctx); err != nil {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return nil
}

type txKey struct{}

// InTx runs fn in one transaction. Every repository call made with the
// context fn receives joins it; nested calls join the outer transaction.
// fn's error rolls everything back, unless it is (or wraps) a *KeepChanges:
// then what was written is committed and the *KeepChanges returned, so the
// caller still learns the error (errors.Is sees through it) and an
// enclosing InTx keeps the changes too. A wrong OTP is the case: the
// counted try must be written and the answer must still be "wrong". The
// OTP tallies of the transaction are counted once it has committed.
func (s *Store) InTx(ctx context.Context, fn func(ctx context.Context) error) error {
	if inTx(ctx) {
		return fn(ctx)
	}
	s.counts.transactions.Add(1)
	ctx, tallies := withTxTallies(ctx)
	var kept *KeepChanges
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		err := fn(context.WithValue(ctx, txKey{}, tx))
		if errors.As(err, &kept) {
			return nil
		}
		return err
	})
	if err != nil {
		return translate(err)
	}
	s.tallies.add(tallies.rows...)
	if kept != nil {
		return kept
	}
	return nil
}

// inTx reports whether ctx carries a transaction of InTx.
func inTx(ctx context.Context) bool {
	_, ok := ctx.Value(txKey{}).(*gorm.DB)
	return ok
}

// conn returns the transaction carried by ctx, or the pool.
func (s *Store) conn(ctx context.Context) *gorm.DB {
	if tx, ok := ctx.Value(txKey{}).(*gorm.DB); ok {
		return tx
	}
	return s.db.WithContext(ctx)
}

// reader is conn for a read that locks nothing: the transaction carried
// by ctx, or else the read pool (Store.read). A read there sees every
// write that returned before it started: in WAL a read transaction sees
// every commit made before it began, and each statement sent through
// reader is a read transaction of its own, over once its rows are closed,
// which the method that sends it does before it returns. Never for a
// write or a locking read (FOR UPDATE): those go through conn.
func (s *Store) reader(ctx context.Context) *gorm.DB {
	if tx, ok := ctx.Value(txKey{}).(*gorm.DB); ok {
		return tx
	}
	return s.read.WithContext(ctx)
}

// translate maps driver and gorm errors onto the store's sentinels. It is
// the only place that knows driver errors.
func translate(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrAlreadyExists),
		errors.Is(err, ErrConflict), errors.Is(err, ErrLimited), errors.Is(err, ErrUnavailable):
		return err
	case errors.Is(err, gorm.ErrRecordNotFound):
		return ErrNotFound
	case errors.Is(err, gorm.ErrDuplicatedKey):
		return fmt.Errorf("%w: %v", ErrAlreadyExists, err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case lostConnection(err):
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		switch {
		case pg.Code == pgUniqueViolation:
			return fmt.Errorf("%w: %v", ErrAlreadyExists, err)
		case PoolerMisconfigured(err):
			return WithPoolerHint(err)
		case strings.HasPrefix(pg.Code, pgClassAuthorization), pg.Code == pgInvalidCatalogName:
			// Bad credentials or an unknown database: the server answered,
			// so this is configuration, not unavailability.
			return err
		case strings.HasPrefix(pg.Code, pgClassOperatorIntervention):
			return fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
		return err
	}
	var lite interface{ Code() int }
	if errors.As(err, &lite) {
		switch lite.Code() {
		case sqliteConstraintUnique, sqliteConstraintPrimaryKey:
			return fmt.Errorf("%w: %v", ErrAlreadyExists, err)
		}
		return err
	}
	// Errors with no code of either driver: a connection that could not be
	// made or was closed under a statement, reported by pgx or database/sql
	// as text only.
	msg := err.Error()
	switch {
	case strings.Contains(msg, "failed to connect"), strings.Contains(msg, "conn closed"),
		strings.Contains(msg, "database is closed"), strings.Contains(msg, "connection refused"),
		strings.Contains(msg, "broken pipe"), strings.Contains(msg, "unexpected EOF"),
		strings.Contains(msg, "connection reset by peer"), strings.Contains(msg, "bad connection"):
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return err
}

// The driver error codes translate knows: PostgreSQL's SQLSTATEs
// (Appendix A of its manual) and SQLite's extended result codes
// (sqlite.org/rescode.html), which the SQLite driver reports.
const (
	pgUniqueViolation           = "23505"
	pgClassAuthorization        = "28" // invalid_authorization_specification, invalid_password
	pgInvalidCatalogName        = "3D000"
	pgClassOperatorIntervention = "57P" // admin_shutdown, crash_shutdown, cannot_connect_now, ...
	pgInvalidSQLStatementName   = "26000"
	pgDuplicatePreparedStmt     = "42P05"
	sqliteConstraintPrimaryKey  = 1555
	sqliteConstraintUnique      = 2067
)

// poolerHint tells an operator how to fix PoolerMisconfigured.
const poolerHint = "behind PgBouncer in transaction mode, add default_query_exec_mode=cache_describe to the database URL; see docs/operations.md"

// PoolerMisconfigured reports an error of the driver's statement cache
// behind a pooler that shares server connections between clients
// (PgBouncer in transaction mode before 1.21, or without
// max_prepared_statements): a statement prepared on one server connection
// is used, or prepared again, on another.
func PoolerMisconfigured(err error) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && (pg.Code == pgInvalidSQLStatementName || pg.Code == pgDuplicatePreparedStmt) &&
		strings.Contains(pg.Message, `prepared statement "stmtcache_`)
}

// WithPoolerHint adds to err, when PoolerMisconfigured, how to configure
// the database URL; other errors are returned as they are.
func WithPoolerHint(err error) error {
	if err != nil && PoolerMisconfigured(err) {
		return fmt.Errorf("%w (%s)", err, poolerHint)
	}
	return err
}

// lostConnection reports an error that means the connection to the
// database broke in the middle of a statement or a commit (the server was
// stopped, restarted or cut off): the outcome is an outage, not a bug. A
// transaction cut off this way is rolled back by the server.
func lostConnection(err error) bool {
	var netErr net.Error
	return errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.EPIPE) || errors.As(err, &netErr)
}
