package adapter_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/omnitriage/omnitriage/internal/derrors"
	"github.com/omnitriage/omnitriage/orchestration/adapter"
)

// start is the simulated "now" of every test.
var start = time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: start} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// orderID is a stable order id for test case i.
func orderID(i int) uuid.UUID {
	return uuid.NewSHA1(uuid.NameSpaceOID, fmt.Appendf(nil, "order-%d", i))
}

// lineID is a stable line id.
func lineID(i, n int) uuid.UUID {
	return uuid.NewSHA1(uuid.NameSpaceOID, fmt.Appendf(nil, "line-%d-%d", i, n))
}

func authReq(i int) adapter.AuthorizeRequest {
	return adapter.AuthorizeRequest{IdempotencyKey: fmt.Sprintf("auth:%d", i), OrderID: orderID(i), Amount: 100,
		Currency: "USD", PaymentRef: "tok_visa"}
}

func fraudReq(i int) adapter.FraudRequest {
	return adapter.FraudRequest{IdempotencyKey: fmt.Sprintf("fraud:%d", i), OrderID: orderID(i), Amount: 80, Currency: "USD",
		CustomerID: "c1", CustomerEmail: "ana@example.com", ShipToCountry: "US", ShipToPostal: "30301", Channel: "web", LineCount: 2}
}

func releaseReq(i int) adapter.ReleaseRequest {
	return adapter.ReleaseRequest{IdempotencyKey: fmt.Sprintf("release:%d", i), OrderID: orderID(i), LocationCode: "DC-ATL",
		Lines: []adapter.ReleaseLine{{LineID: lineID(i, 1), SKU: "SKU-1", Qty: 2}, {LineID: lineID(i, 2), SKU: "SKU-2", Qty: 1}}}
}

// Places used by carrier tests.
var (
	atlanta = adapter.Place{Code: "DC-ATL", Region: "US-SE", Country: "US", Lat: 33.75, Lon: -84.39}
	macon   = adapter.Place{PostalCode: "31201", Region: "US-SE", Country: "US", Lat: 32.84, Lon: -83.63}
	miami   = adapter.Place{PostalCode: "33101", Region: "US-SE", Country: "US", Lat: 25.76, Lon: -80.19}
	seattle = adapter.Place{Code: "DC-SEA", Region: "US-NW", Country: "US", Lat: 47.61, Lon: -122.33}
	tacoma  = adapter.Place{PostalCode: "98402", Region: "US-NW", Country: "US", Lat: 47.25, Lon: -122.44}
)

func bookReq(i int, from, to adapter.Place) adapter.BookRequest {
	return adapter.BookRequest{IdempotencyKey: fmt.Sprintf("book:%d", i), ShipmentID: orderID(-i), OrderID: orderID(i),
		Carrier: "ups", Service: "standard", From: from, To: to, Parcels: []adapter.Parcel{{WeightKg: 1.2}}}
}

func invoice(i int) adapter.Document {
	return adapter.Document{DocumentKey: fmt.Sprintf("inv:%d", i), OrderID: orderID(i), Currency: "USD", Total: 108,
		Lines: []adapter.DocumentLine{{LineID: lineID(i, 1), SKU: "SKU-1", Qty: 2, Net: 60, Tax: 4.8}, {LineID: lineID(i, 2), SKU: "SKU-2", Qty: 1, Net: 40, Tax: 3.2}}}
}

func notification(i int) adapter.Notification {
	return adapter.Notification{Key: fmt.Sprintf("notify:%d", i), OrderID: orderID(i), Channel: adapter.ChannelEmail,
		Template: adapter.TemplateConfirmation, To: "ana@example.com", Data: map[string]any{"order_number": "W-1"}}
}

// retry calls f until it succeeds or fails for good, at most max times, the
// way a durable job would, and returns the attempts made.
func retry[T any](max int, f func() (T, error)) (T, int, error) {
	for attempt := 1; ; attempt++ {
		v, err := f()
		if err == nil || !adapter.IsRetryable(err) || attempt == max {
			return v, attempt, err
		}
	}
}

// code returns the code of an *adapter.Error, or "" for nil.
func code(err error) string {
	var e *adapter.Error
	if errors.As(err, &e) {
		return e.Code
	}
	if err != nil {
		return "not an *adapter.Error: " + err.Error()
	}
	return ""
}

// outcomes runs every kind of call for case i and returns what came back.
func outcomes(ctx context.Context, s *adapter.Simulator, i int) []any {
	a, aerr := s.Authorize(ctx, authReq(i))
	f, ferr := s.Score(ctx, fraudReq(i))
	r, rerr := s.Release(ctx, releaseReq(i))
	b, berr := s.Book(ctx, bookReq(i, atlanta, seattle))
	p, perr := s.PostInvoice(ctx, invoice(i))
	n, nerr := s.Send(ctx, notification(i))
	return []any{a, code(aerr), f, code(ferr), r, code(rerr), b, code(berr), p, code(perr), n, code(nerr)}
}

// faulty has high rates everywhere so every path is taken.
func faulty() adapter.SimConfig {
	t := adapter.Transient{TimeoutRate: 0.1, ErrorRate: 0.1}
	return adapter.SimConfig{
		Payment:     adapter.PaymentFaults{DeclineRate: 0.3, Transient: t},
		Fraud:       adapter.FraudFaults{ReviewRate: 0.3, HighRiskRate: 0.1, Transient: t},
		Tax:         adapter.TaxFaults{InvalidAddressRate: 0.3, Transient: t},
		Fulfillment: adapter.FulfillmentFaults{RejectRate: 0.3, Transient: t},
		Carrier:     adapter.CarrierFaults{DelayRate: 0.3, ExceptionRate: 0.1, Transient: t},
		ERP:         adapter.ERPFaults{RejectRate: 0.2, PendingRate: 0.3, Transient: t},
		Notify:      adapter.NotifyFaults{Transient: t},
	}
}

func TestSimulatorDeterministic(t *testing.T) {
	ctx := context.Background()
	// The second simulator sees the same calls in reverse order: outcomes
	// depend on the seed and the key, not on what came before.
	a, b := adapter.NewSimulator(faulty(), 7, newClock().Now), adapter.NewSimulator(faulty(), 7, newClock().Now)
	c := adapter.NewSimulator(faulty(), 8, newClock().Now)
	const n = 200
	got := make([][]any, n)
	for i := range n {
		got[i] = outcomes(ctx, a, i)
	}
	differs := 0
	for i := n - 1; i >= 0; i-- {
		if want := outcomes(ctx, b, i); !reflect.DeepEqual(got[i], want) {
			t.Errorf("case %d: seed 7 twice = %v, want %v", i, got[i], want)
		}
		if !reflect.DeepEqual(got[i], outcomes(ctx, c, i)) {
			differs++
		}
	}
	if differs < n/2 {
		t.Errorf("seeds 7 and 8 differ in %d of %d cases, want most", differs, n)
	}
}

func TestSimulatorIdempotent(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		system, op, key string
		call            func(s *adapter.Simulator) (any, error)
	}{
		{adapter.SystemPayment, adapter.OpAuthorize, "auth:1", func(s *adapter.Simulator) (any, error) { return s.Authorize(ctx, authReq(1)) }},
		{adapter.SystemFulfillment, adapter.OpRelease, "release:1", func(s *adapter.Simulator) (any, error) { return s.Release(ctx, releaseReq(1)) }},
		{adapter.SystemCarrier, adapter.OpBook, "book:1", func(s *adapter.Simulator) (any, error) { return s.Book(ctx, bookReq(1, atlanta, seattle)) }},
		{adapter.SystemERP, adapter.OpPostInvoice, "inv:1", func(s *adapter.Simulator) (any, error) { return s.PostInvoice(ctx, invoice(1)) }},
		{adapter.SystemNotify, adapter.OpSend, "notify:1", func(s *adapter.Simulator) (any, error) { return s.Send(ctx, notification(1)) }},
	}
	for _, tt := range tests {
		t.Run(tt.system+"."+tt.op, func(t *testing.T) {
			s := adapter.NewSimulator(adapter.NoFaults(), 1, newClock().Now)
			first, err := tt.call(s)
			if err != nil {
				t.Fatalf("first call: %v", err)
			}
			second, err := tt.call(s)
			if err != nil || !reflect.DeepEqual(first, second) {
				t.Errorf("second call = %+v, %v, want %+v, nil", second, err, first)
			}
			e := s.Effects()
			if got := e.Count(tt.system, tt.op); got != 1 {
				t.Errorf("Effects().Count(%q, %q) = %d, want 1", tt.system, tt.op, got)
			}
			if got := e.Applied(tt.system, tt.op, tt.key); got != 1 {
				t.Errorf("Effects().Applied(%q) = %d, want 1", tt.key, got)
			}
			if len(e.Log) != 1 || e.Log[0].Calls != 2 || e.Log[0].OrderID != orderID(1) {
				t.Errorf("Effects().Log = %+v, want one effect on order 1 with 2 calls", e.Log)
			}
		})
	}
}

func TestSimulatorKeyReusedForAnotherRequest(t *testing.T) {
	ctx := context.Background()
	s := adapter.NewSimulator(adapter.NoFaults(), 1, newClock().Now)
	if _, err := s.Authorize(ctx, authReq(1)); err != nil {
		t.Fatal(err)
	}
	other := authReq(1)
	other.Amount = 250
	_, err := s.Authorize(ctx, other)
	var e *adapter.Error
	if !errors.As(err, &e) || e.Code != adapter.CodeIdempotencyReuse || e.Status != 409 || e.Retryable {
		t.Errorf("Authorize(same key, other amount) = %v, want a non-retryable 409 %s", err, adapter.CodeIdempotencyReuse)
	}
}

// within reports whether the observed share got of n trials is within four
// standard deviations of p.
func within(got, p float64, n int) bool {
	return math.Abs(got-p) <= 4*math.Sqrt(p*(1-p)/float64(n))+0.002
}

func TestSimulatorFaultRates(t *testing.T) {
	ctx := context.Background()
	const n = 10000
	tr := adapter.Transient{TimeoutRate: 0.04, ErrorRate: 0.06}
	// first classifies the first attempt; the final outcome comes from retries.
	first := func(err error) string {
		switch {
		case err == nil:
			return ""
		case code(err) == adapter.CodeTimeout:
			return "timeout"
		default:
			return "5xx"
		}
	}
	tests := []struct {
		name  string
		cfg   adapter.SimConfig
		setup func(s *adapter.Simulator, c *clock)
		// classify makes call i and names its outcomes.
		classify func(s *adapter.Simulator, c *clock, i int) []string
		want     map[string]float64
	}{
		{"payment", adapter.SimConfig{Payment: adapter.PaymentFaults{DeclineRate: 0.2, Transient: tr}}, nil,
			func(s *adapter.Simulator, _ *clock, i int) []string {
				_, err := s.Authorize(ctx, authReq(i))
				a, _, err2 := retry(3, func() (adapter.Authorization, error) { return s.Authorize(ctx, authReq(i)) })
				if err2 != nil {
					return []string{"error"}
				}
				return []string{first(err), a.Status}
			}, map[string]float64{"timeout": 0.04, "5xx": 0.06, adapter.AuthDeclined: 0.2}},
		{"fraud", adapter.SimConfig{Fraud: adapter.FraudFaults{ReviewRate: 0.1, HighRiskRate: 0.03}}, nil,
			func(s *adapter.Simulator, _ *clock, i int) []string {
				f, err := s.Score(ctx, fraudReq(i))
				switch {
				case err != nil:
					return []string{"error"}
				case f.Score >= 0.92:
					return []string{"high"}
				case f.Score >= 0.35:
					return []string{"review"}
				case f.Score >= 0.3:
					return []string{"gap"}
				}
				return nil
			}, map[string]float64{"high": 0.03, "review": 0.1, "gap": 0}},
		{"address", adapter.SimConfig{Tax: adapter.TaxFaults{InvalidAddressRate: 0.07}}, nil,
			func(s *adapter.Simulator, _ *clock, i int) []string {
				a := goodAddress() // the verdict is the address's: vary the street
				a.Line1 = fmt.Sprintf("%d %s", i+1, a.Line1)
				r, err := s.ValidateAddress(ctx, addrReq(i, a))
				if err != nil || !r.Valid {
					return []string{"invalid"}
				}
				return nil
			}, map[string]float64{"invalid": 0.07}},
		{"release", adapter.SimConfig{Fulfillment: adapter.FulfillmentFaults{RejectRate: 0.15}}, nil,
			func(s *adapter.Simulator, _ *clock, i int) []string {
				r, err := s.Release(ctx, releaseReq(i))
				if err != nil || !r.Accepted {
					return []string{"rejected"}
				}
				return nil
			}, map[string]float64{"rejected": 0.15}},
		{"erp", adapter.SimConfig{ERP: adapter.ERPFaults{RejectRate: 0.05, PendingRate: 0.2, Transient: tr}}, nil,
			func(s *adapter.Simulator, _ *clock, i int) []string {
				_, err := s.PostInvoice(ctx, invoice(i))
				p, _, err2 := retry(3, func() (adapter.Posting, error) { return s.PostInvoice(ctx, invoice(i)) })
				if err2 != nil {
					return []string{"error"}
				}
				return []string{first(err), p.Status}
			}, map[string]float64{"timeout": 0.04, "5xx": 0.06, adapter.PostingRejected: 0.05, adapter.PostingPending: 0.2}},
		{"notify", adapter.SimConfig{Notify: adapter.NotifyFaults{Transient: tr}}, nil,
			func(s *adapter.Simulator, _ *clock, i int) []string {
				_, err := s.Send(ctx, notification(i))
				return []string{first(err)}
			}, map[string]float64{"timeout": 0.04, "5xx": 0.06}},
		{"carrier", adapter.SimConfig{Carrier: adapter.CarrierFaults{DelayRate: 0.1, ExceptionRate: 0.02}},
			func(s *adapter.Simulator, c *clock) {
				// Book everything now, track everything two months on.
				for i := range n {
					if _, err := s.Book(ctx, bookReq(i, atlanta, seattle)); err != nil {
						panic(err)
					}
				}
				c.Advance(60 * 24 * time.Hour)
			},
			func(s *adapter.Simulator, _ *clock, i int) []string {
				b, err := s.Book(ctx, bookReq(i, atlanta, seattle)) // replays the booking made in setup
				if err != nil {
					return []string{"error"}
				}
				ev, err := s.Track(ctx, b.TrackingNumber)
				if err != nil {
					return []string{"error"}
				}
				var out []string
				for _, e := range ev {
					if e.Kind == adapter.TrackDelayed || e.Kind == adapter.TrackException {
						out = append(out, e.Kind)
					}
				}
				return out
			}, map[string]float64{adapter.TrackDelayed: 0.1 * 0.98, adapter.TrackException: 0.02}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newClock()
			s := adapter.NewSimulator(tt.cfg, 42, func() time.Time { return c.Now() })
			counts := map[string]int{}
			if tt.setup != nil {
				tt.setup(s, c)
			}
			for i := range n {
				for _, o := range tt.classify(s, c, i) {
					counts[o]++
				}
			}
			if counts["error"] > 0 {
				t.Errorf("%d calls failed for good, want none", counts["error"])
			}
			for outcome, p := range tt.want {
				if got := float64(counts[outcome]) / n; !within(got, p, n) {
					t.Errorf("share of %s = %.4f, want %.4f", outcome, got, p)
				}
			}
		})
	}
}

func TestSimulatorTransientFaultsHealOnRetry(t *testing.T) {
	ctx := context.Background()
	tr := adapter.Transient{TimeoutRate: 0.3, ErrorRate: 0.3}
	s := adapter.NewSimulator(adapter.SimConfig{Payment: adapter.PaymentFaults{Transient: tr},
		ERP: adapter.ERPFaults{Transient: tr}, Notify: adapter.NotifyFaults{Transient: tr}}, 3, newClock().Now)
	const n = 1000
	attempts := map[int]int{}
	for i := range n {
		_, k, err := retry(3, func() (adapter.Authorization, error) { return s.Authorize(ctx, authReq(i)) })
		if err != nil {
			t.Fatalf("Authorize(%d) after %d attempts: %v", i, k, err)
		}
		attempts[k]++
		if _, k, err := retry(3, func() (adapter.Posting, error) { return s.PostInvoice(ctx, invoice(i)) }); err != nil {
			t.Fatalf("PostInvoice(%d) after %d attempts: %v", i, k, err)
		}
		if _, k, err := retry(3, func() (adapter.Receipt, error) { return s.Send(ctx, notification(i)) }); err != nil {
			t.Fatalf("Send(%d) after %d attempts: %v", i, k, err)
		}
	}
	if attempts[2] == 0 || attempts[3] == 0 {
		t.Errorf("attempts needed = %v, want some calls to need 2 and some 3", attempts)
	}
	// Some timeouts acted before the answer was lost; the retry must not
	// act again.
	e := s.Effects()
	for _, op := range [][2]string{{adapter.SystemPayment, adapter.OpAuthorize}, {adapter.SystemERP, adapter.OpPostInvoice}, {adapter.SystemNotify, adapter.OpSend}} {
		if got := e.Count(op[0], op[1]); got != n {
			t.Errorf("Effects().Count(%s.%s) = %d, want %d: one per key", op[0], op[1], got, n)
		}
	}
	for _, f := range e.Log {
		if got := e.Applied(f.System, f.Op, f.Key); got != 1 {
			t.Fatalf("Effects().Applied(%s.%s, %q) = %d, want 1", f.System, f.Op, f.Key, got)
		}
	}
}

func TestSimulatorCanceledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s := adapter.NewSimulator(adapter.NoFaults(), 1, newClock().Now)
	_, err := s.Authorize(ctx, authReq(1))
	if code(err) != adapter.CodeCanceled || !adapter.IsRetryable(err) || !errors.Is(err, context.Canceled) {
		t.Errorf("Authorize(canceled ctx) = %v, want a retryable %s wrapping context.Canceled", err, adapter.CodeCanceled)
	}
	if n := len(s.Effects().Log); n != 0 {
		t.Errorf("effects after a canceled call = %d, want 0", n)
	}
}

func TestSimulatorInvalidRequest(t *testing.T) {
	ctx := context.Background()
	s := adapter.NewSimulator(adapter.NoFaults(), 1, newClock().Now)
	bad := authReq(1)
	bad.IdempotencyKey = ""
	bad.Amount = -1
	_, err := s.Authorize(ctx, bad)
	if code(err) != adapter.CodeInvalidRequest || adapter.IsRetryable(err) || !errors.Is(err, derrors.Invalid) {
		t.Fatalf("Authorize(bad) = %v, want a non-retryable %s wrapping derrors.Invalid", err, adapter.CodeInvalidRequest)
	}
	for _, field := range []string{"idempotency_key", "amount"} {
		var v *derrors.ValidationError
		if !errors.As(err, &v) || !strings.Contains(fmt.Sprint(v.Fields), field) {
			t.Errorf("Authorize(bad) fields = %v, want %s named", v, field)
		}
	}
}

func TestSimConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  adapter.SimConfig
		want string // a field named in the error, "" for valid
	}{
		{"no faults", adapter.NoFaults(), ""},
		{"defaults", adapter.DefaultFaults(), ""},
		{"negative", adapter.SimConfig{Payment: adapter.PaymentFaults{DeclineRate: -0.1}}, "payment.decline_rate"},
		{"above one", adapter.SimConfig{Notify: adapter.NotifyFaults{Transient: adapter.Transient{ErrorRate: 1.5}}}, "notify.error_rate"},
		{"sum above one", adapter.SimConfig{ERP: adapter.ERPFaults{RejectRate: 0.6, PendingRate: 0.6}}, "erp.reject_rate + pending_rate"},
		{"NaN", adapter.SimConfig{Carrier: adapter.CarrierFaults{DelayRate: math.NaN()}}, "carrier.delay_rate"},
		{"empty disruption", adapter.SimConfig{Carrier: adapter.CarrierFaults{Disruptions: []adapter.Disruption{{Region: "US-SE", From: start, To: start}}}}, "carrier.disruptions[0]"},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		if got := fmt.Sprint(err); (tt.want == "") != (err == nil) || !strings.Contains(got, tt.want) {
			t.Errorf("%s: Validate() = %v, want an error naming %q", tt.name, err, tt.want)
		}
	}
}
