package web

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

// A Failure is an error no handler expected, as every surface answers it:
// the same status, the same words and the same log line whether it ends on
// a page for people (Fail), a JSON API answer (the API's own error code
// with Status and Message) or only in the log.
type Failure struct {
	// Outage: a dependency (the database) is briefly unreachable, so the
	// answer is 503 with Retry-After; otherwise it is a bug, 500.
	Outage bool
	Status int
	// Message is the English sentence for API answers; pages use the
	// catalogues' "unavailable" and "internal" error texts (an outage's
	// also on the sign-in's page that offers to try again, NoMatchPage).
	Message string
}

// OutageRetryAfter is what an outage answer tells a client to wait.
const OutageRetryAfter = 5 * time.Second

// outage is implemented by errors that mean a dependency is briefly
// unreachable (store.ErrUnavailable), so web need not import the store.
type outage interface{ Outage() bool }

// FailureOf classifies err. A timed-out request is an outage too: the
// database answered too slowly to be useful.
func FailureOf(err error) Failure {
	var o outage
	if errors.As(err, &o) && o.Outage() || errors.Is(err, context.DeadlineExceeded) {
		return Failure{Outage: true, Status: http.StatusServiceUnavailable,
			Message: "The service cannot reach its database right now. Try again in a minute."}
	}
	return Failure{Status: http.StatusInternalServerError, Message: "Something went wrong on our side. Try again in a minute."}
}

// Answer logs err on log, under err, and sets Retry-After for an outage.
// API handlers call it, then write their own error body with f's Status
// and Message.
func (f Failure) Answer(c *gin.Context, log *slog.Logger, err error) {
	if f.Outage {
		log.Error("database unavailable", "err", err)
		RetryAfter(c, OutageRetryAfter)
		return
	}
	log.Error("request failed", "err", err)
}

// Fail answers a person's page with the error page for err (FailureOf),
// logged once on log (nil: the request's logger).
func Fail(c *gin.Context, log *slog.Logger, err error) {
	if log == nil {
		log = Log(c)
	}
	f := FailureOf(err)
	f.Answer(c, log, err)
	key := "internal"
	if f.Outage {
		key = "unavailable"
	}
	RenderError(c, f.Status, key)
}
