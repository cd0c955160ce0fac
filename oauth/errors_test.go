package oauth

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/ory/fosite"
)

// The exchange that loses a race for one code finds it used at its
// conditional update, which fosite reports as a server error: the client
// gets invalid_grant (400), as for any spent code, not a 500.
func TestRacedCodeIsInvalidGrant(t *testing.T) {
	c, _ := gin.CreateTestContext(httptest.NewRecorder())
	c.Request = httptest.NewRequest(http.MethodPost, "/oauth2/token", nil)
	raced := fosite.ErrServerError.WithWrap(fosite.ErrInvalidatedAuthorizeCode).WithDebug(fosite.ErrInvalidatedAuthorizeCode.Error())
	var rfc *fosite.RFC6749Error
	if err := (&Provider{}).protocolError(c, raced); !errors.As(err, &rfc) || rfc.ErrorField != "invalid_grant" || rfc.CodeField != http.StatusBadRequest {
		t.Errorf("raced exchange: %v, want invalid_grant 400", err)
	}
	// Other server errors stay server errors.
	other := fosite.ErrServerError.WithWrap(errors.New("disk full"))
	if err := (&Provider{}).protocolError(c, other); !errors.As(err, &rfc) || rfc.CodeField != http.StatusInternalServerError {
		t.Errorf("other server error: %v, want 500", err)
	}
}
