package loadtest

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// SQLStats is what the server's database round trips cost per verification,
// from its kycvs_db_statements_total and kycvs_db_transactions_total. They
// count everything the server did meanwhile, background clean-up included
// (a few statements a minute).
type SQLStats struct {
	Statements          uint64  `json:"statements"`
	Transactions        uint64  `json:"transactions"`
	StatementsPerFlow   float64 `json:"statements_per_verification"`
	TransactionsPerFlow float64 `json:"transactions_per_verification"`
	// Error says why the figures are missing (the endpoint could not be
	// read before or after the run).
	Error string `json:"error,omitempty"`
}

// dbCounts is one reading of the server's statement counters.
type dbCounts struct {
	statements, transactions uint64
	err                      error
}

// readDBCounts scrapes the counters from the server's metrics endpoint.
func readDBCounts(ctx context.Context, client *http.Client, url string) dbCounts {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return dbCounts{err: err}
	}
	resp, err := client.Do(req)
	if err != nil {
		return dbCounts{err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return dbCounts{err: fmt.Errorf("%s: %s", url, resp.Status)}
	}
	var c dbCounts
	found := 0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok || (name != "kycvs_db_statements_total" && name != "kycvs_db_transactions_total") {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			return dbCounts{err: fmt.Errorf("%s: %s: %v", url, name, err)}
		}
		if name == "kycvs_db_statements_total" {
			c.statements = uint64(v)
		} else {
			c.transactions = uint64(v)
		}
		found++
	}
	if err := sc.Err(); err != nil {
		return dbCounts{err: err}
	}
	if found != 2 {
		return dbCounts{err: fmt.Errorf("%s has no kycvs_db_statements_total or kycvs_db_transactions_total: not kycvs's metrics, or an older kycvs", url)}
	}
	return c
}

// sqlStats is the difference of two readings over completed flows.
func sqlStats(before, after dbCounts, completed uint64) *SQLStats {
	switch {
	case before.err != nil:
		return &SQLStats{Error: before.err.Error()}
	case after.err != nil:
		return &SQLStats{Error: after.err.Error()}
	}
	s := &SQLStats{Statements: after.statements - before.statements, Transactions: after.transactions - before.transactions}
	if completed > 0 {
		s.StatementsPerFlow = float64(s.Statements) / float64(completed)
		s.TransactionsPerFlow = float64(s.Transactions) / float64(completed)
	}
	return s
}
