package consent_test

import (
	"net/url"
	"testing"
)

func TestZZPageSizes(t *testing.T) {
	ts := newTestServer(t, "sqlite", nil)
	ch := ts.newChallenge()
	b := ts.browser()
	t.Logf("login %d", len(b.get("/login/"+ch).Body.String()))
	b.post("/login/"+ch, url.Values{"mobile": {mobileAsha}, "name": {nameAsha}})
	t.Logf("otp %d", len(b.get("/login/"+ch+"?m=wrong").Body.String()))
	b.post("/login/"+ch+"/otp", url.Values{"otp": {"000000"}})
	t.Logf("otp wrong %d", len(b.get("/login/"+ch+"?m=wrong").Body.String()))
}
