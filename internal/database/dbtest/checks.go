package dbtest

import (
	"context"
	"regexp"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
)

var checkValue = regexp.MustCompile(`'((?:[^']|'')*)'::text`)

// CheckValues returns the values a table's CHECK constraint of the form
// "column IN (...)" accepts, sorted; it fails t when there is no such
// constraint.
func CheckValues(t testing.TB, pool *pgxpool.Pool, table, constraint string) []string {
	t.Helper()
	var def string
	err := pool.QueryRow(context.Background(), `SELECT pg_get_constraintdef(c.oid) FROM pg_constraint c
		WHERE c.conrelid = $1::regclass AND c.conname = $2 AND c.contype = 'c'`, table, constraint).Scan(&def)
	if err != nil {
		t.Fatalf("constraint %s on %s: %v", constraint, table, err)
	}
	var out []string
	for _, m := range checkValue.FindAllStringSubmatch(def, -1) {
		out = append(out, m[1])
	}
	slices.Sort(out)
	return out
}
