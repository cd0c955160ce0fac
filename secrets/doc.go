// Package secrets derives every key kycvs uses from the one server secret.
//
// Each purpose has its own label, listed in one table (purposes.go), so a
// key that leaks from one use unlocks no other, and no two packages can
// pick the same label by accident. A label is part of stored or published
// values: changing one silently changes every pairwise sub, invalidates
// every stored OTP, client secret or API key hash, or resets counters. The
// golden test pins each label's key for a fixed secret; a change to it must
// be a deliberate migration, never a rename.
package secrets
