package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/gorm"
)

// ImportRecord is one beneficiary of a registry import, with its doses and
// NameKey set, and the input line it starts on (for problem reports).
type ImportRecord struct {
	Beneficiary
	Line int
	// Hash is ContentHash(&Beneficiary) when the reader has worked it out
	// already (on goroutines of its own); nil, and the import works it out.
	Hash []byte
}

// contentHash returns r's ContentHash, worked out once.
func (r *ImportRecord) contentHash() []byte {
	if r.Hash == nil {
		r.Hash = ContentHash(&r.Beneficiary)
	}
	return r.Hash
}

// ImportOptions tune ImportRegistry.
type ImportOptions struct {
	// DeleteMissing makes the input the whole registry: beneficiaries it
	// does not name are deleted with their doses (their disclosures stay).
	DeleteMissing bool
	// MaxDeleteFraction bounds DeleteMissing: deleting more than this
	// fraction of the registry as it was before the import fails the
	// import with a *DeleteLimitError, unless Force is set. It guards
	// against a truncated or wrong file emptying the registry.
	MaxDeleteFraction float64
	// Force lifts MaxDeleteFraction.
	Force bool
	// Sorted says the input's beneficiary IDs rise in byte order (a file
	// sorted by beneficiary_id). A re-import on PostgreSQL then compares
	// the input with the registry as both stream past and sends only the
	// new and changed beneficiaries to the database (loadSorted). An
	// input out of order stops the import with a *NotSortedError and
	// applies nothing: read it again without Sorted. Ignored on SQLite
	// and by a first load.
	Sorted bool
	// Phase, when set, is called as the import moves on: "loading" (the
	// records are being read), "checking", "merging", "indexing" (a
	// first load builds the registry's indexes), "deleting",
	// "committing".
	Phase func(phase string)
	// BeforeCommit, when set, runs in the import's transaction after the
	// merge, with the counts; its error rolls everything back. The caller
	// records its audit entry here, and refuses an input it found bad.
	BeforeCommit func(ctx context.Context, res ImportResult) error
}

// ImportProblem is a problem only the whole input shows (a beneficiary
// whose rows are apart, two beneficiaries on one mobile with one name): the
// input line and what is wrong, starting with the column name.
type ImportProblem struct {
	Line int
	Msg  string
}

// ImportConflictError lists the first problems found across the records of
// an import (at most maxImportProblems) and how many there are in all.
// Nothing of the import is applied.
type ImportConflictError struct {
	Problems []ImportProblem
	Total    int
}

func (e *ImportConflictError) Error() string {
	return fmt.Sprintf("store: registry import: %d problem(s) across records", e.Total)
}

// maxImportProblems bounds the problems kept in memory; the count goes on.
const maxImportProblems = 1000

// ErrTooManyDeletes is what a *DeleteLimitError is (errors.Is).
var ErrTooManyDeletes = errors.New("store: import would delete too much of the registry")

// DeleteLimitError says a DeleteMissing import would have deleted more of
// the registry than MaxDeleteFraction allows; nothing was applied.
type DeleteLimitError struct {
	Missing     int64   // beneficiaries the input does not name
	Registry    int64   // the registry's size before the import
	MaxFraction float64 // the limit that was in force
}

func (e *DeleteLimitError) Error() string {
	return fmt.Sprintf("the file would delete %d of %d beneficiaries (%.2f%%), more than the %.2f%% allowed; nothing was imported (force it if the file really is the whole registry)",
		e.Missing, e.Registry, 100*float64(e.Missing)/float64(max(e.Registry, 1)), 100*e.MaxFraction)
}

// Is makes errors.Is(err, ErrTooManyDeletes) true.
func (e *DeleteLimitError) Is(target error) bool { return target == ErrTooManyDeletes }

// ImportRegistry writes the beneficiaries next yields (io.EOF ends them)
// in one transaction, streaming: memory does not grow with the input.
//
// A beneficiary not yet registered is created; a registered one whose
// ContentHash differs is updated with its doses replaced; one that is equal
// is left untouched and counted as unchanged. With DeleteMissing the ones
// next did not yield are deleted. Each beneficiary must come once: the
// rows of one beneficiary are one record, so an ID twice is an
// *ImportConflictError, as are two beneficiaries on one mobile whose
// NameKeys are equal. Any error from next, a problem, a refused deletion
// or an error from BeforeCommit applies nothing.
//
// PostgreSQL loads the records with COPY into a temporary table and merges
// with set-based statements; SQLite loads them with batched prepared
// inserts and merges the same way. A first load into an empty registry
// builds the registry's secondary indexes once after the rows instead of
// row by row (firstLoadPostgres, firstLoadSQLite).
func (s *Store) ImportRegistry(ctx context.Context, next func() (*ImportRecord, error), opts ImportOptions) (ImportResult, error) {
	phase := opts.Phase
	if phase == nil {
		phase = func(string) {}
	}
	imp := &registryImport{s: s, next: next, opts: opts, phase: phase, now: storedTime(time.Now())}
	var err error
	switch s.dialect {
	case Postgres:
		err = s.db.WithContext(ctx).Connection(func(conn *gorm.DB) error {
			sqlConn, ok := conn.Statement.ConnPool.(*sql.Conn)
			if !ok {
				return fmt.Errorf("store: registry import: no dedicated connection (%T)", conn.Statement.ConnPool)
			}
			imp.conn = sqlConn
			return conn.Transaction(func(tx *gorm.DB) error {
				return imp.run(context.WithValue(ctx, txKey{}, tx), tx, func(ctx context.Context, tx *gorm.DB) error {
					return imp.loadPostgres(ctx, tx, sqlConn)
				})
			})
		})
	default:
		err = s.InTx(ctx, func(ctx context.Context) error {
			tx := s.conn(ctx)
			return imp.run(ctx, tx, imp.loadSQLite)
		})
	}
	if err != nil {
		return ImportResult{}, translate(err)
	}
	return imp.res, nil
}

type registryImport struct {
	s      *Store
	conn   *sql.Conn // PostgreSQL: the import's connection, for COPY
	staged int64     // loadSorted: the new and changed beneficiaries staged
	next   func() (*ImportRecord, error)
	opts   ImportOptions
	phase  func(string)
	now    time.Time
	loaded int
	res    ImportResult
}

// run loads, checks, merges and deletes within tx.
func (imp *registryImport) run(ctx context.Context, tx *gorm.DB, load func(context.Context, *gorm.DB) error) error {
	pg := imp.s.dialect == Postgres
	var before int64
	if err := tx.Raw("SELECT count(*) FROM beneficiaries").Scan(&before).Error; err != nil {
		return err
	}
	// Only a registry with rows has anything to compare with.
	sorted := imp.opts.Sorted && pg && before > 0
	if sorted {
		load = imp.loadSorted
	}
	imp.phase("loading")
	if err := load(ctx, tx); err != nil {
		return err
	}
	imp.phase("checking")
	if sorted {
		if err := imp.lookUpFew(tx, imp.staged, before); err != nil {
			return err
		}
	}
	if err := imp.check(tx, sorted); err != nil {
		return err
	}

	imp.phase("merging")
	if before == 0 && pg {
		// The registry was empty when the import began: keep other
		// writers out (readers go on) and count again, for another
		// import may have filled it since.
		if err := tx.Exec("LOCK TABLE beneficiaries, doses IN EXCLUSIVE MODE").Error; err != nil {
			return err
		}
		if err := tx.Raw("SELECT count(*) FROM beneficiaries").Scan(&before).Error; err != nil {
			return err
		}
	}
	switch {
	case sorted:
		if err := imp.writeChanges(tx, true, "import_beneficiaries"); err != nil {
			return err
		}
	case before == 0 && pg:
		if err := imp.firstLoadPostgres(tx); err != nil {
			return err
		}
	case before == 0:
		if err := imp.firstLoadSQLite(tx); err != nil {
			return err
		}
	default:
		if err := imp.merge(tx, pg, before); err != nil {
			return err
		}
	}
	imp.res.Unchanged = imp.loaded - imp.res.Created - imp.res.Updated
	if pg {
		// lookUpFew's planner settings were for the merge only.
		if err := tx.Exec("SET LOCAL enable_hashjoin = DEFAULT").Error; err != nil {
			return err
		}
		if err := tx.Exec("SET LOCAL enable_mergejoin = DEFAULT").Error; err != nil {
			return err
		}
	}

	if imp.opts.DeleteMissing && before > 0 {
		imp.phase("deleting")
		q := `DELETE FROM beneficiaries WHERE NOT EXISTS
			(SELECT 1 FROM import_beneficiaries s WHERE s.id = beneficiaries.id)`
		if sorted {
			q = `DELETE FROM beneficiaries WHERE id IN (SELECT id FROM import_missing)`
		}
		n, err := execCount(tx, q)
		if err != nil {
			return err
		}
		if !imp.opts.Force && float64(n) > imp.opts.MaxDeleteFraction*float64(before) {
			return &DeleteLimitError{Missing: n, Registry: before, MaxFraction: imp.opts.MaxDeleteFraction}
		}
		imp.res.Deleted = int(n)
	}
	if !pg {
		// SQLite's temporary tables outlive the transaction.
		if err := tx.Exec("DROP TABLE temp.import_beneficiaries").Error; err != nil {
			return err
		}
		if err := tx.Exec("DROP TABLE temp.import_doses").Error; err != nil {
			return err
		}
	}
	imp.phase("committing")
	if imp.opts.BeforeCommit != nil {
		return imp.opts.BeforeCommit(ctx, imp.res)
	}
	return nil
}

// insertAll writes every input beneficiary with its doses into an empty
// registry: everything is new, nothing to compare.
func (imp *registryImport) insertAll(tx *gorm.DB, pg bool) error {
	res := tx.Exec(`INSERT INTO beneficiaries (id, mobile, name, name_key, year_of_birth, content_hash, created_at, updated_at)
		SELECT id, mobile, name, name_key, year_of_birth, content_hash, ?, ? FROM import_beneficiaries`, imp.now, imp.now)
	if res.Error != nil {
		return res.Error
	}
	imp.res.Created = int(res.RowsAffected)
	var n int64
	var err error
	if pg {
		// A beneficiary's dose arrays have one length, and the
		// set-returning functions of a select list run in step: one row
		// per dose, with none of the tuplestore that unnest in FROM fills
		// for each beneficiary.
		n, err = execCount(tx, `INSERT INTO doses (beneficiary_id, vaccine, dose_number, total_doses, dose_date)
			SELECT id, unnest(vaccines), unnest(dose_numbers), unnest(total_doses), unnest(dose_dates) FROM import_beneficiaries`)
	} else {
		n, err = execCount(tx, `INSERT INTO doses (beneficiary_id, vaccine, dose_number, total_doses, dose_date)
			SELECT beneficiary_id, vaccine, dose_number, total_doses, dose_date FROM import_doses`)
	}
	if err != nil {
		return err
	}
	imp.res.Doses = int(n)
	return nil
}

// firstLoadMaintenanceWorkMem is the least maintenance_work_mem a first
// load on PostgreSQL builds its indexes and checks its foreign keys with:
// the default 64MB sorts ten million keys on disk.
const firstLoadMaintenanceWorkMem = 256 << 20

// firstLoadPostgres writes the input into an empty registry on
// PostgreSQL. Maintaining the indexes of beneficiaries and doses row by
// row, and checking the doses' foreign key with a lookup (and a row lock)
// per dose, cost more than writing the rows, so within the import's
// transaction it drops those indexes, the primary keys and the foreign
// keys, inserts the rows, builds each index and key once from the whole
// table and adds each foreign key back, which checks every dose with one
// join (the input's IDs were found unique by check). The definitions are read
// from the catalogue (pg_get_indexdef, pg_get_constraintdef) and given
// back as they were, so the schema after the import is the one the
// migrations made; an index or key with a comment, a tablespace of its
// own, a CLUSTER mark, or that is not valid is left in place. Any failure
// rolls the drops back with the rows: all of the file or nothing.
//
// DROP INDEX and ALTER TABLE take an ACCESS EXCLUSIVE lock on beneficiaries
// and doses until commit, so every reader of the registry waits for the
// import to end; none ever sees the tables without their indexes. That is
// acceptable only for a first load into an empty registry, which has
// nobody to find yet, and only from the merge on (the loading and the
// checks, most of the import, leave readers alone). A registry with rows
// is merged with its indexes in place (merge), its readers going on
// beside the import. Two first loads at once: one fails with a deadlock
// error and applies nothing.
func (imp *registryImport) firstLoadPostgres(tx *gorm.DB) error {
	var mwm int64
	if err := tx.Raw("SELECT pg_size_bytes(current_setting('maintenance_work_mem'))").Scan(&mwm).Error; err != nil {
		return err
	}
	if mwm < firstLoadMaintenanceWorkMem {
		if err := tx.Exec(fmt.Sprintf("SET LOCAL maintenance_work_mem = '%dMB'", firstLoadMaintenanceWorkMem>>20)).Error; err != nil {
			return err
		}
	}
	type def struct {
		Name, Rel, Def string
		Foreign        bool
	}
	var indexes, keys []def
	if err := tx.Raw(`SELECT quote_ident(n.nspname) || '.' || quote_ident(i.relname) AS name, pg_get_indexdef(x.indexrelid) AS def
		FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_namespace n ON n.oid = i.relnamespace
		WHERE x.indrelid IN ('beneficiaries'::regclass, 'doses'::regclass)
			AND x.indisvalid AND NOT x.indisclustered AND i.reltablespace = 0
			AND obj_description(x.indexrelid, 'pg_class') IS NULL
			AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid AND c.contype IN ('p', 'u', 'x'))
		ORDER BY i.relname`).Scan(&indexes).Error; err != nil {
		return err
	}
	// The foreign keys of beneficiaries and doses, then their primary keys
	// and unique constraints, each but one that a foreign key of another
	// table depends on.
	if err := tx.Raw(`WITH fk AS (SELECT oid FROM pg_constraint
			WHERE contype = 'f' AND conrelid IN ('beneficiaries'::regclass, 'doses'::regclass)
				AND convalidated AND obj_description(oid, 'pg_constraint') IS NULL)
		SELECT quote_ident(c.conname) AS name, c.conrelid::regclass::text AS rel, pg_get_constraintdef(c.oid) AS def, c.contype = 'f' AS foreign
		FROM pg_constraint c LEFT JOIN pg_index x ON x.indexrelid = c.conindid LEFT JOIN pg_class i ON i.oid = x.indexrelid
		WHERE c.oid IN (SELECT oid FROM fk)
			OR c.contype IN ('p', 'u') AND c.conrelid IN ('beneficiaries'::regclass, 'doses'::regclass)
				AND obj_description(c.oid, 'pg_constraint') IS NULL
				AND x.indisvalid AND NOT x.indisclustered AND i.reltablespace = 0
				AND obj_description(x.indexrelid, 'pg_class') IS NULL
				AND NOT EXISTS (SELECT 1 FROM pg_constraint f
					WHERE f.contype = 'f' AND f.conindid = c.conindid AND f.oid NOT IN (SELECT oid FROM fk))
		ORDER BY c.contype <> 'f', c.conname`).Scan(&keys).Error; err != nil {
		return err
	}
	// The ACCESS EXCLUSIVE locks, in the order every import takes them.
	if err := tx.Exec("LOCK TABLE beneficiaries, doses IN ACCESS EXCLUSIVE MODE").Error; err != nil {
		return err
	}
	for _, k := range keys {
		if err := tx.Exec("ALTER TABLE " + k.Rel + " DROP CONSTRAINT " + k.Name).Error; err != nil {
			return err
		}
	}
	for _, i := range indexes {
		if err := tx.Exec("DROP INDEX " + i.Name).Error; err != nil {
			return err
		}
	}
	if err := imp.insertAll(tx, true); err != nil {
		return err
	}
	imp.phase("indexing")
	// The primary keys and unique constraints first: the foreign keys
	// need them.
	for _, k := range slices.Backward(keys) {
		if !k.Foreign {
			if err := tx.Exec("ALTER TABLE " + k.Rel + " ADD CONSTRAINT " + k.Name + " " + k.Def).Error; err != nil {
				return err
			}
		}
	}
	for _, i := range indexes {
		if err := tx.Exec(i.Def).Error; err != nil {
			return err
		}
	}
	// Statistics for the foreign keys' check, and for the lookups that
	// follow the import.
	if err := tx.Exec("ANALYZE beneficiaries, doses").Error; err != nil {
		return err
	}
	for _, k := range keys {
		if k.Foreign {
			if err := tx.Exec("ALTER TABLE " + k.Rel + " ADD CONSTRAINT " + k.Name + " " + k.Def).Error; err != nil {
				return err
			}
		}
	}
	return nil
}

// firstLoadSQLite writes the input into an empty registry on SQLite. As on
// PostgreSQL (firstLoadPostgres), the secondary indexes of beneficiaries
// and doses are dropped within the import's transaction and built once
// from the whole tables after the insert, with their own CREATE statements
// as sqlite_master keeps them, so the schema after the import is the one
// the migrations made, and a failure rolls the drops back with the rows.
// No reader sees the tables without them: SQLite readers on other
// connections, the store's read pool among them, read the database as it
// was before the import (WAL) until it commits, and the store's one
// writing connection is the import's until then. The doses' foreign key
// stays: SQLite cannot turn it off inside a transaction, and its check is
// an in-process lookup by primary key.
func (imp *registryImport) firstLoadSQLite(tx *gorm.DB) error {
	var indexes []struct{ Name, SQL string }
	if err := tx.Raw(`SELECT name, sql FROM main.sqlite_master
		WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN ('beneficiaries', 'doses') ORDER BY name`).Scan(&indexes).Error; err != nil {
		return err
	}
	for _, i := range indexes {
		if err := tx.Exec(`DROP INDEX main."` + strings.ReplaceAll(i.Name, `"`, `""`) + `"`).Error; err != nil {
			return err
		}
	}
	if err := imp.insertAll(tx, false); err != nil {
		return err
	}
	imp.phase("indexing")
	for _, i := range indexes {
		if err := tx.Exec(i.SQL).Error; err != nil {
			return err
		}
	}
	return nil
}

// merge writes what changed into a registry that is not empty; registry
// is its size when the import began.
func (imp *registryImport) merge(tx *gorm.DB, pg bool, registry int64) error {
	if pg {
		// Statistics for the join with the registry.
		if err := tx.Exec("ANALYZE import_beneficiaries").Error; err != nil {
			return err
		}
	}
	// The beneficiaries to write, with whether they are new: one join of
	// the input with the registry, after which each statement reads only
	// what changed.
	changes, err := execCount(tx, `CREATE TEMP TABLE import_changes AS
		SELECT s.*, b.id IS NULL AS is_new FROM import_beneficiaries s
		LEFT JOIN beneficiaries b ON b.id = s.id
		WHERE b.id IS NULL OR b.content_hash <> s.content_hash`)
	if err != nil {
		return err
	}
	if !pg {
		defer tx.Exec("DROP TABLE IF EXISTS temp.import_changes")
	}
	if pg {
		if err := tx.Exec("ANALYZE import_changes").Error; err != nil {
			return err
		}
		if err := imp.lookUpFew(tx, changes, registry); err != nil {
			return err
		}
	}
	if err := imp.writeChanges(tx, pg, "import_changes"); err != nil {
		return err
	}
	if pg {
		return tx.Exec("DROP TABLE import_changes").Error
	}
	return nil
}

// lookUpFew makes the rest of a PostgreSQL import's transaction join the
// registry by its indexes, not by hashing it whole, when it writes few
// beneficiaries of a large registry (under 1 in 20): the planner costs
// 100,000 index probes of a 10-million-person registry above reading it
// all, as if none of it were cached, and a 1%-changed re-import then
// spent 23 s reading the registry and its doses three times over instead
// of about 13 s probing them.
func (imp *registryImport) lookUpFew(tx *gorm.DB, changes, registry int64) error {
	if changes*20 >= registry {
		return nil
	}
	if err := tx.Exec("SET LOCAL enable_hashjoin = off").Error; err != nil {
		return err
	}
	return tx.Exec("SET LOCAL enable_mergejoin = off").Error
}

// writeChanges writes the beneficiaries of changes, a staging table of
// the new (is_new) and the changed ones, with their doses.
func (imp *registryImport) writeChanges(tx *gorm.DB, pg bool, changes string) error {
	if err := tx.Exec(`DELETE FROM doses WHERE beneficiary_id IN (SELECT id FROM ` + changes + ` WHERE NOT is_new)`).Error; err != nil {
		return err
	}
	n, err := execCount(tx, `UPDATE beneficiaries SET mobile = c.mobile, name = c.name, name_key = c.name_key,
		year_of_birth = c.year_of_birth, content_hash = c.content_hash, updated_at = ?
		FROM `+changes+` c WHERE NOT c.is_new AND beneficiaries.id = c.id`, imp.now)
	if err != nil {
		return err
	}
	imp.res.Updated = int(n)
	n, err = execCount(tx, `INSERT INTO beneficiaries (id, mobile, name, name_key, year_of_birth, content_hash, created_at, updated_at)
		SELECT id, mobile, name, name_key, year_of_birth, content_hash, ?, ? FROM `+changes+` WHERE is_new`, imp.now, imp.now)
	if err != nil {
		return err
	}
	imp.res.Created = int(n)
	if pg {
		n, err = execCount(tx, `INSERT INTO doses (beneficiary_id, vaccine, dose_number, total_doses, dose_date)
			SELECT id, unnest(vaccines), unnest(dose_numbers), unnest(total_doses), unnest(dose_dates) FROM `+changes)
	} else {
		n, err = execCount(tx, `INSERT INTO doses (beneficiary_id, vaccine, dose_number, total_doses, dose_date)
			SELECT d.beneficiary_id, d.vaccine, d.dose_number, d.total_doses, d.dose_date
			FROM import_doses d JOIN `+changes+` c ON c.id = d.beneficiary_id`)
	}
	if err != nil {
		return err
	}
	imp.res.Doses = int(n)
	return nil
}

// check finds the problems only the whole input shows. A unique index is
// both the check and, on PostgreSQL, what the merge joins by; only when
// building it fails do the slower queries that name the lines run. After
// loadSorted, which staged only the new and changed beneficiaries, those
// are also checked against the input's unchanged ones, which are the
// registry's rows neither staged nor missing.
func (imp *registryImport) check(tx *gorm.DB, sorted bool) error {
	var problems []ImportProblem
	total := 0
	report := func(q string) error {
		rows, err := tx.Raw(q).Rows()
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var line int
			var msg string
			if err := rows.Scan(&line, &msg); err != nil {
				return err
			}
			total++
			if len(problems) < maxImportProblems {
				problems = append(problems, ImportProblem{Line: line, Msg: msg})
			}
		}
		return rows.Err()
	}
	for _, c := range []struct {
		index, columns, report string
	}{
		{"import_beneficiaries_id", "id", `SELECT line, 'beneficiary_id: ' || id || ' is also on line ' || first ||
			'; the rows of one beneficiary must be next to each other' FROM
			(SELECT line, id, min(line) OVER (PARTITION BY id) AS first FROM import_beneficiaries) t WHERE line <> first`},
		{"import_beneficiaries_name", "mobile, name_key", `SELECT line, 'name: beneficiary ' || first_id || ' on line ' || first ||
			' has the same mobile and name; they could not be told apart at sign-in' FROM
			(SELECT line, id, first_value(line) OVER w AS first, first_value(id) OVER w AS first_id
			 FROM import_beneficiaries WINDOW w AS (PARTITION BY mobile, name_key ORDER BY line)) t WHERE line <> first AND id <> first_id`},
	} {
		if err := tx.SavePoint("import_check").Error; err != nil {
			return err
		}
		err := tx.Exec("CREATE UNIQUE INDEX " + c.index + " ON import_beneficiaries (" + c.columns + ")").Error
		if err == nil {
			continue
		}
		if !errors.Is(translate(err), ErrAlreadyExists) {
			return err
		}
		if err := tx.RollbackTo("import_check").Error; err != nil {
			return err
		}
		if err := report(c.report + " ORDER BY line"); err != nil {
			return err
		}
	}
	if sorted {
		for _, q := range []string{"CREATE INDEX import_missing_id ON import_missing (id)", "ANALYZE import_beneficiaries, import_missing"} {
			if err := tx.Exec(q).Error; err != nil {
				return err
			}
		}
		if err := report(`SELECT s.line, 'name: beneficiary ' || b.id ||
			' elsewhere in the file has the same mobile and name; they could not be told apart at sign-in'
			FROM import_beneficiaries s JOIN beneficiaries b ON b.mobile = s.mobile AND b.name_key = s.name_key
			WHERE b.id <> s.id
				AND NOT EXISTS (SELECT 1 FROM import_beneficiaries x WHERE x.id = b.id)
				AND NOT EXISTS (SELECT 1 FROM import_missing m WHERE m.id = b.id)
			ORDER BY s.line, b.id`); err != nil {
			return err
		}
	}
	if total > 0 {
		return &ImportConflictError{Problems: problems, Total: total}
	}
	return nil
}

// copySource feeds COPY from next.
type copySource struct {
	imp  *registryImport
	rec  *ImportRecord
	err  error
	vals []any
}

func (c *copySource) Next() bool {
	rec, err := c.imp.next()
	if err != nil {
		if !errors.Is(err, io.EOF) {
			c.err = err
		}
		return false
	}
	c.rec = rec
	c.imp.loaded++
	return true
}

func (c *copySource) Values() ([]any, error) {
	c.vals = appendStagingRow(c.vals[:0], c.rec)
	return c.vals, nil
}

// stagingColumns are the columns of PostgreSQL's import_beneficiaries,
// one row per beneficiary with its doses as arrays (stagingColumnsSQL),
// and appendStagingRow a record's values for them.
var stagingColumns = []string{"line", "id", "mobile", "name", "name_key", "year_of_birth", "content_hash",
	"vaccines", "dose_numbers", "total_doses", "dose_dates"}

const stagingColumnsSQL = `line BIGINT NOT NULL, id TEXT NOT NULL, mobile TEXT NOT NULL, name TEXT NOT NULL,
	name_key TEXT NOT NULL, year_of_birth INTEGER NOT NULL, content_hash BYTEA NOT NULL,
	vaccines TEXT[] NOT NULL, dose_numbers INTEGER[] NOT NULL, total_doses INTEGER[] NOT NULL,
	dose_dates TEXT[] NOT NULL`

func appendStagingRow(vals []any, r *ImportRecord) []any {
	n := len(r.Doses)
	vaccines, numbers, totals, dates := make([]string, n), make([]int32, n), make([]int32, n), make([]string, n)
	for i, d := range r.Doses {
		vaccines[i], numbers[i], totals[i], dates[i] = d.Vaccine, int32(d.DoseNumber), int32(d.TotalDoses), d.DoseDate
	}
	return append(vals, int64(r.Line), r.ID, r.Mobile, r.Name, r.NameKey, int32(r.YearOfBirth),
		r.contentHash(), vaccines, numbers, totals, dates)
}

func (c *copySource) Err() error { return c.err }

// loadPostgres copies the records into import_beneficiaries, one row per
// beneficiary with its doses as arrays, on the transaction's connection.
func (imp *registryImport) loadPostgres(ctx context.Context, tx *gorm.DB, conn *sql.Conn) error {
	// ON COMMIT DROP: nothing is left in the session, which matters behind
	// a pooler that hands the connection on.
	if err := tx.Exec(`CREATE TEMP TABLE import_beneficiaries (` + stagingColumnsSQL + `) ON COMMIT DROP`).Error; err != nil {
		return err
	}
	src := &copySource{imp: imp}
	return conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("store: registry import: not a pgx connection (%T)", dc)
		}
		_, err := sc.Conn().CopyFrom(ctx, pgx.Identifier{"import_beneficiaries"}, stagingColumns, src)
		if src.err != nil {
			return src.err
		}
		return err
	})
}

// sqliteBatch is how many rows one prepared insert carries: many rows per
// statement cut the per-statement cost, and 100 x 7 parameters stay far
// below SQLite's limit.
const sqliteBatch = 100

// loadSQLite inserts the records into temporary tables with batched
// prepared statements.
func (imp *registryImport) loadSQLite(ctx context.Context, tx *gorm.DB) error {
	for _, q := range []string{
		"DROP TABLE IF EXISTS temp.import_beneficiaries",
		"DROP TABLE IF EXISTS temp.import_doses",
		"DROP TABLE IF EXISTS temp.import_changes",
		`CREATE TEMP TABLE import_beneficiaries (line INTEGER NOT NULL, id TEXT NOT NULL, mobile TEXT NOT NULL,
			name TEXT NOT NULL, name_key TEXT NOT NULL, year_of_birth INTEGER NOT NULL, content_hash BLOB NOT NULL)`,
		`CREATE TEMP TABLE import_doses (beneficiary_id TEXT NOT NULL, vaccine TEXT NOT NULL,
			dose_number INTEGER NOT NULL, total_doses INTEGER NOT NULL, dose_date TEXT NOT NULL)`,
	} {
		if err := tx.Exec(q).Error; err != nil {
			return err
		}
	}
	pool := tx.Statement.ConnPool
	bens := &batchInsert{pool: pool, table: "import_beneficiaries",
		columns: "line, id, mobile, name, name_key, year_of_birth, content_hash", width: 7}
	doses := &batchInsert{pool: pool, table: "import_doses",
		columns: "beneficiary_id, vaccine, dose_number, total_doses, dose_date", width: 5}
	defer bens.close()
	defer doses.close()
	for {
		rec, err := imp.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		imp.loaded++
		if err := bens.add(ctx, rec.Line, rec.ID, rec.Mobile, rec.Name, rec.NameKey, rec.YearOfBirth, rec.contentHash()); err != nil {
			return err
		}
		for _, d := range rec.Doses {
			if err := doses.add(ctx, rec.ID, d.Vaccine, d.DoseNumber, d.TotalDoses, d.DoseDate); err != nil {
				return err
			}
		}
	}
	if err := bens.flush(ctx); err != nil {
		return err
	}
	return doses.flush(ctx)
}

// batchInsert buffers rows and inserts them sqliteBatch at a time through
// one prepared statement.
type batchInsert struct {
	pool    gorm.ConnPool
	table   string
	columns string
	width   int
	args    []any
	stmt    *sql.Stmt
}

func (b *batchInsert) query(rows int) string {
	row := "(" + strings.TrimSuffix(strings.Repeat("?,", b.width), ",") + ")"
	return "INSERT INTO " + b.table + " (" + b.columns + ") VALUES " +
		strings.TrimSuffix(strings.Repeat(row+",", rows), ",")
}

func (b *batchInsert) add(ctx context.Context, vals ...any) error {
	b.args = append(b.args, vals...)
	if len(b.args) < sqliteBatch*b.width {
		return nil
	}
	if b.stmt == nil {
		stmt, err := b.pool.PrepareContext(ctx, b.query(sqliteBatch))
		if err != nil {
			return err
		}
		b.stmt = stmt
	}
	_, err := b.stmt.ExecContext(ctx, b.args...)
	b.args = b.args[:0]
	return err
}

// flush inserts what is left, fewer than a batch.
func (b *batchInsert) flush(ctx context.Context) error {
	if len(b.args) == 0 {
		return nil
	}
	_, err := b.pool.ExecContext(ctx, b.query(len(b.args)/b.width), b.args...)
	b.args = b.args[:0]
	return err
}

func (b *batchInsert) close() {
	if b.stmt != nil {
		_ = b.stmt.Close()
	}
}

func execCount(tx *gorm.DB, q string, args ...any) (int64, error) {
	res := tx.Exec(q, args...)
	return res.RowsAffected, res.Error
}
