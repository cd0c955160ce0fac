package web

import (
	"crypto/sha512"
	"encoding/base64"
)

// ButtonPath is where kycvs serves version 1 of the "Share vaccination
// status" button script (static/button/v1/kycvs-button.js). A published
// version never changes: relying parties pin it with ButtonIntegrity, so a
// change to the script ships as a new version at a new path, and old
// versions stay served.
const ButtonPath = "/static/button/v1/kycvs-button.js"

// buttonIntegrity is computed once from the embedded file.
var buttonIntegrity = func() string {
	b, err := staticFiles.ReadFile("static/button/v1/kycvs-button.js")
	if err != nil {
		panic(err) // embedded at build time: cannot fail at run time
	}
	sum := sha512.Sum384(b)
	return "sha384-" + base64.StdEncoding.EncodeToString(sum[:])
}()

// ButtonIntegrity returns the Subresource Integrity value of the script at
// ButtonPath ("sha384-..."), the value relying parties put in the
// integrity attribute of its script tag. docs/integration.md publishes it;
// a test keeps the two equal.
func ButtonIntegrity() string { return buttonIntegrity }
