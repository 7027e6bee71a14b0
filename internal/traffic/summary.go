package traffic

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
)

// Summary is what a run did and what the server holds because of it.
type Summary struct {
	Started time.Time
	Elapsed time.Duration
	// SimulatedUntil is the simulated clock at the end.
	SimulatedUntil time.Time
	Orders         int
	// OrdersByChannel counts the orders placed, by channel kind.
	OrdersByChannel map[string]int
	// OrdersByState counts the run's orders by their state on the server
	// at the end; StatesAsLastSeen says the server could not be asked, and
	// the states are those the run saw last.
	OrdersByState    map[string]int
	StatesAsLastSeen bool
	// Reported counts exceptions reported with POST /v1/exceptions, and
	// Recommended those sent to POST /v1/recommendations, by kind;
	// Decisions counts the recommendations' decisions.
	Reported    map[string]int
	Recommended map[string]int
	Decisions   map[string]int
	// ServerExceptions counts every exception the server stored since the
	// run started, by kind (those the core raised included), and
	// CaseStatus their cases by status (auto_applied, queued_for_review…).
	ServerExceptions map[string]int
	CaseStatus       map[string]int
	// Actions counts what else the run did: edits, cancels, pickups,
	// returns, stock counts, and what the server refused of them.
	Actions   map[string]int
	Incidents []string
	// Errors counts failed requests by HTTP status (0: no answer).
	Errors   map[int]int
	Requests int
	Retries  int
	// Digest identifies the requests sent (see Simulator.Digest).
	Digest string
}

func newSummary(start time.Time) Summary {
	return Summary{Started: start, OrdersByChannel: map[string]int{}, OrdersByState: map[string]int{}, Reported: map[string]int{},
		Recommended: map[string]int{}, Decisions: map[string]int{}, ServerExceptions: map[string]int{}, CaseStatus: map[string]int{},
		Actions: map[string]int{}, Errors: map[int]int{}}
}

func (s *Summary) reportedTotal() int { return total(s.Reported) + total(s.Recommended) }

// ErrorCount is the number of failed requests.
func (s *Summary) ErrorCount() int { return total(s.Errors) }

func total[K comparable](m map[K]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// summary merges the lanes' counts.
func (s *Simulator) summary() Summary {
	sum := newSummary(s.start)
	var until time.Duration
	for _, l := range s.lanes {
		ls := &l.sum
		sum.Orders += ls.Orders
		for _, pair := range []struct{ to, from map[string]int }{{sum.OrdersByChannel, ls.OrdersByChannel},
			{sum.Reported, ls.Reported}, {sum.Recommended, ls.Recommended}, {sum.Decisions, ls.Decisions}, {sum.Actions, ls.Actions}} {
			for k, n := range pair.from {
				pair.to[k] += n
			}
		}
		for k, n := range ls.Errors {
			sum.Errors[k] += n
		}
		sum.Incidents = append(sum.Incidents, ls.Incidents...)
		l.cl.mu.Lock()
		sum.Requests += l.cl.requests
		sum.Retries += l.cl.retried
		l.cl.mu.Unlock()
		for _, o := range l.orders {
			sum.OrdersByState[o.status]++
		}
		until = max(until, l.now)
	}
	sum.StatesAsLastSeen = true
	sum.Elapsed = s.cfg.Now().Sub(s.start)
	sum.SimulatedUntil = s.simTime(until)
	sum.Digest = s.Digest()
	return sum
}

// finish reads back from the server the state of the run's orders and the
// exceptions stored since it started. These reads are not part of the
// traffic (nor of the digest). A server gone away leaves the states as
// last seen.
func (s *Simulator) finish(ctx context.Context) Summary {
	sum := s.summary()
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	var orders []*simOrder
	for _, l := range s.lanes {
		orders = append(orders, l.orders...)
	}
	states, err := s.readStates(rctx, orders)
	if err != nil {
		s.cfg.Logf("reading the orders' states at the end: %v", err)
		return sum
	}
	sum.OrdersByState, sum.StatesAsLastSeen = states, false
	if err := s.readExceptions(rctx, &sum); err != nil {
		s.cfg.Logf("reading the exceptions at the end: %v", err)
	}
	return sum
}

// get reads one resource with a few retries, outside the recorded traffic.
func (s *Simulator) get(ctx context.Context, path string, out any) error {
	var err error
	for attempt := 0; attempt < 4; attempt++ {
		var status int
		if status, err = s.lanes[0].cl.once(ctx, http.MethodGet, path, "", nil, out); err == nil || !retryable(status, err) {
			return err
		}
		if s.cfg.Sleep(ctx, time.Duration(100<<attempt)*time.Millisecond) != nil {
			break
		}
	}
	return err
}

func (s *Simulator) readStates(ctx context.Context, orders []*simOrder) (map[string]int, error) {
	states := make([]string, len(orders))
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		next  int
	)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				next++
				stop := first != nil
				mu.Unlock()
				if stop || i >= len(orders) {
					return
				}
				var got orderJSON
				if err := s.get(ctx, "/v1/orders/"+orders[i].id, &got); err != nil {
					mu.Lock()
					first = errors.Join(first, err)
					mu.Unlock()
					return
				}
				states[i] = got.Status
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return nil, first
	}
	out := map[string]int{}
	for i, st := range states {
		orders[i].status = st
		out[st]++
	}
	return out, nil
}

// exceptionItem is an exception as GET /v1/exceptions lists it.
type exceptionItem struct {
	ID         string    `json:"id"`
	Kind       string    `json:"kind"`
	CreatedAt  time.Time `json:"created_at"`
	CaseStatus string    `json:"case_status"`
}

// ListExceptionsSince pages through GET /v1/exceptions (newest first)
// down to since, calling fn for each.
func listExceptionsSince(ctx context.Context, get func(ctx context.Context, path string, out any) error, since time.Time, fn func(exceptionItem)) error {
	for after := ""; ; {
		var page struct {
			Exceptions []exceptionItem `json:"exceptions"`
			Next       *string         `json:"next"`
		}
		path := "/v1/exceptions?limit=500"
		if after != "" {
			path += "&after=" + url.QueryEscape(after)
		}
		if err := get(ctx, path, &page); err != nil {
			return err
		}
		for _, e := range page.Exceptions {
			if e.CreatedAt.Before(since) {
				return nil
			}
			fn(e)
		}
		if page.Next == nil || *page.Next == "" {
			return nil
		}
		after = *page.Next
	}
}

func (s *Simulator) readExceptions(ctx context.Context, sum *Summary) error {
	return listExceptionsSince(ctx, s.get, s.start, func(e exceptionItem) {
		sum.ServerExceptions[e.Kind]++
		st := e.CaseStatus
		if st == "" {
			st = "none"
		}
		sum.CaseStatus[st]++
	})
}

// Print writes the summary for a person.
func (s *Summary) Print(w io.Writer) {
	fmt.Fprintf(w, "\nSimulated %s in %s (simulated clock at %s): %d orders, %d requests, %d retried, %d failed.\n",
		"traffic", s.Elapsed.Round(time.Second), s.SimulatedUntil.Format("Mon 15:04"), s.Orders, s.Requests, s.Retries, s.ErrorCount())
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(title string, m map[string]int) {
		if len(m) == 0 {
			fmt.Fprintf(tw, "%s\t-\n", title)
			return
		}
		fmt.Fprintf(tw, "%s\t%s\n", title, counts(m))
	}
	row("orders by channel", s.OrdersByChannel)
	title := "orders by state"
	if s.StatesAsLastSeen {
		title += " (as last seen)"
	}
	row(title, s.OrdersByState)
	row("exceptions on the server", s.ServerExceptions)
	row("their cases", s.CaseStatus)
	fmt.Fprintf(tw, "automation\t%d auto-applied, %d queued for review\n", s.CaseStatus["auto_applied"], s.CaseStatus["queued_for_review"])
	row("reported (POST /v1/exceptions)", s.Reported)
	row("recommendations asked", s.Recommended)
	row("recommendation decisions", s.Decisions)
	row("other actions", s.Actions)
	errs := map[string]int{}
	for st, n := range s.Errors {
		k := fmt.Sprint(st)
		if st == 0 {
			k = "no answer"
		}
		errs[k] = n
	}
	row("errors by HTTP status", errs)
	if len(s.Incidents) > 0 {
		fmt.Fprintf(tw, "incidents\t%s\n", strings.Join(s.Incidents, "; "))
	}
	fmt.Fprintf(tw, "request digest\t%s\n", s.Digest)
	tw.Flush()
}

// counts is "a 3, b 1", largest first.
func counts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}
