package traffic

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// exceptionInput is an exception as an outside system reports it.
type exceptionInput struct {
	ID         string    `json:"id"`
	Kind       string    `json:"kind"`
	Severity   string    `json:"severity"`
	Source     string    `json:"source"`
	OrderID    string    `json:"order_id,omitempty"`
	SKU        string    `json:"sku,omitempty"`
	Location   string    `json:"location,omitempty"`
	Carrier    string    `json:"carrier,omitempty"`
	Endpoint   string    `json:"endpoint,omitempty"`
	Code       string    `json:"code,omitempty"`
	Message    string    `json:"message"`
	OccurredAt time.Time `json:"occurred_at"`
}

// recommendContext is what the orchestrator knows of the order.
type recommendContext struct {
	OrderValue   float64 `json:"order_value,omitempty"`
	Currency     string  `json:"currency,omitempty"`
	CustomerTier string  `json:"customer_tier,omitempty"`
	Channel      string  `json:"channel,omitempty"`
	ServiceLevel string  `json:"service_level,omitempty"`
}

// planReports schedules what the outside systems will say about an order
// during the day's incidents, and the odd problem outside them.
func (s *lane) planReports(o *simOrder, hour float64, day int, draw, extra float64) {
	switch {
	case paymentWindow.active(hour):
		s.announce(paymentWindow, "at the payment gateway")
		if draw < 0.35 {
			rp := paymentDeclines[int(extra*float64(len(paymentDeclines)))%len(paymentDeclines)]
			s.schedule(jitter(s, time.Second, 4*time.Second), s.sendReport(o, rp, "", "", extra < 0.5))
		}
	case carrierWindow.active(hour):
		region := s.cat.regions[day%len(s.cat.regions)]
		carrier := carriers[day%len(carriers)]
		hub := hubs[day%len(hubs)]
		s.announce(carrierWindow, fmt.Sprintf("in %s (%s, hub %s)", region, carrier, hub))
		if o.pickup {
			break
		}
		if o.region == region && draw < 0.45 {
			s.schedule(jitter(s, 2*time.Second, 10*time.Second), s.sendReport(o, carrierDisruption(carrier, region, hub), carrier, region, extra < 0.5))
		} else if o.region != region && draw < 0.08 {
			s.schedule(jitter(s, 2*time.Second, 10*time.Second), s.sendReport(o, carrierDelay(carrier, hub), carrier, "", false))
		}
	case erpWindow.active(hour):
		s.announce(erpWindow, "(postings fail)")
		if draw < 0.5 {
			rp := erpFailures[int(extra*float64(len(erpFailures)))%len(erpFailures)]
			s.schedule(jitter(s, 3*time.Second, 15*time.Second), s.sendReport(o, rp, "", "", extra < 0.3))
		}
	default:
		switch {
		case (o.kind == "web" || o.kind == "marketplace") && !o.pickup && draw < 0.015:
			rp := addressProblems[int(extra*float64(len(addressProblems)))%len(addressProblems)]
			s.schedule(time.Second, s.sendReport(o, rp, "", "", true))
		case o.kind == "marketplace" && draw < 0.035:
			s.schedule(2*time.Second, s.sendReport(o, fraudFlags[0], "", "", false))
		}
	}
}

// sendReport reports an exception about an order: through
// POST /v1/recommendations when the orchestrator wants the fix now, else
// through POST /v1/exceptions.
func (s *lane) sendReport(o *simOrder, rp report, carrier, location string, recommend bool) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		ex := exceptionInput{ID: s.newID(), Kind: rp.kind, Severity: rp.severity, Source: rp.source, Endpoint: rp.endpoint,
			Code: rp.code, Message: rp.message, Carrier: carrier, Location: location, OccurredAt: s.at(s.now).UTC()}
		if o != nil {
			ex.OrderID = o.id
		}
		s.cl.name(ex.ID, fmt.Sprintf("exception#%d", s.seq))
		if !recommend {
			var res struct {
				Case struct {
					Status string `json:"status"`
				} `json:"case"`
			}
			if _, err := s.cl.call(ctx, http.MethodPost, "/v1/exceptions", s.nextKey(), ex, &res); err != nil {
				return err
			}
			s.sum.Reported[rp.kind]++
			s.counts.reported.Add(1)
			return nil
		}
		body := struct {
			Exception exceptionInput   `json:"exception"`
			Context   recommendContext `json:"context"`
		}{Exception: ex}
		if o != nil {
			body.Context = recommendContext{OrderValue: o.total, Currency: "USD", CustomerTier: o.tier, Channel: o.channel, ServiceLevel: o.service}
		}
		var rec struct {
			CaseID   string `json:"case_id"`
			Decision string `json:"decision"`
			Action   string `json:"action"`
		}
		if _, err := s.cl.call(ctx, http.MethodPost, "/v1/recommendations", s.nextKey(), body, &rec); err != nil {
			return err
		}
		s.cl.name(rec.CaseID, "case:"+ex.ID)
		s.sum.Recommended[rp.kind]++
		s.counts.reported.Add(1)
		s.sum.Decisions[rec.Decision]++
		return nil
	}
}

// scheduleSyncs starts the stores' and warehouses' stock feeds: every
// store counts about every two simulated hours.
func (s *lane) scheduleSyncs() {
	n := max(1, len(s.cat.stores))
	every := max(s.simSpan(2*time.Hour)/time.Duration(n), 2*time.Second, time.Duration(4/s.cfg.Rate*float64(time.Second)))
	var k int
	var next func(ctx context.Context) error
	next = func(ctx context.Context) error {
		defer s.schedule(every, next)
		k++
		if k%5 == 0 {
			if done, err := s.receiveStock(ctx); done || err != nil {
				return err
			}
		}
		if len(s.cat.stores) == 0 {
			return nil
		}
		store := s.cat.stores[s.storeNext%len(s.cat.stores)]
		s.storeNext++
		if k%6 == 5 { // the till server did not export: the POS middleware says so
			return s.sendReport(nil, staleFeed(store.Code, 26+k%20), "", store.Code, false)(ctx)
		}
		return s.countStore(ctx, store, k%8 == 2)
	}
	s.schedule(every/2, next)
}

type adjustment struct {
	SKU        string     `json:"sku"`
	Location   string     `json:"location"`
	Count      *int       `json:"count,omitempty"`
	Delta      int        `json:"delta,omitempty"`
	ObservedAt *time.Time `json:"observed_at,omitempty"`
	Reason     string     `json:"reason,omitempty"`
}

// countStore sends a store's cycle count: most rows as they are, some with
// shrink (now and then below what is reserved), and, when stale, counts
// from a batch the till kept while offline, older than the last sync.
func (s *lane) countStore(ctx context.Context, store location, stale bool) error {
	var st struct {
		Stock []stockRow `json:"stock"`
	}
	if _, err := s.cl.call(ctx, http.MethodGet, "/v1/stock?location="+url.QueryEscape(store.Code), "", nil, &st); err != nil {
		return err
	}
	if len(st.Stock) == 0 {
		return nil
	}
	observed := s.at(s.now).UTC()
	reason := "cycle count"
	if stale {
		observed = observed.Add(-72 * time.Hour)
		reason = "offline till batch replayed"
	}
	var adj []adjustment
	for i := 0; i < 12 && i < len(st.Stock); i++ {
		row := st.Stock[s.r.IntN(len(st.Stock))]
		count := row.OnHand
		switch x := s.r.Float64(); {
		case x < 0.06 && row.Reserved > 0:
			count = 0 // the shelf is empty although orders wait for it
		case x < 0.35 && count > 0:
			count = max(0, count-1-s.r.IntN(3)) // shrink
		}
		c, obs := count, observed
		adj = append(adj, adjustment{SKU: row.SKU, Location: store.Code, Count: &c, ObservedAt: &obs, Reason: reason})
	}
	var res struct {
		Applied int `json:"applied"`
		Refused int `json:"refused"`
		Rows    []struct {
			Short int `json:"short"`
		} `json:"rows"`
	}
	body := map[string]any{"source": "pos:" + store.Code, "adjustments": adj}
	if _, err := s.cl.call(ctx, http.MethodPost, "/v1/inventory/adjustments", s.nextKey(), body, &res); err != nil {
		return err
	}
	s.sum.Actions["store counts"]++
	s.sum.Actions["count rows applied"] += res.Applied
	s.sum.Actions["count rows refused (stale)"] += res.Refused
	for _, r := range res.Rows {
		if r.Short > 0 {
			s.sum.Actions["counts below reservations"]++
		}
	}
	return nil
}

// receiveStock books a warehouse receipt for what the run has sold, so a
// long run does not empty the network. It answers false when nothing was
// sold yet.
func (s *lane) receiveStock(ctx context.Context) (bool, error) {
	var adj []adjustment
	for _, k := range s.cat.skus { // fast movers first: a fixed order
		n := s.soldUnits[k.Code]
		locs := s.cat.stockedAt[k.Code]
		if n == 0 || len(locs) == 0 {
			continue
		}
		// This lane sees its own sales only; the others sell alike.
		adj = append(adj, adjustment{SKU: k.Code, Location: locs[0], Delta: n * len(s.lanes), Reason: "inbound receipt"})
		delete(s.soldUnits, k.Code)
		if len(adj) == 200 {
			break
		}
	}
	if len(adj) == 0 {
		return false, nil
	}
	body := map[string]any{"source": "wms", "adjustments": adj}
	if _, err := s.cl.call(ctx, http.MethodPost, "/v1/inventory/adjustments", s.nextKey(), body, nil); err != nil {
		return true, err
	}
	s.sum.Actions["warehouse receipts"]++
	return true, nil
}
