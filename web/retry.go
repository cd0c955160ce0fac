package web

import (
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
)

// RetryAfter sets the Retry-After header (RFC 9110 §10.2.3) to d in whole
// seconds, rounded up and at least 1, so a client that waits that long is
// not refused again by the same limit. Every 429 carries it; call it
// before writing the answer.
func RetryAfter(c *gin.Context, d time.Duration) {
	s := int64((d + time.Second - 1) / time.Second)
	c.Header("Retry-After", strconv.FormatInt(max(s, 1), 10))
}
