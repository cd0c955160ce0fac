package main

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/kycvs/kycvs/oauth"
)

// --database-max-conns sizes the process's PostgreSQL pool. With a
// single connection, verifications made at once all complete: no request
// holds a connection while it waits for another, which would hang a
// process whose connections are all taken.
func TestOneDatabaseConnection(t *testing.T) {
	gw := newSMSGateway(t)
	ts := newTestServer(t, "postgres", func(c *serveConfig) {
		c.DatabaseMaxConns = 1
		c.SMS, c.SMSWebhookSecret = gw.Spec(), gatewaySecret
		c.IPLimit, c.OTPDailyLimit = 0, 0
	})
	db, err := ts.store().DB()
	if err != nil {
		t.Fatal(err)
	}
	if got := db.Stats().MaxOpenConnections; got != 1 {
		t.Fatalf("pool of %d connections, want 1", got)
	}
	people := loadPeople(t, ts.store(), "pool", 8)
	id, secret := ts.client(oauth.ClientSpec{})
	d := &flowDriver{Issuer: ts.URL, ClientID: id, ClientSecret: secret, RedirectURI: "http://127.0.0.1:9/callback", Gateway: gw}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	runs := make([]flowRun, len(people))
	for i, p := range people {
		wg.Go(func() { runs[i] = d.run(ctx, p.Mobile, p.Name) })
	}
	wg.Wait()
	for i, r := range runs {
		if r.Err != nil {
			t.Errorf("verification %d: %v%s", i, r.Err, lastBody(r))
		}
	}
}
