package adapter_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/omnitriage/omnitriage/internal/database/dbtest"
	"github.com/omnitriage/omnitriage/orchestration/adapter"
)

// TestSimulatorRestart authorises, books and posts with one simulator, then
// builds another on the same database and seed, as a restarted service does:
// it captures, refunds and tracks what the first one created, replays its
// answers, and applies nothing twice.
func TestSimulatorRestart(t *testing.T) {
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	clk := newClock()
	cfg := adapter.NoFaults()
	cfg.ERP.PendingRate = 1 // every posting waits for its acknowledgement
	first := adapter.NewSimulatorWith(cfg, 3, clk.Now, adapter.SimOptions{Store: adapter.NewPGStore(pool)})
	auth, err := first.Authorize(ctx, authReq(1))
	if err != nil || auth.Status != adapter.AuthApproved {
		t.Fatalf("Authorize = %+v, %v", auth, err)
	}
	booking, err := first.Book(ctx, bookReq(1, atlanta, seattle))
	if err != nil {
		t.Fatalf("Book: %v", err)
	}
	posting, err := first.PostInvoice(ctx, invoice(1))
	if err != nil || posting.Status != adapter.PostingPending {
		t.Fatalf("PostInvoice = %+v, %v, want pending", posting, err)
	}

	restarted := adapter.NewSimulatorWith(cfg, 3, clk.Now, adapter.SimOptions{Store: adapter.NewPGStore(pool)})
	tx := func(key string, amount float64) adapter.TransactionRequest {
		return adapter.TransactionRequest{IdempotencyKey: key, OrderID: orderID(1), AuthorizationID: auth.ID, Amount: amount, Currency: "USD"}
	}
	if again, err := restarted.Authorize(ctx, authReq(1)); err != nil || again != auth {
		t.Errorf("Authorize replayed after restart = %+v, %v, want %+v", again, err, auth)
	}
	if c, err := restarted.Capture(ctx, tx("capture:1", 100)); err != nil || c.Status != adapter.TxSucceeded {
		t.Fatalf("Capture after restart = %+v, %v, want succeeded", c, err)
	}
	if r, err := restarted.Refund(ctx, tx("refund:1", 40)); err != nil || r.Status != adapter.TxSucceeded {
		t.Errorf("Refund after restart = %+v, %v, want succeeded", r, err)
	}
	// The state moved on: a third instance sees the capture and the refund.
	third := adapter.NewSimulatorWith(cfg, 3, clk.Now, adapter.SimOptions{Store: adapter.NewPGStore(pool)})
	if _, err := third.Capture(ctx, tx("capture:again", 100)); code(err) != "already_captured" {
		t.Errorf("second capture under another key = %v, want already_captured", err)
	}
	if _, err := third.Refund(ctx, tx("refund:2", 70)); code(err) != "amount_too_large" {
		t.Errorf("refund over what is left = %v, want amount_too_large", err)
	}
	clk.Advance(10 * 24 * time.Hour)
	events, err := restarted.Track(ctx, booking.TrackingNumber)
	if err != nil || len(events) == 0 || events[len(events)-1].Kind != adapter.TrackDelivered {
		t.Errorf("Track after restart = %+v, %v, want delivered", events, err)
	}
	if p, err := restarted.Status(ctx, "inv:1"); err != nil || p.Status != adapter.PostingAcknowledged {
		t.Errorf("Status after restart = %+v, %v, want acknowledged", p, err)
	}
	if got := restarted.Effects().Count(adapter.SystemPayment, adapter.OpAuthorize); got != 0 {
		t.Errorf("restarted simulator authorised %d times, want 0 (a replay)", got)
	}
	// Another seed is another world: it knows nothing of seed 3.
	other := adapter.NewSimulatorWith(cfg, 4, clk.Now, adapter.SimOptions{Store: adapter.NewPGStore(pool)})
	if _, err := other.Capture(ctx, tx("capture:1", 100)); code(err) != "resource_missing" {
		t.Errorf("capture on seed 4 = %v, want resource_missing", err)
	}
}

// TestSimulatorSpeed: a simulator at speed 1440 (a day a minute) delivers a
// shipment the real one delivers in days within minutes.
func TestSimulatorSpeed(t *testing.T) {
	ctx := context.Background()
	for _, speed := range []float64{1, 1440} {
		clk := newClock()
		s := adapter.NewSimulatorWith(adapter.NoFaults(), 1, clk.Now, adapter.SimOptions{Speed: speed})
		b, err := s.Book(ctx, bookReq(1, atlanta, seattle))
		if err != nil {
			t.Fatal(err)
		}
		transit := b.EstimatedDelivery.Sub(start)
		clk.Advance(transit)
		events, err := s.Track(ctx, b.TrackingNumber)
		if err != nil || events[len(events)-1].Kind != adapter.TrackDelivered {
			t.Errorf("speed %g: Track at the ETA = %+v, %v, want delivered", speed, events, err)
		}
		if speed == 1 && transit < 48*time.Hour {
			t.Errorf("speed 1: transit %v, want days", transit)
		}
		if speed > 1 && transit > 10*time.Minute {
			t.Errorf("speed %g: transit %v, want minutes", speed, transit)
		}
	}
}

// TestAddressVerdictByAddress: whether a well-formed address is deliverable
// depends on the address, not on the order it comes with, so the README's
// example address is accepted for every order.
func TestAddressVerdictByAddress(t *testing.T) {
	ctx := context.Background()
	s := adapter.NewSimulator(adapter.DefaultFaults(), 1, newClock().Now)
	readme := adapter.Address{Line1: "1 Main St", City: "Brooklyn", PostalCode: "11201", Country: "US"}
	for i := range 200 {
		req := adapter.AddressRequest{IdempotencyKey: fmt.Sprintf("address:%d:1", i), OrderID: orderID(i), Address: readme}
		res, _, err := retry(5, func() (adapter.AddressResult, error) { return s.ValidateAddress(ctx, req) })
		if err != nil || !res.Valid {
			t.Fatalf("order %d: README address = %+v, %v; want valid for every order", i, res, err)
		}
	}
}
