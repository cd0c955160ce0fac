package oauth

import (
	"context"
	"sync"

	"github.com/gin-gonic/gin"

	"github.com/kycvs/kycvs/store"
)

// clientMemo remembers the clients one request has read. fosite looks the
// client up again for every stored piece of a grant (code, PKCE, OpenID
// session, token), so a token request would otherwise read the same row
// five times. The memo lives for one request only, so a client disabled or
// changed meanwhile is seen by the next request.
type clientMemo struct {
	mu      sync.Mutex
	clients map[string]*store.Client
}

type clientMemoKey struct{}

// memoizeClients gives each protocol request its own client memo.
func memoizeClients(c *gin.Context) {
	c.Request = c.Request.WithContext(withClientMemo(c.Request.Context()))
	c.Next()
}

// withClientMemo returns ctx with a new, empty client memo.
func withClientMemo(ctx context.Context) context.Context {
	return context.WithValue(ctx, clientMemoKey{}, &clientMemo{clients: map[string]*store.Client{}})
}

// getClient reads a client through the request's memo, when there is one.
// Callers must not modify the returned client.
func getClient(ctx context.Context, st *store.Store, id string) (*store.Client, error) {
	memo, _ := ctx.Value(clientMemoKey{}).(*clientMemo)
	if memo != nil {
		memo.mu.Lock()
		c, ok := memo.clients[id]
		memo.mu.Unlock()
		if ok {
			return c, nil
		}
	}
	c, err := st.GetClient(ctx, id)
	if err != nil {
		return nil, err
	}
	if memo != nil {
		memo.mu.Lock()
		memo.clients[id] = c
		memo.mu.Unlock()
	}
	return c, nil
}

// hasClientMemo reports whether ctx is a request's with a client memo.
func hasClientMemo(ctx context.Context) bool {
	_, ok := ctx.Value(clientMemoKey{}).(*clientMemo)
	return ok
}

// rememberClient puts c, read along with something else, in the request's
// memo, unless the memo holds that client already.
func rememberClient(ctx context.Context, c *store.Client) {
	memo, _ := ctx.Value(clientMemoKey{}).(*clientMemo)
	if memo == nil || c == nil {
		return
	}
	memo.mu.Lock()
	defer memo.mu.Unlock()
	if _, ok := memo.clients[c.ID]; !ok {
		memo.clients[c.ID] = c
	}
}
