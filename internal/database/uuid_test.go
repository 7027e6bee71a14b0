package database_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/omnitriage/omnitriage/internal/database"
	"github.com/omnitriage/omnitriage/internal/database/dbtest"
)

// TestUUIDRoundTrip checks that uuid.UUID values, pointers and slices go to
// PostgreSQL and back unchanged through the registered codec, that NULL
// scans only into a pointer, and that a uuid still binds to a text
// parameter as before.
func TestUUIDRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	a, b := uuid.New(), uuid.New()

	var got uuid.UUID
	var gotText string
	if err := pool.QueryRow(ctx, `SELECT $1::uuid, $2::text`, a, a).Scan(&got, &gotText); err != nil {
		t.Fatal(err)
	}
	if got != a || gotText != a.String() {
		t.Errorf("uuid round trip = %s, text %q; want %s both ways", got, gotText, a)
	}

	var some, none *uuid.UUID
	if err := pool.QueryRow(ctx, `SELECT $1::uuid, $2::uuid`, &b, (*uuid.UUID)(nil)).Scan(&some, &none); err != nil {
		t.Fatal(err)
	}
	if some == nil || *some != b || none != nil {
		t.Errorf("pointers: got %v and %v, want %s and nil", some, none, b)
	}

	var ids []uuid.UUID
	if err := pool.QueryRow(ctx, `SELECT $1::uuid[]`, []uuid.UUID{a, b}).Scan(&ids); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids, []uuid.UUID{a, b}) {
		t.Errorf("array round trip = %v, want [%s %s]", ids, a, b)
	}

	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*)::int FROM (VALUES ($1::uuid)) v(id) WHERE id = ANY($2)`, a, []uuid.UUID{b, a}).Scan(&n); err != nil || n != 1 {
		t.Errorf("ANY over a uuid slice: %d rows, %v; want 1", n, err)
	}

	err := pool.QueryRow(ctx, `SELECT NULL::uuid`).Scan(&got)
	if err == nil || !strings.Contains(err.Error(), "NULL") {
		t.Errorf("NULL into uuid.UUID: err = %v, want one naming NULL", err)
	}
}

// TestUUIDEncodePlan checks that a uuid parameter is encoded by the
// registered codec, not through database/sql's Valuer (its string, a failed
// binary encode and a reparse): the reason RegisterUUID exists.
func TestUUIDEncodePlan(t *testing.T) {
	m := pgtype.NewMap()
	before := fmt.Sprintf("%T", m.PlanEncode(pgtype.UUIDOID, pgtype.BinaryFormatCode, uuid.New()))
	database.RegisterUUID(m)
	after := fmt.Sprintf("%T", m.PlanEncode(pgtype.UUIDOID, pgtype.BinaryFormatCode, uuid.New()))
	if strings.Contains(after, "DriverValuer") || after == before {
		t.Errorf("encode plan for uuid.UUID: %s before RegisterUUID, %s after; want the codec's own plan after", before, after)
	}
	scan := fmt.Sprintf("%T", m.PlanScan(pgtype.UUIDOID, pgtype.BinaryFormatCode, new(uuid.UUID)))
	if strings.Contains(scan, "SQLScanner") {
		t.Errorf("scan plan for *uuid.UUID = %s, want the codec's own plan", scan)
	}
}
