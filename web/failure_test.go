package web_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/web"
)

// TestFailureOf: every surface answers an unexpected error the same way:
// an unreachable or too slow database is a 503 outage with Retry-After,
// anything else a 500.
func TestFailureOf(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		status int
	}{
		{"database unavailable", fmt.Errorf("%w: dial tcp: connection refused", store.ErrUnavailable), http.StatusServiceUnavailable},
		{"request timed out", fmt.Errorf("query: %w", context.DeadlineExceeded), http.StatusServiceUnavailable},
		{"a bug", errors.New("unexpected"), http.StatusInternalServerError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := web.FailureOf(tt.err)
			if f.Status != tt.status || f.Outage != (tt.status == http.StatusServiceUnavailable) || f.Message == "" {
				t.Fatalf("FailureOf = %+v", f)
			}
			w := httptest.NewRecorder()
			c, _ := gin.CreateTestContext(w)
			c.Request = httptest.NewRequest(http.MethodGet, "/", nil)
			f.Answer(c, web.Log(c), tt.err)
			if got := w.Header().Get("Retry-After"); (got != "") != f.Outage {
				t.Errorf("Retry-After %q for %+v", got, f)
			}
		})
	}
}
