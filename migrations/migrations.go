// Package migrations holds omnitriage's schema as numbered goose SQL files,
// embedded into the binary.
package migrations

import "embed"

// FS holds the migration files.
//
//go:embed *.sql
var FS embed.FS
