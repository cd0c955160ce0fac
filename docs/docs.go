// Package docs embeds the guides kycvs serves itself: the integration
// guide for relying parties, at /docs/integration (package home).
package docs

import _ "embed"

// Integration is docs/integration.md, the relying parties' guide.
//
//go:embed integration.md
var Integration string
