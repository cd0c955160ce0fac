package demo_test

import (
	"testing"

	"github.com/kycvs/kycvs/demo"
	"github.com/kycvs/kycvs/web"
)

// Demo Airlines pastes the script tag as the docs show it; the hash it
// pins must be the script kycvs serves.
func TestButtonIntegrity(t *testing.T) {
	if demo.ButtonIntegrity != web.ButtonIntegrity() {
		t.Fatalf("demo.ButtonIntegrity = %s, the script is %s", demo.ButtonIntegrity, web.ButtonIntegrity())
	}
	if demo.ButtonScriptPath != web.ButtonPath {
		t.Fatalf("demo.ButtonScriptPath = %s, kycvs serves %s", demo.ButtonScriptPath, web.ButtonPath)
	}
}
