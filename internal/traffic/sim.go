// Package traffic drives a running omnitriage server over its public HTTP
// API the way real channels, stores, outside systems and an outside
// orchestrator would: orders from every channel with a daily and weekly
// shape, promotions, pickups, edits, cancels, returns, store stock counts,
// and the outside systems' exceptions during a carrier disruption, a burst
// of payment declines and an ERP outage. It knows the server only by its
// URL and an API key.
package traffic

import (
	"container/heap"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Config is one run.
type Config struct {
	// URL is the server's base URL, e.g. http://localhost:8080.
	URL string
	// Key is an orchestrator (or admin) API key.
	Key string
	// Seed makes the run repeatable: the same seed against the same server
	// state sends the same requests.
	Seed uint64
	// Rate is the target in orders per second, as a mean over a simulated
	// week; the day's shape and promotions move it around that.
	Rate float64
	// Duration bounds the run (0: no bound).
	Duration time.Duration
	// Orders bounds the run by orders placed (0: no bound).
	Orders int
	// Day is how long a simulated day lasts; 24h runs in real time.
	Day time.Duration
	// HTTP is the client to use; nil means one with a 30 s timeout.
	HTTP *http.Client
	// Now and Sleep are the clock; nil means the real one.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	// Progress, when set, is called after every step with the counts so far.
	Progress func(Progress)
	// Wait is how long to wait for the server to be ready (/readyz)
	// before giving up; 0 checks once.
	Wait time.Duration
	// Clients is how many clients send traffic at once, each its own
	// deterministic sequence with a share of the rate; 0 means 1.
	Clients int
	// Logf, when set, is told when incidents start and what failed.
	Logf func(format string, args ...any)
}

// Validate names each bad field as its command-line flag.
func (c Config) Validate() error {
	var errs []error
	if c.URL == "" {
		errs = append(errs, errors.New("--url: want the server's URL, e.g. http://localhost:8080"))
	}
	if c.Key == "" {
		errs = append(errs, errors.New("--key: want an orchestrator API key (or set OMNITRIAGE_ORCHESTRATOR_KEY; the demo keys are in .data/demo-keys.env)"))
	}
	if !(c.Rate > 0 && c.Rate <= 10000) {
		errs = append(errs, fmt.Errorf("--rate: want orders per second in (0, 10000], not %g", c.Rate))
	}
	if c.Duration < 0 {
		errs = append(errs, errors.New("--duration: want a positive duration such as 10m, or 0 for no bound"))
	}
	if c.Orders < 0 {
		errs = append(errs, errors.New("--orders: want a positive count, or 0 for no bound"))
	}
	if c.Clients < 0 || c.Clients > 64 {
		errs = append(errs, fmt.Errorf("--clients: want 1 to 64, not %d", c.Clients))
	}
	if c.Day < time.Second || c.Day > 24*time.Hour {
		errs = append(errs, fmt.Errorf("--day: want how long a simulated day lasts, 1s to 24h, not %s", c.Day))
	}
	return errors.Join(errs...)
}

// Progress is what a progress display shows.
type Progress struct {
	Elapsed    time.Duration // virtual time into the run
	SimTime    time.Time     // the simulated clock
	Orders     int
	Reported   int // exceptions reported and recommendations asked
	Errors     int
	Incidents  []string // active now
	Requests   int
	Retries    int
	Behind     time.Duration // how far the run trails its schedule
	MaxOrders  int
	MaxElapsed time.Duration
}

// task is work due at a point of the run's virtual time.
type task struct {
	at  time.Duration
	seq int
	do  func(ctx context.Context) error
}

type taskQueue []*task

func (q taskQueue) Len() int { return len(q) }
func (q taskQueue) Less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].seq < q[j].seq
}
func (q taskQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *taskQueue) Push(x any)   { *q = append(*q, x.(*task)) }
func (q *taskQueue) Pop() any {
	old := *q
	t := old[len(old)-1]
	*q = old[:len(old)-1]
	return t
}

// Simulator is one run against one server: one lane of traffic per client,
// each a deterministic sequence of requests of its own.
type Simulator struct {
	cfg   Config
	start time.Time
	token string // unique to the run, in external ids and idempotency keys
	cat   *catalog
	lanes []*lane

	mu sync.Mutex // guards progress reporting across lanes
}

// lane is one client's share of the traffic: its own random stream,
// schedule, orders and counts.
type lane struct {
	*Simulator
	id        int
	r         *rand.Rand
	cl        *client
	rate      float64
	maxOrders int
	now       time.Duration
	queue     taskQueue
	seq       int
	orders    []*simOrder
	soldUnits map[string]int // since the last stock receipt, by SKU
	storeNext int
	promo     map[int][]string // promotion SKUs by simulated day
	announced map[string]bool
	netFails  int
	sum       Summary
	counts    struct{ orders, reported, errors atomic.Int64 } // for progress, read by other lanes
}

// New checks the configuration and prepares a run.
func New(cfg Config) (*Simulator, error) {
	if cfg.Clients == 0 {
		cfg.Clients = 1
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Sleep == nil {
		cfg.Sleep = sleepCtx
	}
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{Timeout: 30 * time.Second}
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	start := cfg.Now()
	s := &Simulator{cfg: cfg, start: start, token: strconv.FormatInt(start.UnixMilli(), 36)}
	for i := 0; i < cfg.Clients; i++ {
		l := &lane{Simulator: s, id: i, r: rand.New(rand.NewPCG(cfg.Seed, 0x9e3779b97f4a7c15+uint64(i))),
			rate: cfg.Rate / float64(cfg.Clients), soldUnits: map[string]int{}, promo: map[int][]string{},
			announced: map[string]bool{}, sum: newSummary(start)}
		if cfg.Orders > 0 {
			l.maxOrders = cfg.Orders / cfg.Clients
			if i < cfg.Orders%cfg.Clients {
				l.maxOrders++
			}
		}
		l.cl = newClient(cfg.URL, cfg.Key, cfg.HTTP, cfg.Sleep, s.token, start)
		s.lanes = append(s.lanes, l)
	}
	return s, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// simTime is the simulated clock at a point of the run.
func (s *Simulator) simTime(v time.Duration) time.Time {
	return simEpoch.Add(time.Duration(float64(v) * float64(24*time.Hour) / float64(s.cfg.Day)))
}

// simSpan is how much run time a simulated span takes.
func (s *Simulator) simSpan(d time.Duration) time.Duration {
	return time.Duration(float64(d) * float64(s.cfg.Day) / float64(24*time.Hour))
}

// at is the wall time a point of the run stands for: what timestamps sent
// to the server carry.
func (s *Simulator) at(v time.Duration) time.Time { return s.start.Add(v) }

func (s *lane) schedule(after time.Duration, do func(ctx context.Context) error) {
	s.seq++
	heap.Push(&s.queue, &task{at: s.now + after, seq: s.seq, do: do})
}

// nextKey is a fresh idempotency key.
func (s *lane) nextKey() string {
	s.seq++
	return fmt.Sprintf("sim-%s-%d-%d", s.token, s.id, s.seq)
}

// newID is a fresh, run-unique UUID for a reported exception.
func (s *lane) newID() string {
	s.seq++
	h := sha256.New()
	var b [24]byte
	binary.BigEndian.PutUint64(b[:8], s.cfg.Seed)
	binary.BigEndian.PutUint64(b[8:16], uint64(s.id))
	binary.BigEndian.PutUint64(b[16:], uint64(s.seq))
	h.Write(b[:])
	h.Write([]byte(s.token))
	u := h.Sum(nil)[:16]
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// Digest identifies the requests sent so far: two runs sent the same
// requests when their digests are equal. With several clients it digests
// each client's sequence, in client order.
func (s *Simulator) Digest() string {
	if len(s.lanes) == 1 {
		return s.lanes[0].cl.Digest()
	}
	h := sha256.New()
	for _, l := range s.lanes {
		h.Write([]byte(l.cl.Digest()))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Run checks the server and the key, reads the catalogue and drives the
// traffic until the bound, ctx's end, or a failure that needs a person.
// The summary is filled in either way.
func (s *Simulator) Run(ctx context.Context) (Summary, error) {
	first := s.lanes[0]
	for deadline := s.cfg.Now().Add(s.cfg.Wait); ; {
		_, err := first.cl.checkServer(ctx)
		if err == nil {
			break
		}
		if !errors.Is(err, errNotReady) || !s.cfg.Now().Before(deadline) || s.cfg.Sleep(ctx, time.Second) != nil {
			return s.summary(), err
		}
	}
	cat, err := loadCatalog(ctx, first.cl)
	if err != nil {
		return s.summary(), err
	}
	s.cat = cat
	first.scheduleSyncs()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make([]error, len(s.lanes))
	var wg sync.WaitGroup
	for i, l := range s.lanes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if errs[i] = l.run(ctx); errs[i] != nil {
				cancel() // one client's failure that needs a person stops them all
			}
		}()
	}
	wg.Wait()
	sum := s.finish(ctx)
	return sum, errors.Join(errs...)
}

// run drives one lane until its bound, ctx's end or a stopping failure.
func (s *lane) run(ctx context.Context) error {
	nextOrder := s.orderGap(0)
	for {
		if ctx.Err() != nil {
			return nil
		}
		if s.maxOrders > 0 && s.sum.Orders >= s.maxOrders {
			return nil
		}
		isOrder := len(s.queue) == 0 || nextOrder <= s.queue[0].at
		due := nextOrder
		if !isOrder {
			due = s.queue[0].at
		}
		if s.cfg.Duration > 0 && due >= s.cfg.Duration {
			return nil
		}
		if wait := s.start.Add(due).Sub(s.cfg.Now()); wait > 0 {
			if s.cfg.Sleep(ctx, wait) != nil {
				return nil
			}
		}
		s.now = due
		var err error
		if isOrder {
			err = s.placeOrder(ctx)
			nextOrder = s.now + s.orderGap(s.now)
		} else {
			t := heap.Pop(&s.queue).(*task)
			err = t.do(ctx)
		}
		if err := s.account(err); err != nil {
			return err
		}
		s.progress()
	}
}

// account counts a step's error and decides whether the run goes on.
func (s *lane) account(err error) error {
	if err == nil || errors.Is(err, context.Canceled) {
		s.netFails = 0
		return nil
	}
	if errors.Is(err, ErrStop) {
		return err
	}
	status := statusOf(err)
	s.sum.Errors[status]++
	s.counts.errors.Add(1)
	s.cfg.Logf("error: %v", err)
	switch {
	case status == http.StatusUnauthorized:
		return fmt.Errorf("the server stopped accepting the API key (it was revoked?): %v; pass a valid key with --key or OMNITRIAGE_ORCHESTRATOR_KEY: %w", err, ErrStop)
	case status == http.StatusForbidden:
		return fmt.Errorf("the API key may not do this: %v; the simulator needs an orchestrator (or admin) key: %w", err, ErrStop)
	case status == 0:
		s.netFails++
		if s.netFails >= 3 {
			return fmt.Errorf("the server at %s stopped answering (%v): %w", s.cfg.URL, err, ErrStop)
		}
	default:
		s.netFails = 0
	}
	return nil
}

// progress reports the counts of every lane so far.
func (s *lane) progress() {
	if s.cfg.Progress == nil {
		return
	}
	s.Simulator.mu.Lock()
	defer s.Simulator.mu.Unlock()
	hour := hourOf(s.simTime(s.now))
	p := Progress{Elapsed: s.now, SimTime: s.simTime(s.now), Behind: s.cfg.Now().Sub(s.start.Add(s.now)),
		MaxOrders: s.cfg.Orders, MaxElapsed: s.cfg.Duration}
	for _, in := range dayIncidents {
		if in.active(hour) {
			p.Incidents = append(p.Incidents, in.name)
		}
	}
	for _, l := range s.lanes {
		l.cl.mu.Lock()
		p.Requests += l.cl.requests
		p.Retries += l.cl.retried
		l.cl.mu.Unlock()
		p.Orders += int(l.counts.orders.Load())
		p.Reported += int(l.counts.reported.Load())
		p.Errors += int(l.counts.errors.Load())
	}
	s.cfg.Progress(p)
}

// orderGap is the time to the next order: exponential around the rate the
// simulated hour, weekday and promotions ask for.
func (s *lane) orderGap(v time.Duration) time.Duration {
	return expGap(s.r, s.rate*shape(s.simTime(v)))
}

// announce logs an incident the first time it is active on a simulated day.
func (s *lane) announce(in incident, detail string) {
	if s.id != 0 {
		return
	}
	k := fmt.Sprintf("%s/%d", in.name, dayIndex(s.simTime(s.now)))
	if !s.announced[k] {
		s.announced[k] = true
		s.sum.Incidents = append(s.sum.Incidents, fmt.Sprintf("day %d %s %s", dayIndex(s.simTime(s.now))+1, in.name, detail))
		s.cfg.Logf("incident: %s %s (simulated %s)", in.name, detail, s.simTime(s.now).Format("Mon 15:04"))
	}
}
