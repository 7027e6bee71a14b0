package orchestration

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/omnitriage/omnitriage/internal/database"
	"github.com/omnitriage/omnitriage/internal/database/dbtest"
	"github.com/omnitriage/omnitriage/orchestration/adapter"
	"github.com/omnitriage/omnitriage/rules"
)

// The crash test's child process reads these.
const (
	crashEnvDB     = "OMNITRIAGE_CRASH_DB"     // the database URL
	crashEnvStall  = "OMNITRIAGE_CRASH_STALL"  // the outside operation that never answers
	crashEnvEpoch  = "OMNITRIAGE_CRASH_EPOCH"  // the shared simulated clock's real start, unix nanoseconds
	crashEnvCancel = "OMNITRIAGE_CRASH_CANCEL" // the cancel window
)

// crashSeed is the simulator seed of the crash test: parent and child share
// its records in the database.
const crashSeed = 9

// crashService is the service of both processes of the crash test: the
// simulator remembers in the database, and the clock runs six simulated
// hours a second from a start both share.
func crashService(t *testing.T, pool *pgxpool.Pool, epoch time.Time, cancel time.Duration, sys func(adapter.Systems) adapter.Systems) (*Service, *adapter.Simulator) {
	t.Helper()
	pol := testPolicy(t)
	clock := simClock{start: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC), real: epoch}
	sim := adapter.NewSimulatorWith(adapter.NoFaults(), crashSeed, clock.now, adapter.SimOptions{Store: adapter.NewPGStore(pool)})
	svc, err := NewService(pool, Config{Policy: func() *rules.Policy { return pol }, Now: clock.now,
		Systems: sys(sim.Systems()), TrackEvery: 200 * time.Millisecond, CancelWindow: cancel, MaxJobTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return svc, sim
}

// crashWorkers starts River with every lifecycle worker; rescueAfter is the
// rescue window (0: River's default).
func crashWorkers(t *testing.T, pool *pgxpool.Pool, svc *Service, rescueAfter time.Duration) *river.Client[pgx.Tx] {
	t.Helper()
	workers := river.NewWorkers()
	svc.RegisterWorkers(workers)
	_ = river.AddWorkerSafely(workers, &refundWorker{s: svc})
	cfg := &river.Config{
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 8}},
		Workers:           workers,
		FetchCooldown:     10 * time.Millisecond,
		FetchPollInterval: 50 * time.Millisecond,
		RetryPolicy:       fastRetry{},
		Logger:            slog.New(slog.DiscardHandler),
		TestOnly:          true,
	}
	if rescueAfter > 0 {
		cfg.JobTimeout, cfg.RescueStuckJobsAfter = rescueAfter, rescueAfter
	}
	client, err := river.NewClient(riverpgxv5.New(pool), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := client.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return client
}

// TestCrashChild is the child process of TestCrashRecovery: it runs the
// lifecycle workers with one outside operation that acts and then never
// answers, until its parent kills it. Run directly, it does nothing.
func TestCrashChild(t *testing.T) {
	url := os.Getenv(crashEnvDB)
	if url == "" {
		t.Skip("the child process of TestCrashRecovery")
	}
	pool, err := database.Open(context.Background(), url, 8)
	if err != nil {
		t.Fatal(err)
	}
	nanos, _ := strconv.ParseInt(os.Getenv(crashEnvEpoch), 10, 64)
	cancel, _ := time.ParseDuration(os.Getenv(crashEnvCancel))
	stall := os.Getenv(crashEnvStall)
	svc, _ := crashService(t, pool, time.Unix(0, nanos), cancel, func(s adapter.Systems) adapter.Systems { return stalled(s, stall) })
	crashWorkers(t, pool, svc, 0)
	fmt.Println("child ready")
	select {} // until killed
}

// TestCrashRecovery kills (SIGKILL) a real process while a job of each kind
// is in its outside call, after the call acted, then starts fresh workers
// with a short rescue window: River runs the dead process's job again, the
// outside system answers the retry from its records (nothing acts twice),
// and the order reaches its next state.
func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process per job kind")
	}
	if os.Getenv(crashEnvDB) != "" {
		t.Skip("in the child")
	}
	tests := []struct {
		kind  string // the job killed
		stall string // the operation in which the process dies
		// setup brings the order to the job; nil: capture is enough.
		setup func(t *testing.T, c *crashCase)
		// done reports whether the order got past the job.
		done func(c *crashCase) (bool, error)
	}{
		{ChecksArgs{}.Kind(), "payment." + adapter.OpAuthorize, nil, statusPast(StatusCaptured)},
		{ReleaseArgs{}.Kind(), "fulfillment." + adapter.OpRelease, nil, statusPast(StatusAuthorised)},
		{ShipArgs{}.Kind(), "carrier." + adapter.OpBook, nil, statusPast(StatusReleased)},
		{TrackArgs{}.Kind(), "carrier." + adapter.OpTrack, nil, statusPast(StatusShipped)},
		{PostArgs{}.Kind(), "erp." + adapter.OpPostInvoice, nil, func(c *crashCase) (bool, error) {
			return c.none(`SELECT count(*) FROM erp_postings WHERE order_id = $1 AND kind = 'invoice' AND status = 'queued'`)
		}},
		{NotifyArgs{}.Kind(), "notify." + adapter.OpSend, nil, func(c *crashCase) (bool, error) {
			return c.none(`SELECT count(*) FROM notifications WHERE order_id = $1 AND status = 'queued'`)
		}},
		{VoidArgs{}.Kind(), "payment." + adapter.OpVoid, func(t *testing.T, c *crashCase) {
			c.wait(t, "authorised", statusPast(StatusCaptured))
			if _, err := c.svc.Cancel(context.Background(), "test", c.id, CancelRequest{Reason: "customer asked"}); err != nil {
				t.Fatal(err)
			}
		}, func(c *crashCase) (bool, error) {
			n, err := c.count(`SELECT count(*) FROM payments WHERE order_id = $1 AND kind = 'void'`)
			return n == 1, err
		}},
		{RefundArgs{}.Kind(), "payment." + adapter.OpRefund, func(t *testing.T, c *crashCase) {
			ctx := context.Background()
			c.wait(t, "delivered", statusPast(StatusShipped))
			r, _, err := c.svc.RequestReturn(ctx, "test", c.id, ReturnRequest{Reason: "too small", Lines: []ReturnLineInput{{LineNo: 1, Qty: 1}}})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.svc.ReceiveReturn(ctx, "test", r.ID, Inspection{Condition: ConditionResellable, RestockLocation: "nj-wh"}); err != nil {
				t.Fatal(err)
			}
		}, func(c *crashCase) (bool, error) {
			n, err := c.count(`SELECT count(*) FROM returns WHERE order_id = $1 AND status = 'refunded'`)
			return n == 1, err
		}},
		{SweepArgs{}.Kind(), "", func(t *testing.T, c *crashCase) {
			// The sweep dies waiting for the lock another sweep holds.
			ctx := context.Background()
			tx, err := c.pool.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			c.release = func() { tx.Rollback(ctx) }
			// A failure before the release must not leave the connection
			// out: the pool's Close in a later cleanup would wait for it
			// for ever (seen once in CI, as a 14-minute hang).
			t.Cleanup(c.release)
			if err := lockSweep(ctx, tx, "stale_inventory"); err != nil {
				t.Fatal(err)
			}
			if _, err := c.pool.Exec(ctx, EnqueueSQL, []byte(`{}`), SweepArgs{}.Kind(), maxAttempts, nil); err != nil {
				t.Fatal(err)
			}
		}, func(c *crashCase) (bool, error) {
			return c.none(`SELECT count(*) FROM river_job WHERE kind = 'exception_sweep' AND state <> 'completed' AND $1::uuid IS NOT NULL`)
		}},
	}
	epoch := time.Now()
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			url := dbtest.NewURL(t)
			pool, err := database.Open(ctx, url, 8)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(pool.Close)
			cancel := time.Duration(0)
			if tt.kind == (VoidArgs{}).Kind() {
				cancel = time.Hour // the order waits, authorised, to be cancelled
			}
			svc, sim := crashService(t, pool, epoch, cancel, func(s adapter.Systems) adapter.Systems { return s })
			buildNetwork(t, svc, map[string][]int{"A-1": {50, 50, 50}})
			c := &crashCase{svc: svc, pool: pool}

			child := exec.Command(os.Args[0], "-test.run", "^TestCrashChild$", "-test.count=1")
			child.Env = append(os.Environ(), crashEnvDB+"="+url, crashEnvStall+"="+tt.stall,
				crashEnvEpoch+"="+strconv.FormatInt(epoch.UnixNano(), 10), crashEnvCancel+"="+cancel.String())
			out, err := child.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			child.Stderr = os.Stderr
			if err := child.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = child.Process.Kill(); _ = child.Wait() })
			if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "child ready\n" {
				t.Fatalf("child said %q, %v", line, err)
			}

			res, err := svc.Capture(ctx, "test", nil, order("crash-"+tt.kind, "A-1", 1))
			if err != nil {
				t.Fatal(err)
			}
			c.id = res.Order.ID
			if tt.setup != nil {
				tt.setup(t, c)
			}
			// The child is in the job, and has been long enough for the
			// rescue window below.
			c.wait(t, tt.kind+" running in the child", func(c *crashCase) (bool, error) {
				n, err := c.count(`SELECT count(*) FROM river_job WHERE kind = '` + tt.kind + `' AND state = 'running'
					AND attempted_at < now() - interval '1200 milliseconds' AND $1::uuid IS NOT NULL`)
				return n > 0, err
			})
			if err := child.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			_ = child.Wait()
			if c.release != nil {
				c.release()
			}
			if ok, err := tt.done(c); err != nil || ok {
				t.Fatalf("before recovery: done = %v, %v; want the job stranded", ok, err)
			}
			// The dead process led the River clients; its lease would expire
			// within 15 seconds. Clear it so the test need not wait.
			if _, err := pool.Exec(ctx, `DELETE FROM river_leader`); err != nil {
				t.Fatal(err)
			}
			client := crashWorkers(t, pool, svc, time.Second)
			t.Cleanup(func() { client.Stop(context.Background()) })
			c.wait(t, tt.kind+" done after the restart", tt.done)

			// The outside call had acted before the process died: the retry
			// was answered from the simulator's records, not acted again.
			if tt.stall != "" {
				sys, op, _ := cutDot(tt.stall)
				if n := sim.Effects().Count(sys, op); n != 0 {
					t.Errorf("after the restart %s acted %d more times, want 0 (the dead process's call was answered from the records)", tt.stall, n)
				}
			}
			checkInvariants(t, pool, false)
		})
	}
}

// crashCase is one order of the crash test.
type crashCase struct {
	svc     *Service
	pool    *pgxpool.Pool
	id      uuid.UUID
	release func() // run after the kill
}

func (c *crashCase) count(q string) (int, error) {
	var n int
	err := c.pool.QueryRow(context.Background(), q, c.id).Scan(&n)
	return n, err
}

func (c *crashCase) none(q string) (bool, error) {
	n, err := c.count(q)
	return n == 0, err
}

// wait polls done for up to 40 seconds.
func (c *crashCase) wait(t *testing.T, what string, done func(*crashCase) (bool, error)) {
	t.Helper()
	// Rescue, retry and scheduling each wait for their own River interval;
	// on a loaded 2-core machine running the whole suite in parallel they
	// have taken more than 40 s together (seen once in CI). The wait is
	// bounded, not timed: the check is that the work gets done.
	deadline := time.Now().Add(90 * time.Second)
	for {
		ok, err := done(c)
		if err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			o, _ := c.svc.GetOrder(context.Background(), c.id)
			t.Fatalf("gave up waiting for %s (order %s)", what, o.Status)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// journey ranks the statuses of an order's way to the customer.
var journey = map[string]int{StatusCaptured: 0, StatusAuthorised: 1, StatusReleased: 2, StatusPartiallyShipped: 3,
	StatusShipped: 4, StatusDelivered: 5, StatusReturnRequested: 6, StatusReturned: 7, StatusRefunded: 8}

// statusPast reports whether the order moved on from status.
func statusPast(status string) func(c *crashCase) (bool, error) {
	return func(c *crashCase) (bool, error) {
		o, err := c.svc.GetOrder(context.Background(), c.id)
		rank, ok := journey[o.Status]
		return ok && rank > journey[status], err
	}
}

func cutDot(s string) (string, string, bool) {
	for i := range s {
		if s[i] == '.' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// stalled wraps sys so that the operation named "system.op" acts and then
// never answers, as a process that dies in the call would see it.
func stalled(sys adapter.Systems, op string) adapter.Systems {
	sys.Payment = stallPayment{sys.Payment, op}
	sys.Fulfillment = stallFulfillment{sys.Fulfillment, op}
	sys.Carrier = stallCarrier{sys.Carrier, op}
	sys.ERP = stallERP{sys.ERP, op}
	sys.Notifier = stallNotifier{sys.Notifier, op}
	return sys
}

// stall blocks for ever when op is the stalled operation.
func stall(stalled, system, op string) {
	if stalled == system+"."+op {
		select {}
	}
}

type stallPayment struct {
	adapter.PaymentGateway
	op string
}

func (p stallPayment) Authorize(ctx context.Context, req adapter.AuthorizeRequest) (adapter.Authorization, error) {
	r, err := p.PaymentGateway.Authorize(ctx, req)
	stall(p.op, adapter.SystemPayment, adapter.OpAuthorize)
	return r, err
}

func (p stallPayment) Void(ctx context.Context, req adapter.TransactionRequest) (adapter.Transaction, error) {
	r, err := p.PaymentGateway.Void(ctx, req)
	stall(p.op, adapter.SystemPayment, adapter.OpVoid)
	return r, err
}

func (p stallPayment) Refund(ctx context.Context, req adapter.TransactionRequest) (adapter.Transaction, error) {
	r, err := p.PaymentGateway.Refund(ctx, req)
	stall(p.op, adapter.SystemPayment, adapter.OpRefund)
	return r, err
}

type stallFulfillment struct {
	adapter.Fulfillment
	op string
}

func (f stallFulfillment) Release(ctx context.Context, req adapter.ReleaseRequest) (adapter.ReleaseResult, error) {
	r, err := f.Fulfillment.Release(ctx, req)
	stall(f.op, adapter.SystemFulfillment, adapter.OpRelease)
	return r, err
}

type stallCarrier struct {
	adapter.Carrier
	op string
}

func (k stallCarrier) Book(ctx context.Context, req adapter.BookRequest) (adapter.Booking, error) {
	r, err := k.Carrier.Book(ctx, req)
	stall(k.op, adapter.SystemCarrier, adapter.OpBook)
	return r, err
}

func (k stallCarrier) Track(ctx context.Context, tn string) ([]adapter.TrackingEvent, error) {
	r, err := k.Carrier.Track(ctx, tn)
	stall(k.op, adapter.SystemCarrier, adapter.OpTrack)
	return r, err
}

type stallERP struct {
	adapter.ERP
	op string
}

func (e stallERP) PostInvoice(ctx context.Context, doc adapter.Document) (adapter.Posting, error) {
	r, err := e.ERP.PostInvoice(ctx, doc)
	stall(e.op, adapter.SystemERP, adapter.OpPostInvoice)
	return r, err
}

type stallNotifier struct {
	adapter.Notifier
	op string
}

func (n stallNotifier) Send(ctx context.Context, msg adapter.Notification) (adapter.Receipt, error) {
	r, err := n.Notifier.Send(ctx, msg)
	stall(n.op, adapter.SystemNotify, adapter.OpSend)
	return r, err
}
