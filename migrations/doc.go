// Package migrations owns the database schema: versioned goose SQL files for
// PostgreSQL and SQLite, embedded in the binary. The schema is never derived
// from the gorm models.
package migrations
