package adapter

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/omnitriage/omnitriage/internal/derrors"
)

// Transient sets how often a system fails in a way a retry cures: the share of
// idempotency keys whose first attempt times out or answers 5xx. Such a key
// fails its first one or two attempts (drawn per key), then succeeds.
type Transient struct {
	TimeoutRate float64
	ErrorRate   float64
}

// PaymentFaults configures the simulated payment gateway.
type PaymentFaults struct {
	DeclineRate float64 // share of authorizations declined
	Transient
}

// FraudFaults configures the simulated fraud screen. Scores fall in three
// bands matching the default policy: low [0, 0.3), review [0.35, 0.92) at
// ReviewRate, high [0.92, 1] at HighRiskRate. A disposable email domain adds
// 0.25 and an order of 2500 or more adds 0.1, so those requests score higher.
type FraudFaults struct {
	ReviewRate   float64
	HighRiskRate float64
	Transient
}

// TaxFaults configures the simulated tax and address service.
type TaxFaults struct {
	InvalidAddressRate float64 // share of well-formed addresses reported undeliverable
	Transient
}

// FulfillmentFaults configures the simulated fulfilling locations.
type FulfillmentFaults struct {
	RejectRate float64 // share of releases refused
	Transient
}

// CarrierFaults configures the simulated carriers.
type CarrierFaults struct {
	DelayRate     float64 // share of shipments delayed 1–3 days on the way
	ExceptionRate float64 // share of shipments that end in an exception (damaged, lost, …)
	Disruptions   []Disruption
	Transient
}

// Disruption stops shipments from or to Region during [From, To): a shipment
// in transit then is held until To plus 12 hours of backlog (a delayed event),
// or, with Exception set, ends in an exception.
type Disruption struct {
	Region    string
	From, To  time.Time
	Exception bool
	Code      string // the carrier's code; default "regional_disruption"
	Message   string // default "Service disruption in <region>: shipments held until <To>"
}

// ERPFaults configures the simulated ERP.
type ERPFaults struct {
	RejectRate  float64 // share of postings rejected
	PendingRate float64 // share acknowledged 1–30 minutes later instead of at once
	Transient
}

// NotifyFaults configures the simulated notification service.
type NotifyFaults struct {
	Transient
}

// SimConfig holds the fault rates of every simulated system. Each rate is a
// probability in [0, 1], drawn per idempotency key.
type SimConfig struct {
	Payment     PaymentFaults
	Fraud       FraudFaults
	Tax         TaxFaults
	Fulfillment FulfillmentFaults
	Carrier     CarrierFaults
	ERP         ERPFaults
	Notify      NotifyFaults
}

// NoFaults is a configuration in which everything succeeds at once.
func NoFaults() SimConfig { return SimConfig{} }

// DefaultFaults is a configuration with modest, realistic failure rates, for
// the demo and for soak tests of the lifecycle.
func DefaultFaults() SimConfig {
	return SimConfig{
		Payment:     PaymentFaults{DeclineRate: 0.04, Transient: Transient{TimeoutRate: 0.01, ErrorRate: 0.01}},
		Fraud:       FraudFaults{ReviewRate: 0.05, HighRiskRate: 0.01, Transient: Transient{TimeoutRate: 0.005, ErrorRate: 0.005}},
		Tax:         TaxFaults{InvalidAddressRate: 0.03, Transient: Transient{TimeoutRate: 0.005, ErrorRate: 0.005}},
		Fulfillment: FulfillmentFaults{RejectRate: 0.03, Transient: Transient{TimeoutRate: 0.01, ErrorRate: 0.01}},
		Carrier:     CarrierFaults{DelayRate: 0.08, ExceptionRate: 0.01, Transient: Transient{TimeoutRate: 0.01, ErrorRate: 0.01}},
		ERP:         ERPFaults{RejectRate: 0.02, PendingRate: 0.10, Transient: Transient{TimeoutRate: 0.02, ErrorRate: 0.01}},
		Notify:      NotifyFaults{Transient: Transient{TimeoutRate: 0.005, ErrorRate: 0.01}},
	}
}

// Validate names each rate out of range and each malformed disruption.
func (c SimConfig) Validate() error {
	v := &derrors.ValidationError{}
	type rate struct {
		field string
		p     float64
	}
	rates := []rate{
		{"payment.decline_rate", c.Payment.DeclineRate},
		{"fraud.review_rate", c.Fraud.ReviewRate},
		{"fraud.high_risk_rate", c.Fraud.HighRiskRate},
		{"fraud.review_rate + high_risk_rate", c.Fraud.ReviewRate + c.Fraud.HighRiskRate},
		{"tax.invalid_address_rate", c.Tax.InvalidAddressRate},
		{"fulfillment.reject_rate", c.Fulfillment.RejectRate},
		{"carrier.delay_rate", c.Carrier.DelayRate},
		{"carrier.exception_rate", c.Carrier.ExceptionRate},
		{"erp.reject_rate", c.ERP.RejectRate},
		{"erp.pending_rate", c.ERP.PendingRate},
		{"erp.reject_rate + pending_rate", c.ERP.RejectRate + c.ERP.PendingRate},
	}
	for _, sys := range SystemNames() {
		t := c.transient(sys)
		rates = append(rates, rate{sys + ".timeout_rate", t.TimeoutRate}, rate{sys + ".error_rate", t.ErrorRate},
			rate{sys + ".timeout_rate + error_rate", t.TimeoutRate + t.ErrorRate})
	}
	for _, r := range rates {
		if !(r.p >= 0 && r.p <= 1) {
			v.Add(r.field, "%g is not a probability in [0, 1]", r.p)
		}
	}
	for i, d := range c.Carrier.Disruptions {
		if d.Region == "" || !d.To.After(d.From) {
			v.Add(indexed("carrier.disruptions", i), "want a region and To after From")
		}
	}
	return v.Err()
}

// transient returns the transient fault rates of a system.
func (c SimConfig) transient(system string) Transient {
	switch system {
	case SystemPayment:
		return c.Payment.Transient
	case SystemFraud:
		return c.Fraud.Transient
	case SystemTax:
		return c.Tax.Transient
	case SystemFulfillment:
		return c.Fulfillment.Transient
	case SystemCarrier:
		return c.Carrier.Transient
	case SystemERP:
		return c.ERP.Transient
	case SystemNotify:
		return c.Notify.Transient
	}
	return Transient{}
}

// Simulator stands in for every outside system, deterministically: each
// outcome is drawn from a hash of the seed, the system, the operation and the
// idempotency key, so the same seed and key always give the same outcome, in
// any order and on any machine. State (authorizations, bookings, postings) and
// the results of state-changing calls live in its store (SimOptions.Store: in
// memory by default, or PostgreSQL), so a call repeated with the same key
// returns its first result and acts at most once, across restarts too when
// the store is the database.
//
// The clock decides authorization expiry, tracking progress and when pending
// ERP postings settle. A Simulator is safe for concurrent use.
type Simulator struct {
	cfg   SimConfig
	seed  uint64
	now   func() time.Time
	store SimStore
	speed float64

	mu      sync.Mutex
	counts  map[callKey]*callCount // this process's calls, for Effects
	effects []Effect
}

// SimOptions are a simulator's settings besides its fault rates.
type SimOptions struct {
	// Store keeps what the simulator remembers; nil keeps it in memory.
	Store SimStore
	// Speed compresses the simulated world's time: carrier transit and the
	// ERP's acknowledgement delay are divided by it. 0 or 1 is real time.
	Speed float64
}

// NewSimulator returns a simulator with the given fault rates, seed and clock
// (time.Now when nil), remembering in memory. It panics when cfg does not
// validate: check cfg.Validate first when the rates come from outside.
func NewSimulator(cfg SimConfig, seed uint64, now func() time.Time) *Simulator {
	return NewSimulatorWith(cfg, seed, now, SimOptions{})
}

// NewSimulatorWith is NewSimulator with options: a store and a speed.
func NewSimulatorWith(cfg SimConfig, seed uint64, now func() time.Time, opts SimOptions) *Simulator {
	if err := cfg.Validate(); err != nil {
		panic(fmt.Sprintf("adapter.NewSimulator: %v", err))
	}
	if now == nil {
		now = time.Now
	}
	if opts.Store == nil {
		opts.Store = NewMemStore()
	}
	if opts.Speed <= 0 {
		opts.Speed = 1
	}
	return &Simulator{cfg: cfg, seed: seed, now: now, store: opts.Store, speed: opts.Speed, counts: map[callKey]*callCount{}}
}

// scaled divides a duration of the simulated world by the speed.
func (s *Simulator) scaled(d time.Duration) time.Duration {
	return time.Duration(float64(d) / s.speed)
}

// Systems returns the simulator as every system.
func (s *Simulator) Systems() Systems {
	return Systems{Payment: s, Fraud: s, Tax: s, Fulfillment: s, Carrier: s, ERP: s, Notifier: s}
}

// Effect is one state change the simulator made: an approved authorization, a
// capture, void or refund, an accepted release, a booking, a document posted
// (acknowledged or pending) or a notification sent. Declines, rejections and
// reads change nothing and are not effects.
type Effect struct {
	System string
	Op     string
	Key    string // the idempotency key (document key for ERP, notification key)
	// OrderID is the order acted on.
	OrderID uuid.UUID
	// Ref is what the effect created or acted on: the authorization id (payment),
	// the location code (release), the tracking number (book), the ERP document
	// id (erp) or the template (notify).
	Ref string
	// To is the recipient of a notification.
	To string
	// LineIDs are the order lines involved (release, erp).
	LineIDs []uuid.UUID
	// Amount is the money moved or posted.
	Amount float64
	At     time.Time
	// Calls counts the calls made with Key: the first, retries after faults
	// and replays of the stored result.
	Calls int
}

// Effects is a snapshot of what the simulator did in this process.
type Effects struct {
	// Counts is the number of distinct effects by "system.op", e.g. "erp.post_invoice".
	Counts map[string]int
	// Log lists every effect in the order it happened.
	Log []Effect
}

// Count returns the number of distinct effects of one operation.
func (e Effects) Count(system, op string) int { return e.Counts[system+"."+op] }

// Applied returns how many times the effect of the call with key was applied:
// 1 after any number of retries, 0 when the call changed nothing.
func (e Effects) Applied(system, op, key string) int {
	n := 0
	for _, f := range e.Log {
		if f.System == system && f.Op == op && f.Key == key {
			n++
		}
	}
	return n
}

// Effects returns a snapshot of every effect this simulator applied. The log
// is kept in memory: it is an observation for tests, not the simulated state.
func (s *Simulator) Effects() Effects {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := Effects{Counts: map[string]int{}, Log: make([]Effect, len(s.effects))}
	copy(e.Log, s.effects)
	for _, st := range s.counts {
		if st.effect >= 0 {
			e.Log[st.effect].Calls = st.calls
		}
	}
	for i := range e.Log {
		e.Log[i].LineIDs = append([]uuid.UUID(nil), e.Log[i].LineIDs...)
		e.Counts[e.Log[i].System+"."+e.Log[i].Op]++
	}
	return e
}

// callKey identifies the calls sharing an idempotency key.
type callKey struct{ system, op, key string }

// callCount is what this process counts of one key, for Effects.
type callCount struct {
	calls  int
	effect int // index into Simulator.effects, -1 for none
}

// callRecord is what the simulator remembers of one key, in its store.
type callRecord[T any] struct {
	FP       [32]byte `json:"fp"`       // the request the key was first used with
	Attempts int      `json:"attempts"` // calls that reached the fault check
	Done     bool     `json:"done"`
	Result   T        `json:"result"`
}

// call describes one simulated call for run.
type call struct {
	system, op, key string
	// req is the validated request, remembered by fingerprint; nil marks a
	// read, which is evaluated afresh on every call and never stored.
	req any
}

// run is the idempotency and fault machinery shared by every operation: it
// replays a stored result, injects this key's transient faults, then applies
// the operation and stores its result and effect, all in one transaction of
// the store. apply runs under s.mu with the store's records and a random
// stream fixed by the seed, system, operation and key.
func run[T any](ctx context.Context, s *Simulator, c call, apply func(tx simTx, r *stream) (T, *Effect, error)) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, &Error{System: c.system, Op: c.op, Code: CodeCanceled, Message: err.Error(), Retryable: true, Err: err}
	}
	var fp [32]byte
	if c.req != nil {
		b, err := json.Marshal(c.req)
		if err != nil {
			return zero, invalid(c.system, c.op, err)
		}
		fp = sha256.Sum256(b)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := callKey{c.system, c.op, c.key}
	cc := s.counts[k]
	if cc == nil {
		cc = &callCount{effect: -1}
		s.counts[k] = cc
	}
	cc.calls++
	var (
		res     T
		callErr error
		eff     *Effect
	)
	recKind := "call:" + c.system + ":" + c.op
	err := s.store.update(ctx, s.seed, func(tx simTx) error {
		res, callErr, eff = zero, nil, nil
		var st callRecord[T]
		found, err := tx.get(recKind, c.key, &st)
		if err != nil {
			return err
		}
		if !found {
			st.FP = fp
		}
		if st.FP != fp {
			callErr = &Error{System: c.system, Op: c.op, Code: CodeIdempotencyReuse, Status: 409,
				Message: fmt.Sprintf("Keys for idempotent requests can only be used with the same parameters they were first used with; key %q was used with a different request.", c.key)}
			return nil
		}
		if st.Done {
			res = st.Result
			return nil
		}
		st.Attempts++
		outcome := func() *stream { return s.stream(c.system, c.op, c.key, "outcome") }
		if f := s.fault(c.system, c.op, c.key); st.Attempts <= f.fails {
			if f.timeout && f.lost && c.req != nil {
				// The request got through and acted, but the answer was lost:
				// the retry must find the stored result, not act again.
				r, e, err := apply(tx, outcome())
				if err == nil {
					st.Done, st.Result, eff = true, r, e
				} else if _, ok := err.(*Error); !ok {
					return err // the store failed
				}
			}
			callErr = f.err(c)
			return tx.put(recKind, c.key, &st)
		}
		r, e, err := apply(tx, outcome())
		if err != nil {
			if _, ok := err.(*Error); !ok {
				return err // the store failed
			}
			callErr = err
			return tx.put(recKind, c.key, &st)
		}
		res = r
		if c.req != nil {
			st.Done, st.Result, eff = true, r, e
		}
		return tx.put(recKind, c.key, &st)
	})
	if err != nil {
		return zero, &Error{System: c.system, Op: c.op, Code: CodeUnavailable, Retryable: true, Err: err,
			Message: fmt.Sprintf("the simulated %s system could not reach its records: %v", c.system, err)}
	}
	if eff != nil {
		eff.System, eff.Op, eff.Key, eff.At = c.system, c.op, c.key, s.now()
		cc.effect = len(s.effects)
		s.effects = append(s.effects, *eff)
	}
	if callErr != nil {
		return zero, callErr
	}
	return res, nil
}

// fault is the transient failure drawn for one key.
type fault struct {
	fails   int  // attempts that fail before one succeeds: 0, 1 or 2
	timeout bool // time out rather than answer 5xx
	lost    bool // a timeout after the request acted
	status  int
}

// fault draws the transient failure of a key.
func (s *Simulator) fault(system, op, key string) fault {
	t := s.cfg.transient(system)
	r := s.stream(system, op, key, "fault")
	u := r.float()
	if u >= t.TimeoutRate+t.ErrorRate {
		return fault{}
	}
	f := fault{fails: 1 + r.intn(2), timeout: u < t.TimeoutRate}
	f.lost = r.float() < 0.5
	f.status = []int{500, 502, 503}[r.intn(3)]
	return f
}

// err phrases a transient failure the way the remote system would.
func (f fault) err(c call) *Error {
	e := &Error{System: c.system, Op: c.op, Retryable: true, Attempts: 1}
	switch {
	case f.timeout:
		e.Code, e.Message, e.Err = CodeTimeout, fmt.Sprintf("no answer from the %s system within 30s", c.system), context.DeadlineExceeded
	case f.status == 500:
		e.Code, e.Message, e.Status = "internal_error", "An unexpected error occurred. Please retry the request.", 500
	case f.status == 502:
		e.Code, e.Message, e.Status = "bad_gateway", "Upstream connection reset by peer.", 502
	default:
		e.Code, e.Message, e.Status = "service_unavailable", "The service is temporarily unavailable. Please retry shortly.", 503
	}
	return e
}

// stream starts the random stream of a tuple of strings under the seed.
func (s *Simulator) stream(parts ...string) *stream {
	h := fnv.New64a()
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], s.seed)
	h.Write(b[:])
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return &stream{state: h.Sum64()}
}

// stream is a splitmix64 generator: tiny, fast, and the same on every
// platform and Go version, which the simulator's replays depend on.
type stream struct{ state uint64 }

// next returns the next 64 random bits.
func (r *stream) next() uint64 {
	r.state += 0x9e3779b97f4a7c15
	z := r.state
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// float returns a number in [0, 1).
func (r *stream) float() float64 { return float64(r.next()>>11) / (1 << 53) }

// intn returns a number in [0, n).
func (r *stream) intn(n int) int { return int(r.next() % uint64(n)) }

// id returns a prefixed random identifier.
func (r *stream) id(prefix string) string { return fmt.Sprintf("%s%016x", prefix, r.next()) }

// pick returns one of xs.
func pick[T any](r *stream, xs []T) T { return xs[r.intn(len(xs))] }

// simError is a permanent, non-retryable error from a simulated system.
func simError(system, op string, status int, code, format string, args ...any) *Error {
	return &Error{System: system, Op: op, Code: code, Message: fmt.Sprintf(format, args...), Status: status}
}
