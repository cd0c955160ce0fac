// Package locale owns the languages kycvs speaks to people: the thirteen
// supported languages, the choice of one for a request, and the message
// catalogues every person-facing page and SMS is written from.
//
// Each language has one catalogue file, messages/<code>.toml, in go-i18n's
// TOML format: nested tables give the message IDs ("login.title"), a
// plain string is a message, and a table with "one" and "other" is a
// message with plural forms (CLDR rules; every supported language uses
// those two). Placeholders are {{.Name}}; the same message carries the same
// placeholders in every language, which the package's tests check, as they
// check that every English key exists in every other file. Messages are
// plain text: no markup, so a translation can never break a page; web adds
// emphasis around arguments, not inside messages.
//
// A language is chosen, in order, by the relying party's ui_locales (OIDC
// Core §3.1.2.1), the person's own pick on a page, Accept-Language, and
// English. Matching uses golang.org/x/text/language, so "hi", "hi-IN" and
// "hin" all give Hindi. web applies this order for pages; consent for the
// SMS.
//
// docs/translations.md says which catalogues a native speaker has reviewed
// and how a reviewer changes a string.
package locale
