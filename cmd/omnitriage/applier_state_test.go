package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/omnitriage/omnitriage/internal/auth"
	"github.com/omnitriage/omnitriage/orchestration"
	"github.com/omnitriage/omnitriage/rules"
	"github.com/omnitriage/omnitriage/triage"
)

// TestRefusedFixNotOffered reports a carrier timeout for an order whose
// parcel is already with the carrier: the core would refuse a retry of the
// booking now, so retry is not offered as the fix (it stays an infeasible
// alternative saying why), nothing is retried, and the order is unchanged
// by the check.
func TestRefusedFixNotOffered(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	ctx := context.Background()
	orch := ts.app.orch
	mustDo := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err := orch.CreateChannel(ctx, orchestration.Channel{Code: "web", Name: "Web", Kind: orchestration.ChannelWeb, Active: true})
	mustDo(err)
	_, err = orch.CreateLocation(ctx, orchestration.Location{Code: "nj-wh", Name: "Newark", Kind: "warehouse", Region: "northeast",
		Lat: 40.7, Lon: -74.2, CanShip: true, Active: true})
	mustDo(err)
	_, err = orch.CreateSKU(ctx, orchestration.SKU{Code: "A-1", Name: "Item", Price: 10, Cost: 4, Active: true})
	mustDo(err)
	n := 20
	_, err = orch.AdjustInventory(ctx, "test", orchestration.AdjustmentBatch{Source: "wms", Adjustments: []orchestration.Adjustment{
		{SKU: "A-1", Location: "nj-wh", Count: &n}}})
	mustDo(err)
	lat, lon := 40.69, -73.99
	res, err := orch.Capture(ctx, "test", nil, orchestration.CaptureRequest{Channel: "web", ExternalID: "S-1",
		Customer: orchestration.Customer{ID: "c1"}, ShipTo: &orchestration.Address{Line1: "1 Main", City: "Brooklyn",
			PostalCode: "11201", Country: "US", Lat: &lat, Lon: &lon}, Lines: []orchestration.LineInput{{SKU: "A-1", Qty: 1}}})
	mustDo(err)
	orderID := res.Order.ID
	// The parcel is in transit: no shipment waits for its carrier.
	_, err = ts.app.pool.Exec(ctx, `UPDATE orders SET status = 'shipped' WHERE id = $1`, orderID)
	mustDo(err)
	_, err = ts.app.pool.Exec(ctx, `INSERT INTO shipments (id, order_id, location_id, status)
		SELECT $1, $2, id, 'in_transit' FROM locations WHERE code = 'nj-wh'`, uuid.New(), orderID)
	mustDo(err)
	_, key, err := ts.app.keys.Create(ctx, "orch", auth.Orchestrator)
	mustDo(err)
	events := func() int {
		var n int
		mustDo(ts.app.pool.QueryRow(ctx, `SELECT count(*) FROM order_events WHERE order_id = $1`, orderID).Scan(&n))
		return n
	}
	before := events()

	body, _ := json.Marshal(map[string]any{"exception": map[string]any{
		"kind": "integration_error", "severity": "medium", "code": "ETIMEDOUT", "endpoint": "carrier.ship", "order_id": orderID,
		"message": "POST https://onlinetools.ups.com/api/shipments/v2409/ship timed out after 30000ms"}, "mode": "dry_run"})
	resp, b := doHeaders(t, "POST", ts.url+"/v1/recommendations", key, string(body), nil)
	if resp.StatusCode != 200 {
		t.Fatalf("POST /v1/recommendations = %d %s", resp.StatusCode, b)
	}
	var rec triage.Recommendation
	mustDo(json.Unmarshal(b, &rec))
	if rec.Cause != "integration_timeout" {
		t.Fatalf("cause %s, want integration_timeout: %s", rec.Cause, b)
	}
	if rec.Action == rules.ActionRetry {
		t.Errorf("retry of the carrier booking offered for an order in transit: %s", b)
	}
	var retry *triage.Candidate
	for i := range rec.Alternatives {
		if rec.Alternatives[i].Action == rules.ActionRetry {
			retry = &rec.Alternatives[i]
		}
	}
	if retry == nil || retry.Feasible || !strings.Contains(retry.ExpectedEffect, "no shipment waiting for its carrier") {
		t.Errorf("retry alternative = %+v, want it infeasible with the core's refusal", retry)
	}
	var commands int
	mustDo(ts.app.pool.QueryRow(ctx, `SELECT count(*) FROM order_commands WHERE order_id = $1`, orderID).Scan(&commands))
	var status string
	mustDo(ts.app.pool.QueryRow(ctx, `SELECT status FROM orders WHERE id = $1`, orderID).Scan(&status))
	if commands != 0 || events() != before || status != "shipped" {
		t.Errorf("after the check: %d commands, %d new events, status %s; want none, none, shipped", commands, events()-before, status)
	}
}

// TestCheckCommand: the core's what-if accepts what it would apply and
// refuses what the order's state does not allow, applying neither.
func TestCheckCommand(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	ctx := context.Background()
	orch := ts.app.orch
	_, err := orch.CreateChannel(ctx, orchestration.Channel{Code: "web", Name: "Web", Kind: orchestration.ChannelWeb, Active: true})
	if err != nil {
		t.Fatal(err)
	}
	_, err = orch.CreateSKU(ctx, orchestration.SKU{Code: "A-1", Name: "Item", Price: 10, Cost: 4, Active: true})
	if err != nil {
		t.Fatal(err)
	}
	res, err := orch.Capture(ctx, "test", nil, orchestration.CaptureRequest{Channel: "web", ExternalID: "C-1",
		Customer: orchestration.Customer{ID: "c1"}, ShipTo: &orchestration.Address{Line1: "1 Main", City: "Brooklyn",
			PostalCode: "11201", Country: "US", Lat: new(40.69), Lon: new(-73.99)}, Lines: []orchestration.LineInput{{SKU: "A-1", Qty: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	id := res.Order.ID
	var before string
	if err := ts.app.pool.QueryRow(ctx, `SELECT status FROM orders WHERE id = $1`, id).Scan(&before); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		cmd     orchestration.Command
		refused bool
	}{
		{orchestration.Command{ID: "w1", OrderID: id, Kind: orchestration.CmdHold}, before == orchestration.StatusOnHold},
		{orchestration.Command{ID: "w2", OrderID: id, Kind: orchestration.CmdRetry, Step: "ship"}, true},
		{orchestration.Command{ID: "w3", OrderID: id, Kind: orchestration.CmdRetry, Step: "post"}, false},
	} {
		err := orch.CheckCommand(ctx, "test", tt.cmd)
		if (err != nil) != tt.refused {
			t.Errorf("CheckCommand(%s %s) = %v, want refused %v", tt.cmd.Kind, tt.cmd.Step, err, tt.refused)
		}
	}
	var after string
	var commands int
	if err := ts.app.pool.QueryRow(ctx, `SELECT status, (SELECT count(*) FROM order_commands) FROM orders WHERE id = $1`, id).Scan(&after, &commands); err != nil {
		t.Fatal(err)
	}
	if after != before || commands != 0 {
		t.Errorf("after what-ifs: status %s (was %s), %d commands stored; want unchanged, none", after, before, commands)
	}
}
