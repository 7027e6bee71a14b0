package orchestration

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/omnitriage/omnitriage/internal/derrors"
)

func TestCaptureIdempotencyComparesCanonicalBody(t *testing.T) {
	t.Parallel()
	svc, _ := newTestService(t)
	buildNetwork(t, svc, map[string][]int{"A-1": {50, 50, 50}})
	ctx := context.Background()
	req := order("W-CANON", "A-1", 1)
	first, err := svc.Capture(ctx, "test", &Idempotency{Scope: "k", Key: "canon",
		Body: []byte(`{"channel":"web","lines":[{"sku":"A-1","qty":1,"unit_price":10}],"n":1e2}`)}, req)
	if err != nil {
		t.Fatal(err)
	}
	// What a client library may send on retry: other key order, whitespace,
	// escaping and number spelling.
	for _, body := range []string{
		`{ "n" : 100, "lines" : [ { "unit_price" : 10.0, "qty" : 1, "sku" : "A-1" } ], "channel" : "web" }`,
		"{\n\t\"channel\": \"w\\u0065b\",\n\t\"lines\": [{\"qty\": 1.0, \"sku\": \"A\\u002d1\", \"unit_price\": 1e1}],\n\t\"n\": 100.00\n}",
	} {
		again, err := svc.Capture(ctx, "test", &Idempotency{Scope: "k", Key: "canon", Body: []byte(body)}, req)
		if err != nil {
			t.Errorf("retry as %s = %v, want the first answer replayed", body, err)
			continue
		}
		if !again.Replayed || again.Order.ID != first.Order.ID {
			t.Errorf("retry as %s = replayed %t order %s, want replay of %s", body, again.Replayed, again.Order.ID, first.Order.ID)
		}
	}
	// Different content under the key is still a conflict.
	_, err = svc.Capture(ctx, "test", &Idempotency{Scope: "k", Key: "canon",
		Body: []byte(`{"channel":"web","lines":[{"sku":"A-1","qty":2,"unit_price":10}],"n":1e2}`)}, req)
	if !errors.Is(err, derrors.Conflict) {
		t.Errorf("same key, other qty = %v, want Conflict", err)
	}
}

func TestCaptureSameExternalIDDifferentContentConflicts(t *testing.T) {
	t.Parallel()
	svc, pool := newTestService(t)
	buildNetwork(t, svc, map[string][]int{"A-1": {50, 50, 50}, "B-2": {50, 50, 50}})
	ctx := context.Background()
	promised := time.Now().Add(72 * time.Hour).UTC().Truncate(time.Second)
	req := order("W-EXT", "A-1", 1)
	req.PromisedBy = &promised
	first, err := svc.Capture(ctx, "test", nil, req)
	if err != nil {
		t.Fatal(err)
	}
	// The same content (the promise written in another zone, currency
	// spelled out where the first left the default) is a retry.
	same := order("W-EXT", "A-1", 1)
	inNY := promised.In(time.FixedZone("EST", -5*3600))
	same.PromisedBy, same.Currency = &inNY, "USD"
	again, err := svc.Capture(ctx, "test", nil, same)
	if err != nil || again.Created || again.Order.ID != first.Order.ID {
		t.Fatalf("same content again = %+v, %v; want the existing order", again.Order.ID, err)
	}
	for name, other := range map[string]CaptureRequest{
		"qty": order("W-EXT", "A-1", 2),
		"sku": order("W-EXT", "B-2", 1),
		"customer": func() CaptureRequest {
			r := order("W-EXT", "A-1", 1)
			r.PromisedBy = &promised
			r.Customer.ID = "someone-else"
			return r
		}(),
	} {
		if name != "customer" {
			other.PromisedBy = &promised
		}
		_, err := svc.Capture(ctx, "test", nil, other)
		var ve *derrors.ValidationError
		if !errors.Is(err, derrors.Conflict) || !errors.As(err, &ve) || ve.Fields[0].Field != "external_id" {
			t.Errorf("other %s under the same external id = %v, want a conflict naming external_id", name, err)
		}
	}
	var lines int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM order_lines WHERE order_id = $1`, first.Order.ID).Scan(&lines); err != nil || lines != 1 {
		t.Errorf("order lines after refused captures = %d, %v; want 1 (unchanged)", lines, err)
	}
}
