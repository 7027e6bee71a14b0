package orchestration

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/omnitriage/omnitriage/internal/derrors"
	"github.com/omnitriage/omnitriage/orchestration/adapter"
)

// CallCounter counts the calls made to the outside systems, by minute,
// system, operation and outcome, for the API failure rate
// (process_api_failures). Wrap the systems with Systems before handing them
// to the Service, and run Run (or call Flush) to write the counts to
// integration_calls.
//
// Outcomes: a call that returns no error is a success, whatever it answered
// (a decline or a rejection is an answer); a retryable error (timeout, 5xx,
// 429) is transient; any other error is failed, including a request the
// adapter refused before sending it. Calls whose context the caller cancelled
// are not counted: the remote system did nothing wrong.
type CallCounter struct {
	now func() time.Time

	mu     sync.Mutex
	counts map[callBucket]callTally
}

type callBucket struct {
	minute     time.Time
	system, op string
}

type callTally struct{ calls, transient, failed int64 }

// NewCallCounter returns a counter whose minutes come from now (time.Now when nil).
func NewCallCounter(now func() time.Time) *CallCounter {
	if now == nil {
		now = time.Now
	}
	return &CallCounter{now: now, counts: map[callBucket]callTally{}}
}

// record counts one call's outcome.
func (c *CallCounter) record(system, op string, err error) {
	var t callTally
	var ae *adapter.Error
	switch {
	case err == nil:
	case errors.As(err, &ae) && ae.Code == adapter.CodeCanceled, errors.Is(err, context.Canceled):
		return
	case adapter.IsRetryable(err):
		t.transient = 1
	default:
		t.failed = 1
	}
	t.calls = 1
	k := callBucket{minute: c.now().UTC().Truncate(time.Minute), system: system, op: op}
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.counts[k]
	c.counts[k] = callTally{old.calls + t.calls, old.transient + t.transient, old.failed + t.failed}
}

// Flush adds the counts so far to integration_calls and starts afresh. When
// the write fails the counts are kept for the next flush.
func (c *CallCounter) Flush(ctx context.Context, pool *pgxpool.Pool) (err error) {
	defer derrors.Wrap(&err, "CallCounter.Flush")
	c.mu.Lock()
	counts := c.counts
	c.counts = map[callBucket]callTally{}
	c.mu.Unlock()
	if len(counts) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	for k, t := range counts {
		b.Queue(`INSERT INTO integration_calls AS ic (bucket, system, op, calls, transient, failed) VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (bucket, system, op) DO UPDATE SET calls = ic.calls + EXCLUDED.calls,
				transient = ic.transient + EXCLUDED.transient, failed = ic.failed + EXCLUDED.failed`,
			k.minute, k.system, k.op, t.calls, t.transient, t.failed)
	}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return tx.SendBatch(ctx, b).Close() })
	if err != nil {
		c.mu.Lock()
		for k, t := range counts {
			old := c.counts[k]
			c.counts[k] = callTally{old.calls + t.calls, old.transient + t.transient, old.failed + t.failed}
		}
		c.mu.Unlock()
	}
	return err
}

// Run flushes every interval until ctx ends, then once more (with a fresh
// context of a few seconds), logging nothing: a failed flush keeps its counts
// for the next one.
func (c *CallCounter) Run(ctx context.Context, pool *pgxpool.Pool, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = c.Flush(fctx, pool)
			cancel()
			return
		case <-t.C:
			_ = c.Flush(ctx, pool)
		}
	}
}

// Systems wraps each of sys so its calls are counted; nil systems stay nil.
func (c *CallCounter) Systems(sys adapter.Systems) adapter.Systems {
	out := sys
	if sys.Payment != nil {
		out.Payment = countedPayment{sys.Payment, c}
	}
	if sys.Fraud != nil {
		out.Fraud = countedFraud{sys.Fraud, c}
	}
	if sys.Tax != nil {
		out.Tax = countedTax{sys.Tax, c}
	}
	if sys.Fulfillment != nil {
		out.Fulfillment = countedFulfillment{sys.Fulfillment, c}
	}
	if sys.Carrier != nil {
		out.Carrier = countedCarrier{sys.Carrier, c}
	}
	if sys.ERP != nil {
		out.ERP = countedERP{sys.ERP, c}
	}
	if sys.Notifier != nil {
		out.Notifier = countedNotifier{sys.Notifier, c}
	}
	return out
}

// counted calls fn and records its outcome under system and op.
func counted[T any](c *CallCounter, system, op string, fn func() (T, error)) (T, error) {
	v, err := fn()
	c.record(system, op, err)
	return v, err
}

type countedPayment struct {
	next adapter.PaymentGateway
	c    *CallCounter
}

func (p countedPayment) Authorize(ctx context.Context, req adapter.AuthorizeRequest) (adapter.Authorization, error) {
	return counted(p.c, adapter.SystemPayment, adapter.OpAuthorize, func() (adapter.Authorization, error) { return p.next.Authorize(ctx, req) })
}

func (p countedPayment) Capture(ctx context.Context, req adapter.TransactionRequest) (adapter.Transaction, error) {
	return counted(p.c, adapter.SystemPayment, adapter.OpCapture, func() (adapter.Transaction, error) { return p.next.Capture(ctx, req) })
}

func (p countedPayment) Void(ctx context.Context, req adapter.TransactionRequest) (adapter.Transaction, error) {
	return counted(p.c, adapter.SystemPayment, adapter.OpVoid, func() (adapter.Transaction, error) { return p.next.Void(ctx, req) })
}

func (p countedPayment) Refund(ctx context.Context, req adapter.TransactionRequest) (adapter.Transaction, error) {
	return counted(p.c, adapter.SystemPayment, adapter.OpRefund, func() (adapter.Transaction, error) { return p.next.Refund(ctx, req) })
}

type countedFraud struct {
	next adapter.FraudScreen
	c    *CallCounter
}

func (f countedFraud) Score(ctx context.Context, req adapter.FraudRequest) (adapter.FraudResult, error) {
	return counted(f.c, adapter.SystemFraud, adapter.OpScore, func() (adapter.FraudResult, error) { return f.next.Score(ctx, req) })
}

type countedTax struct {
	next adapter.TaxAddress
	c    *CallCounter
}

func (t countedTax) ValidateAddress(ctx context.Context, req adapter.AddressRequest) (adapter.AddressResult, error) {
	return counted(t.c, adapter.SystemTax, adapter.OpValidateAddress, func() (adapter.AddressResult, error) { return t.next.ValidateAddress(ctx, req) })
}

func (t countedTax) QuoteTax(ctx context.Context, req adapter.TaxRequest) (adapter.TaxQuote, error) {
	return counted(t.c, adapter.SystemTax, adapter.OpQuoteTax, func() (adapter.TaxQuote, error) { return t.next.QuoteTax(ctx, req) })
}

type countedFulfillment struct {
	next adapter.Fulfillment
	c    *CallCounter
}

func (f countedFulfillment) Release(ctx context.Context, req adapter.ReleaseRequest) (adapter.ReleaseResult, error) {
	return counted(f.c, adapter.SystemFulfillment, adapter.OpRelease, func() (adapter.ReleaseResult, error) { return f.next.Release(ctx, req) })
}

type countedCarrier struct {
	next adapter.Carrier
	c    *CallCounter
}

func (k countedCarrier) Book(ctx context.Context, req adapter.BookRequest) (adapter.Booking, error) {
	return counted(k.c, adapter.SystemCarrier, adapter.OpBook, func() (adapter.Booking, error) { return k.next.Book(ctx, req) })
}

func (k countedCarrier) Track(ctx context.Context, trackingNumber string) ([]adapter.TrackingEvent, error) {
	return counted(k.c, adapter.SystemCarrier, adapter.OpTrack, func() ([]adapter.TrackingEvent, error) { return k.next.Track(ctx, trackingNumber) })
}

type countedERP struct {
	next adapter.ERP
	c    *CallCounter
}

func (e countedERP) PostInvoice(ctx context.Context, doc adapter.Document) (adapter.Posting, error) {
	return counted(e.c, adapter.SystemERP, adapter.OpPostInvoice, func() (adapter.Posting, error) { return e.next.PostInvoice(ctx, doc) })
}

func (e countedERP) PostCreditMemo(ctx context.Context, doc adapter.Document) (adapter.Posting, error) {
	return counted(e.c, adapter.SystemERP, adapter.OpPostCreditMemo, func() (adapter.Posting, error) { return e.next.PostCreditMemo(ctx, doc) })
}

func (e countedERP) PostPaymentCapture(ctx context.Context, doc adapter.Document) (adapter.Posting, error) {
	return counted(e.c, adapter.SystemERP, adapter.OpPostPaymentCapture, func() (adapter.Posting, error) { return e.next.PostPaymentCapture(ctx, doc) })
}

func (e countedERP) PostRefund(ctx context.Context, doc adapter.Document) (adapter.Posting, error) {
	return counted(e.c, adapter.SystemERP, adapter.OpPostRefund, func() (adapter.Posting, error) { return e.next.PostRefund(ctx, doc) })
}

func (e countedERP) Status(ctx context.Context, documentKey string) (adapter.Posting, error) {
	return counted(e.c, adapter.SystemERP, adapter.OpStatus, func() (adapter.Posting, error) { return e.next.Status(ctx, documentKey) })
}

type countedNotifier struct {
	next adapter.Notifier
	c    *CallCounter
}

func (n countedNotifier) Send(ctx context.Context, msg adapter.Notification) (adapter.Receipt, error) {
	return counted(n.c, adapter.SystemNotify, adapter.OpSend, func() (adapter.Receipt, error) { return n.next.Send(ctx, msg) })
}
