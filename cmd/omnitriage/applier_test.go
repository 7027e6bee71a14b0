package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/omnitriage/omnitriage/internal/auth"
	"github.com/omnitriage/omnitriage/orchestration"
)

// TestRecommendationAppliedOnceThroughCore: an orchestrator's recommendation
// for a carrier timeout on a real order is applied automatically through the
// core's commands, and three concurrent calls with one key change the order
// once.
func TestRecommendationAppliedOnceThroughCore(t *testing.T) {
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
	res, err := orch.Capture(ctx, "test", nil, orchestration.CaptureRequest{Channel: "web", ExternalID: "R-1",
		Customer: orchestration.Customer{ID: "c1"}, ShipTo: &orchestration.Address{Line1: "1 Main", City: "Brooklyn",
			PostalCode: "11201", Country: "US", Lat: &lat, Lon: &lon}, Lines: []orchestration.LineInput{{SKU: "A-1", Qty: 1}}})
	mustDo(err)
	orderID := res.Order.ID
	// The order is waiting for its carrier: a released shipment.
	_, err = ts.app.pool.Exec(ctx, `UPDATE orders SET status = 'released' WHERE id = $1`, orderID)
	mustDo(err)
	_, err = ts.app.pool.Exec(ctx, `INSERT INTO shipments (id, order_id, location_id, status)
		SELECT $1, $2, id, 'released' FROM locations WHERE code = 'nj-wh'`, uuid.New(), orderID)
	mustDo(err)
	_, key, err := ts.app.keys.Create(ctx, "orch", auth.Orchestrator)
	mustDo(err)

	body, _ := json.Marshal(map[string]any{"exception": map[string]any{
		"kind": "integration_error", "severity": "medium", "code": "ETIMEDOUT", "endpoint": "carrier.ship", "order_id": orderID,
		"message": "POST https://onlinetools.ups.com/api/shipments/v2409/ship timed out after 30000ms"}})
	var wg sync.WaitGroup
	answers := make([]string, 3)
	for i := range answers {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			resp, b := doHeaders(t, "POST", ts.url+"/v1/recommendations", key, string(body), map[string]string{"Idempotency-Key": "rec-1"})
			if resp.StatusCode >= 300 {
				t.Errorf("POST /v1/recommendations = %d %s", resp.StatusCode, b)
			}
			answers[i] = string(b)
		}(i)
	}
	wg.Wait()
	if !strings.Contains(answers[0], `"auto_applied"`) {
		t.Fatalf("recommendation = %s, want auto_applied", answers[0])
	}
	for i := range answers {
		if answers[i] != answers[0] {
			t.Errorf("answer %d differs from the first:\n%s\n%s", i, answers[i], answers[0])
		}
	}
	var commands, events int
	mustDo(ts.app.pool.QueryRow(ctx, `SELECT count(*) FROM order_commands WHERE order_id = $1`, orderID).Scan(&commands))
	mustDo(ts.app.pool.QueryRow(ctx, `SELECT count(*) FROM order_events WHERE order_id = $1 AND kind = 'command_retry'`, orderID).Scan(&events))
	if commands != 1 || events != 1 {
		t.Errorf("order commands = %d, retry events = %d; want 1 and 1", commands, events)
	}
}

// doHeaders is do with a JSON body and extra headers.
func doHeaders(t *testing.T, method, url, key, body string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}
