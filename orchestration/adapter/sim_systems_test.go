package adapter_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/omnitriage/omnitriage/orchestration/adapter"
)

func TestSimulatorPayments(t *testing.T) {
	ctx := context.Background()
	// Each case authorizes 100.00 USD for order 1, then runs its steps; the
	// last step's error code is checked.
	tx := func(key string, amount float64) adapter.TransactionRequest {
		return adapter.TransactionRequest{IdempotencyKey: key, OrderID: orderID(1), Amount: amount, Currency: "USD"}
	}
	type step struct {
		op  func(*adapter.Simulator, adapter.TransactionRequest) (adapter.Transaction, error)
		req adapter.TransactionRequest
	}
	capture := func(s *adapter.Simulator, r adapter.TransactionRequest) (adapter.Transaction, error) {
		return s.Capture(ctx, r)
	}
	void := func(s *adapter.Simulator, r adapter.TransactionRequest) (adapter.Transaction, error) {
		return s.Void(ctx, r)
	}
	refund := func(s *adapter.Simulator, r adapter.TransactionRequest) (adapter.Transaction, error) {
		return s.Refund(ctx, r)
	}
	tests := []struct {
		name  string
		steps []step
		want  string // error code of the last step, "" for success
	}{
		{"capture all", []step{{capture, tx("c1", 100)}}, ""},
		{"capture part", []step{{capture, tx("c1", 60)}}, ""},
		{"capture more than authorized", []step{{capture, tx("c1", 100.01)}}, "amount_too_large"},
		{"capture twice", []step{{capture, tx("c1", 50)}, {capture, tx("c2", 50)}}, "already_captured"},
		{"void", []step{{void, tx("v1", 100)}}, ""},
		{"capture after void", []step{{void, tx("v1", 100)}, {capture, tx("c1", 100)}}, "authorization_voided"},
		{"void after capture", []step{{capture, tx("c1", 100)}, {void, tx("v1", 100)}}, "already_captured"},
		{"refund before capture", []step{{refund, tx("r1", 10)}}, "not_captured"},
		{"partial refunds", []step{{capture, tx("c1", 100)}, {refund, tx("r1", 60)}, {refund, tx("r2", 40)}}, ""},
		{"refund beyond captured", []step{{capture, tx("c1", 80)}, {refund, tx("r1", 60)}, {refund, tx("r2", 20.01)}}, "amount_too_large"},
		{"unknown authorization", []step{{capture, adapter.TransactionRequest{IdempotencyKey: "c1", OrderID: orderID(1),
			AuthorizationID: "auth_nope", Amount: 1, Currency: "USD"}}}, "resource_missing"},
		{"other currency", []step{{capture, adapter.TransactionRequest{IdempotencyKey: "c1", OrderID: orderID(1), Amount: 1, Currency: "EUR"}}}, "currency_mismatch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := adapter.NewSimulator(adapter.NoFaults(), 1, newClock().Now)
			a, err := s.Authorize(ctx, authReq(1))
			if err != nil || a.Status != adapter.AuthApproved {
				t.Fatalf("Authorize = %+v, %v, want approved", a, err)
			}
			var got adapter.Transaction
			for _, st := range tt.steps {
				if st.req.AuthorizationID == "" {
					st.req.AuthorizationID = a.ID
				}
				got, err = st.op(s, st.req)
			}
			if code(err) != tt.want || (err == nil && got.Status != adapter.TxSucceeded) {
				t.Errorf("last step = %+v, %v, want code %q", got, err, tt.want)
			}
			if adapter.IsRetryable(err) {
				t.Errorf("last step error %v is retryable, want a permanent error", err)
			}
		})
	}
}

func TestSimulatorAuthorizationExpires(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	s := adapter.NewSimulator(adapter.NoFaults(), 1, c.Now)
	a, err := s.Authorize(ctx, authReq(1))
	if err != nil {
		t.Fatal(err)
	}
	if want := start.Add(7 * 24 * time.Hour); !a.ExpiresAt.Equal(want) {
		t.Errorf("ExpiresAt = %v, want %v", a.ExpiresAt, want)
	}
	c.Advance(8 * 24 * time.Hour)
	got, err := s.Capture(ctx, adapter.TransactionRequest{IdempotencyKey: "c1", OrderID: orderID(1), AuthorizationID: a.ID, Amount: 100, Currency: "USD"})
	if err != nil || got.Status != adapter.TxFailed || got.Code != "authorization_expired" {
		t.Errorf("Capture(8 days later) = %+v, %v, want failed authorization_expired", got, err)
	}
	if n := s.Effects().Count(adapter.SystemPayment, adapter.OpCapture); n != 0 {
		t.Errorf("captures = %d, want 0", n)
	}
}

func TestSimulatorDeclines(t *testing.T) {
	ctx := context.Background()
	s := adapter.NewSimulator(adapter.SimConfig{Payment: adapter.PaymentFaults{DeclineRate: 1}}, 1, newClock().Now)
	msg := regexp.MustCompile(`^[a-z_]+: [A-Z].*\.$`)
	for i := range 50 {
		a, err := s.Authorize(ctx, authReq(i))
		if err != nil || a.Status != adapter.AuthDeclined || a.Code == "" || !msg.MatchString(a.Message) {
			t.Fatalf("Authorize(%d) = %+v, %v, want declined with a code and a gateway message", i, a, err)
		}
		_, err = s.Capture(ctx, adapter.TransactionRequest{IdempotencyKey: fmt.Sprint("c", i), OrderID: orderID(i), AuthorizationID: a.ID, Amount: 1, Currency: "USD"})
		if code(err) != "authorization_declined" {
			t.Fatalf("Capture(declined) = %v, want authorization_declined", err)
		}
	}
	if n := len(s.Effects().Log); n != 0 {
		t.Errorf("effects of declines = %d, want 0", n)
	}
}

func goodAddress() adapter.Address {
	return adapter.Address{Line1: " 12  Peachtree street ", City: "Atlanta", Region: "ga", PostalCode: "30303", Country: "us"}
}

func addrReq(i int, a adapter.Address) adapter.AddressRequest {
	return adapter.AddressRequest{IdempotencyKey: fmt.Sprintf("addr:%d", i), OrderID: orderID(i), Address: a}
}

func TestSimulatorValidateAddress(t *testing.T) {
	ctx := context.Background()
	s := adapter.NewSimulator(adapter.NoFaults(), 1, newClock().Now)
	with := func(f func(*adapter.Address)) adapter.Address { a := goodAddress(); f(&a); return a }
	tests := []struct {
		name      string
		addr      adapter.Address
		wantValid bool
		wantCode  string
	}{
		{"good", goodAddress(), true, ""},
		{"no street", with(func(a *adapter.Address) { a.Line1 = " " }), false, adapter.AddrMissingField},
		{"no city", with(func(a *adapter.Address) { a.City = "" }), false, adapter.AddrMissingField},
		{"no postal code", with(func(a *adapter.Address) { a.PostalCode = "" }), false, adapter.AddrMissingField},
		{"bad ZIP", with(func(a *adapter.Address) { a.PostalCode = "3030" }), false, adapter.AddrInvalidPostalCode},
		{"ZIP+4", with(func(a *adapter.Address) { a.PostalCode = "30303-1234" }), true, ""},
		{"foreign postcode", with(func(a *adapter.Address) { a.Country, a.PostalCode = "GB", "SW1A 1AA" }), true, ""},
	}
	for i, tt := range tests {
		got, err := s.ValidateAddress(ctx, addrReq(i, tt.addr))
		if err != nil || got.Valid != tt.wantValid || got.Code != tt.wantCode {
			t.Errorf("%s: ValidateAddress = %+v, %v, want valid %v code %q", tt.name, got, err, tt.wantValid, tt.wantCode)
		}
	}
	got, _ := s.ValidateAddress(ctx, addrReq(0, goodAddress()))
	want := adapter.Address{Line1: "12 Peachtree St", City: "Atlanta", Region: "GA", PostalCode: "30303", Country: "US"}
	if got.Normalized != want {
		t.Errorf("Normalized = %+v, want %+v", got.Normalized, want)
	}
}

func TestSimulatorQuoteTax(t *testing.T) {
	ctx := context.Background()
	s := adapter.NewSimulator(adapter.NoFaults(), 1, newClock().Now)
	lines := []adapter.TaxLine{{LineID: lineID(1, 1), SKU: "A", Qty: 1, Amount: 100}, {LineID: lineID(1, 2), SKU: "B", Qty: 2, Amount: 50, TaxCode: "exempt"}}
	tests := []struct {
		country, region string
		shipping        float64
		wantRate        float64 // -1: any US state rate
		wantAmount      float64 // -1: rate × (100 + shipping)
	}{
		{"DE", "", 0, 0.19, 19},
		{"GB", "", 10, 0.20, 22},
		{"US", "OR", 10, 0, 0},
		{"US", "GA", 0, -1, -1},
		{"BR", "", 0, 0, 0},
	}
	for i, tt := range tests {
		q, err := s.QuoteTax(ctx, adapter.TaxRequest{IdempotencyKey: fmt.Sprint("tax:", i), OrderID: orderID(1), Currency: "USD",
			ShipTo: adapter.Address{Country: tt.country, Region: tt.region}, Lines: lines, Shipping: tt.shipping})
		if err != nil {
			t.Fatalf("QuoteTax(%s %s): %v", tt.country, tt.region, err)
		}
		if tt.wantRate < 0 && (q.Rate < 0.04 || q.Rate > 0.095) || tt.wantRate >= 0 && q.Rate != tt.wantRate {
			t.Errorf("QuoteTax(%s %s).Rate = %v, want %v", tt.country, tt.region, q.Rate, tt.wantRate)
		}
		want := tt.wantAmount
		if want < 0 {
			want = float64(int(q.Rate*(100+tt.shipping)*100+0.5)) / 100
		}
		if q.Amount != want || q.Lines[1].Amount != 0 {
			t.Errorf("QuoteTax(%s %s) = %+v, want amount %v and nothing on the exempt line", tt.country, tt.region, q, want)
		}
	}
}

func TestSimulatorReleaseRejections(t *testing.T) {
	ctx := context.Background()
	s := adapter.NewSimulator(adapter.SimConfig{Fulfillment: adapter.FulfillmentFaults{RejectRate: 1}}, 1, newClock().Now)
	patterns := map[string]*regexp.Regexp{
		adapter.RejectItemNotFound:   regexp.MustCompile(`^SKU SKU-\d not found in bin [A-H]-\d\d-\d\d$`),
		adapter.RejectDamaged:        regexp.MustCompile(`^Item damaged at pick: SKU SKU-\d, \d unit\(s\) moved to quarantine$`),
		adapter.RejectCapacity:       regexp.MustCompile(`^Pick capacity reached at DC-ATL: (\d+) of (\d+) picks scheduled today$`),
		adapter.RejectLocationClosed: regexp.MustCompile(`^Location DC-ATL closed for stocktake`),
	}
	seen := map[string]bool{}
	for i := range 200 {
		r, err := s.Release(ctx, releaseReq(i))
		p := patterns[r.RejectReason]
		if err != nil || r.Accepted || p == nil || !p.MatchString(r.Message) || r.Code == "" {
			t.Fatalf("Release(%d) = %+v, %v, want a rejection with a WMS-style message", i, r, err)
		}
		if perLine := r.RejectReason == adapter.RejectItemNotFound || r.RejectReason == adapter.RejectDamaged; perLine != (len(r.RejectedLines) == 1) {
			t.Errorf("Release(%d) %s rejected lines = %v, want one line for item problems, none for the whole location", i, r.RejectReason, r.RejectedLines)
		}
		seen[r.RejectReason] = true
	}
	if len(seen) != len(patterns) {
		t.Errorf("reasons seen = %v, want all of %d", seen, len(patterns))
	}
	if n := len(s.Effects().Log); n != 0 {
		t.Errorf("effects of rejections = %d, want 0", n)
	}
}

func TestSimulatorTrackingOverTime(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	s := adapter.NewSimulator(adapter.NoFaults(), 1, c.Now)
	b, err := s.Book(ctx, bookReq(1, atlanta, seattle))
	if err != nil {
		t.Fatal(err)
	}
	// Atlanta to Seattle is about 3500 km: 1 + 7 days at standard service.
	if want := time.Date(2026, 11, 11, 18, 0, 0, 0, time.UTC); !b.EstimatedDelivery.Equal(want) || !strings.HasPrefix(b.TrackingNumber, "UPS") {
		t.Errorf("Book = %+v, want a UPS tracking number and delivery at %v", b, want)
	}
	kinds := func() string {
		ev, err := s.Track(ctx, b.TrackingNumber)
		if err != nil {
			t.Fatal(err)
		}
		var k []string
		for i, e := range ev {
			k = append(k, e.Code)
			if i > 0 && e.At.Before(ev[i-1].At) {
				t.Errorf("events out of order: %+v", ev)
			}
		}
		return strings.Join(k, ",")
	}
	steps := []struct {
		at   time.Time
		want string
	}{
		{start, ""},
		{b.EstimatedDelivery.Add(-time.Hour), "picked_up,departed_facility,arrived_facility,out_for_delivery"},
		{b.EstimatedDelivery, "picked_up,departed_facility,arrived_facility,out_for_delivery,delivered"},
	}
	for _, st := range steps {
		c.Advance(st.at.Sub(c.Now()))
		if got := kinds(); got != st.want {
			t.Errorf("Track at %v = %s, want %s", st.at, got, st.want)
		}
	}
	if _, err := s.Track(ctx, "UPS000"); code(err) != adapter.CodeNotFound {
		t.Errorf("Track(unknown) = %v, want %s", err, adapter.CodeNotFound)
	}
}

func TestSimulatorDisruptions(t *testing.T) {
	ctx := context.Background()
	// Shipments are booked at start (Nov 3 09:00); within a region they are
	// delivered at 18:00 the next day, before the storm, cross-country on Nov 11.
	storm := adapter.Disruption{Region: "US-SE", From: start.Add(40 * time.Hour), To: start.Add(88 * time.Hour)}
	held := storm.To.Sub(storm.From) + 12*time.Hour // until the storm ends, plus the backlog
	tests := []struct {
		name      string
		exception bool
		from, to  adapter.Place
		wantCode  string        // the code of the disruption event, "" for none
		wantShift time.Duration // delivery after the estimate; -1 for no delivery
	}{
		{"within the region, delivered before the storm", false, atlanta, macon, "", 0},
		{"into the region", false, seattle, miami, "regional_disruption", held},
		{"out of the region", false, atlanta, seattle, "regional_disruption", held},
		{"elsewhere", false, seattle, tacoma, "", 0},
		{"exception: into the region", true, seattle, miami, "regional_disruption", -1},
		{"exception: elsewhere", true, seattle, tacoma, "", 0},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := storm
			d.Exception = tt.exception
			c := newClock()
			s := adapter.NewSimulator(adapter.SimConfig{Carrier: adapter.CarrierFaults{Disruptions: []adapter.Disruption{d}}}, 1, c.Now)
			b, err := s.Book(ctx, bookReq(i, tt.from, tt.to))
			if err != nil {
				t.Fatal(err)
			}
			c.Advance(60 * 24 * time.Hour)
			ev, err := s.Track(ctx, b.TrackingNumber)
			if err != nil {
				t.Fatal(err)
			}
			var gotCode string
			shift := time.Duration(-1)
			for _, e := range ev {
				switch e.Kind {
				case adapter.TrackDelayed, adapter.TrackException:
					gotCode = e.Code
					if wantKind := map[bool]string{false: adapter.TrackDelayed, true: adapter.TrackException}[tt.exception]; e.Kind != wantKind ||
						e.Region != "US-SE" || !strings.Contains(e.Message, "US-SE") || !e.At.Equal(d.From) {
						t.Errorf("disruption event = %+v, want %s in US-SE at %v", e, wantKind, d.From)
					}
				case adapter.TrackDelivered:
					shift = e.At.Sub(b.EstimatedDelivery)
				}
			}
			if gotCode != tt.wantCode || shift != tt.wantShift {
				t.Errorf("Track = code %q, delivered %v after the estimate, want code %q, %v\n%+v", gotCode, shift, tt.wantCode, tt.wantShift, ev)
			}
		})
	}
}

func TestSimulatorERP(t *testing.T) {
	ctx := context.Background()
	t.Run("pending, then acknowledged", func(t *testing.T) {
		c := newClock()
		s := adapter.NewSimulator(adapter.SimConfig{ERP: adapter.ERPFaults{PendingRate: 1}}, 1, c.Now)
		p, err := s.PostInvoice(ctx, invoice(1))
		if err != nil || p.Status != adapter.PostingPending || p.DocumentID != "" {
			t.Fatalf("PostInvoice = %+v, %v, want pending without a document id", p, err)
		}
		if p, err := s.Status(ctx, p.DocumentKey); err != nil || p.Status != adapter.PostingPending {
			t.Errorf("Status at once = %+v, %v, want pending", p, err)
		}
		c.Advance(31 * time.Minute)
		got, err := s.Status(ctx, p.DocumentKey)
		if err != nil || got.Status != adapter.PostingAcknowledged || !strings.HasPrefix(got.DocumentID, "INV") || got.Kind != adapter.OpPostInvoice {
			t.Errorf("Status 31 min later = %+v, %v, want acknowledged INV…", got, err)
		}
		if n := s.Effects().Count(adapter.SystemERP, adapter.OpPostInvoice); n != 1 {
			t.Errorf("invoices = %d, want 1", n)
		}
	})
	t.Run("lines must add up", func(t *testing.T) {
		s := adapter.NewSimulator(adapter.NoFaults(), 1, newClock().Now)
		doc := invoice(1)
		doc.Total = 107.99
		p, err := s.PostInvoice(ctx, doc)
		want := "Document total 107.99 USD does not equal the sum of its lines 108.00 USD"
		if err != nil || p.Status != adapter.PostingRejected || p.Code != adapter.ERPAmountMismatch || p.Message != want {
			t.Errorf("PostInvoice(bad total) = %+v, %v, want rejected %q", p, err, want)
		}
	})
	t.Run("rejections read like an ERP", func(t *testing.T) {
		s := adapter.NewSimulator(adapter.SimConfig{ERP: adapter.ERPFaults{RejectRate: 1}}, 1, newClock().Now)
		seen := map[string]string{}
		for i := range 100 {
			p, err := s.PostCreditMemo(ctx, invoice(i))
			if err != nil || p.Status != adapter.PostingRejected {
				t.Fatalf("PostCreditMemo = %+v, %v, want rejected", p, err)
			}
			seen[p.Code] = p.Message
		}
		if got := seen[adapter.ERPPeriodClosed]; got != "Posting period 2026/11 is closed" {
			t.Errorf("period closed message = %q, want %q", got, "Posting period 2026/11 is closed")
		}
		if len(seen) != 4 {
			t.Errorf("rejection codes = %v, want 4 kinds", seen)
		}
	})
	t.Run("a document key belongs to one document", func(t *testing.T) {
		s := adapter.NewSimulator(adapter.NoFaults(), 1, newClock().Now)
		if _, err := s.PostInvoice(ctx, invoice(1)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.PostCreditMemo(ctx, invoice(1)); code(err) != "document_key_reused" {
			t.Errorf("PostCreditMemo(invoice's key) = %v, want document_key_reused", err)
		}
		if _, err := s.Status(ctx, "nope"); code(err) != adapter.CodeNotFound {
			t.Errorf("Status(unknown) = %v, want %s", err, adapter.CodeNotFound)
		}
	})
}

func TestSimulatorSend(t *testing.T) {
	ctx := context.Background()
	s := adapter.NewSimulator(adapter.NoFaults(), 1, newClock().Now)
	tests := []struct {
		channel, to string
		want        string
	}{
		{adapter.ChannelEmail, "ana@example.com", ""},
		{adapter.ChannelEmail, "ana.example.com", "invalid_recipient"},
		{adapter.ChannelSMS, "+14045550123", ""},
		{adapter.ChannelSMS, "404-555-0123", "invalid_recipient"},
		{adapter.ChannelPush, "device-token-1", ""},
	}
	for i, tt := range tests {
		n := notification(i)
		n.Channel, n.To = tt.channel, tt.to
		r, err := s.Send(ctx, n)
		if code(err) != tt.want || (err == nil && !strings.HasPrefix(r.ID, "msg_")) {
			t.Errorf("Send(%s %s) = %+v, %v, want code %q", tt.channel, tt.to, r, err, tt.want)
		}
	}
	e := s.Effects()
	if e.Count(adapter.SystemNotify, adapter.OpSend) != 3 || e.Log[0].Ref != adapter.TemplateConfirmation || e.Log[0].To != "ana@example.com" {
		t.Errorf("Effects() = %+v, want 3 sends, the first a confirmation to ana@example.com", e)
	}
}
