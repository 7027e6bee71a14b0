package traffic

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// simOrder is an order the run placed, as last seen.
type simOrder struct {
	n       int
	id      string
	kind    string // channel kind
	channel string
	status  string
	version int
	lines   []orderLine
	pickup  bool
	region  string
	tier    string
	service string
	total   float64
	shipTo  *address
}

type orderLine struct {
	ID     string `json:"id"`
	LineNo int    `json:"line_no"`
	SKU    string `json:"sku"`
	Qty    int    `json:"qty"`
	Status string `json:"status"`
}

type orderJSON struct {
	ID      string      `json:"id"`
	Status  string      `json:"status"`
	Version int         `json:"version"`
	Total   float64     `json:"total"`
	Lines   []orderLine `json:"lines"`
}

type customer struct {
	ID    string `json:"id"`
	Name  string `json:"name,omitempty"`
	Email string `json:"email,omitempty"`
	Tier  string `json:"tier,omitempty"`
}

type address struct {
	Name       string  `json:"name,omitempty"`
	Line1      string  `json:"line1"`
	City       string  `json:"city"`
	Region     string  `json:"region,omitempty"`
	PostalCode string  `json:"postal_code"`
	Country    string  `json:"country"`
	Lat        float64 `json:"lat"`
	Lon        float64 `json:"lon"`
}

type lineInput struct {
	SKU string `json:"sku"`
	Qty int    `json:"qty"`
}

type captureRequest struct {
	Channel        string      `json:"channel"`
	ExternalID     string      `json:"external_id"`
	Customer       customer    `json:"customer"`
	ShipTo         *address    `json:"ship_to,omitempty"`
	PickupLocation string      `json:"pickup_location,omitempty"`
	ServiceLevel   string      `json:"service_level,omitempty"`
	PaymentRef     string      `json:"payment_ref,omitempty"`
	Lines          []lineInput `json:"lines"`
}

// channelMix is the share of each channel kind, with stores open 09–21.
func channelMix(kind string, hour float64) float64 {
	switch kind {
	case "web":
		return 0.40
	case "mobile":
		if hour >= 18 || hour < 1 {
			return 0.40 // the evening on the sofa
		}
		return 0.28
	case "marketplace":
		return 0.15
	case "store":
		if hour >= 9 && hour < 21 {
			return 0.22
		}
	}
	return 0
}

// placeOrder sends one order from a channel and plans what happens to it.
func (s *lane) placeOrder(ctx context.Context) error {
	sim := s.simTime(s.now)
	hour, day := hourOf(sim), dayIndex(sim)
	kinds := s.cat.channelKinds()
	w := make([]float64, len(kinds))
	for i, k := range kinds {
		w[i] = channelMix(k, hour)
	}
	kind := kinds[pickWeighted(s.r, w)]
	chs := s.cat.channels[kind]
	ch := chs[s.r.IntN(len(chs))]

	o := &simOrder{n: len(s.orders) + 1, kind: kind, channel: ch.Code, tier: pickTier(s.r.Float64())}
	o.pickup = len(s.cat.stores) > 0 && ((kind == "store" && s.r.Float64() < 0.5) || ((kind == "web" || kind == "mobile") && s.r.Float64() < 0.12))
	promo := promoWindow.active(hour) && s.r.Float64() < 0.7
	if promoWindow.active(hour) {
		s.announce(promoWindow, "on "+strings.Join(s.promoSKUs(day), ", "))
	}
	cust := 1 + s.r.IntN(5000)
	req := captureRequest{Channel: ch.Code, ExternalID: fmt.Sprintf("SIM%s-%d-%06d", s.token, s.id, o.n),
		Customer: customer{ID: fmt.Sprintf("sim-cust-%04d", cust), Name: fmt.Sprintf("Customer %d", cust),
			Email: fmt.Sprintf("customer%d@example.com", cust), Tier: o.tier},
		PaymentRef: fmt.Sprintf("pi_sim_%s_%d_%d", s.token, s.id, o.n)}
	if o.pickup {
		store := s.cat.stores[s.r.IntN(len(s.cat.stores))]
		req.PickupLocation = store.Code
		o.region = store.Region
		req.Lines = s.pickLines(s.cat.atStore[store.Code], promo, day)
	} else {
		c := cities[s.r.IntN(len(cities))]
		a := &address{Name: req.Customer.Name, Line1: fmt.Sprintf("%d %s", 1+s.r.IntN(2999), streets[s.r.IntN(len(streets))]),
			City: c.name, Region: c.state, PostalCode: c.zip, Country: "US",
			Lat: c.lat + (s.r.Float64()-0.5)*0.1, Lon: c.lon + (s.r.Float64()-0.5)*0.1}
		req.ShipTo, o.shipTo = a, a
		o.region = s.cat.regionOf(a.Lat, a.Lon)
		switch x := s.r.Float64(); {
		case x < 0.05:
			req.ServiceLevel = "same_day"
		case x < 0.20:
			req.ServiceLevel = "express"
		}
		req.Lines = s.pickLines(nil, promo, day)
	}
	o.service = req.ServiceLevel
	if o.service == "" {
		o.service = "standard"
	}
	// Fates are drawn before the answer, so every order draws the same.
	fate, collect, reportDraw, extraDraw := s.r.Float64(), s.r.Float64() < 0.85, s.r.Float64(), s.r.Float64()

	var got orderJSON
	if _, err := s.cl.call(ctx, http.MethodPost, "/v1/orders", s.nextKey(), req, &got); err != nil {
		return err
	}
	s.adopt(o, got)
	s.orders = append(s.orders, o)
	s.sum.Orders++
	s.counts.orders.Add(1)
	s.sum.OrdersByChannel[kind]++
	for _, l := range req.Lines {
		s.soldUnits[l.SKU] += l.Qty
	}

	switch {
	case o.pickup && collect:
		s.schedule(20*time.Second, s.pollPickup(o, true, 20*time.Second))
	case o.pickup:
		s.sum.Actions["pickups left uncollected"]++
	case fate < 0.06:
		s.schedule(jitter(s, 500*time.Millisecond, 5*time.Second), s.editOrder(o))
	case fate < 0.11:
		s.schedule(jitter(s, 500*time.Millisecond, 5*time.Second), s.cancelOrder(o))
	case fate < 0.21:
		s.schedule(30*time.Second, s.pollReturn(o, 30*time.Second))
	}
	s.planReports(o, hour, day, reportDraw, extraDraw)
	return nil
}

func pickTier(x float64) string {
	switch {
	case x < 0.05:
		return "vip"
	case x < 0.20:
		return "gold"
	}
	return "standard"
}

func jitter(s *lane, lo, hi time.Duration) time.Duration {
	return lo + time.Duration(s.r.Int64N(int64(hi-lo)+1))
}

// pickLines draws 1–4 lines: fast movers mostly, from the pickup store's
// shelf when there is one, and the promotion's SKUs while it runs.
func (s *lane) pickLines(shelf []string, promo bool, day int) []lineInput {
	n := 1 + pickWeighted(s.r, []float64{0.55, 0.28, 0.12, 0.05})
	seen := map[string]bool{}
	var out []lineInput
	if promo {
		p := s.promoSKUs(day)
		code := p[s.r.IntN(len(p))]
		seen[code] = true
		out = append(out, lineInput{SKU: code, Qty: 1 + s.r.IntN(3)})
	}
	for tries := 0; len(out) < n && tries < 10; tries++ {
		var code string
		switch {
		case len(shelf) > 0:
			code = shelf[zipfIndex(s.r, len(shelf))]
		case s.r.Float64() < 0.03: // the long tail: may not be in stock anywhere near
			code = s.cat.skus[s.r.IntN(len(s.cat.skus))].Code
		default:
			code = s.cat.skus[zipfIndex(s.r, len(s.cat.skus))].Code
		}
		if seen[code] {
			continue
		}
		seen[code] = true
		qty := 1
		if s.r.Float64() < 0.15 {
			qty = 2
		}
		out = append(out, lineInput{SKU: code, Qty: qty})
	}
	if len(out) == 0 {
		out = append(out, lineInput{SKU: s.cat.skus[0].Code, Qty: 1})
	}
	return out
}

// promoSKUs are the day's three promoted SKUs: well stocked, but not the
// warehouse bulk lines, so the promotion runs some of them out.
func (s *lane) promoSKUs(day int) []string {
	if p, ok := s.promo[day]; ok {
		return p
	}
	lo := min(20, len(s.cat.skus)-1)
	hi := min(200, len(s.cat.skus))
	var p []string
	for i := 0; i < 3; i++ {
		k := (lo + (day*37+i*61)%max(1, hi-lo))
		p = append(p, s.cat.skus[min(k, len(s.cat.skus)-1)].Code)
	}
	s.promo[day] = p
	return p
}

// adopt records what the server answered about an order.
func (s *lane) adopt(o *simOrder, got orderJSON) {
	if o.id == "" {
		o.id = got.ID
		s.cl.name(got.ID, fmt.Sprintf("order#%d", o.n))
	}
	o.status, o.version, o.total = got.Status, got.Version, got.Total
	if len(got.Lines) > 0 {
		o.lines = got.Lines
		for _, l := range got.Lines {
			s.cl.name(l.ID, fmt.Sprintf("order#%d.line#%d", o.n, l.LineNo))
		}
	}
}

// editOrder changes the basket (or corrects the address) soon after the
// order: refused when the order was released already.
func (s *lane) editOrder(o *simOrder) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		body := map[string]any{"version": o.version, "reason": "customer changed the order"}
		if o.shipTo != nil && s.r.Float64() < 0.3 {
			a := *o.shipTo
			a.Line1 += ", Apt " + fmt.Sprint(1+s.r.IntN(40))
			body["ship_to"] = a
			body["reason"] = "customer corrected the address"
		} else {
			var lines []lineInput
			for _, l := range o.lines {
				if l.Status != "cancelled" && l.Status != "rejected" {
					lines = append(lines, lineInput{SKU: l.SKU, Qty: l.Qty})
				}
			}
			if len(lines) == 0 {
				return nil
			}
			lines[0].Qty++
			if s.r.Float64() < 0.5 {
				add := s.cat.skus[zipfIndex(s.r, len(s.cat.skus))].Code
				dup := false
				for _, l := range lines {
					dup = dup || l.SKU == add
				}
				if !dup {
					lines = append(lines, lineInput{SKU: add, Qty: 1})
				}
			}
			body["lines"] = lines
		}
		var got orderJSON
		_, err := s.cl.call(ctx, http.MethodPatch, "/v1/orders/"+o.id, s.nextKey(), body, &got)
		if statusOf(err) == http.StatusConflict {
			s.sum.Actions["edits refused (order moved on)"]++
			return nil
		}
		if err != nil {
			return err
		}
		s.adopt(o, got)
		s.sum.Actions["edits"]++
		return nil
	}
}

// cancelOrder cancels the order, or one line of a bigger one.
func (s *lane) cancelOrder(o *simOrder) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		body := map[string]any{"reason": "customer cancelled"}
		if len(o.lines) > 1 && s.r.Float64() < 0.4 {
			body["lines"] = []int{o.lines[len(o.lines)-1].LineNo}
			body["reason"] = "customer removed an item"
		}
		var got orderJSON
		_, err := s.cl.call(ctx, http.MethodPost, "/v1/orders/"+o.id+"/cancel", s.nextKey(), body, &got)
		if statusOf(err) == http.StatusConflict {
			s.sum.Actions["cancels refused (order moved on)"]++
			return nil
		}
		if err != nil {
			return err
		}
		s.adopt(o, got)
		s.sum.Actions["cancels"]++
		return nil
	}
}

// refresh reads the order's current state.
func (s *lane) refresh(ctx context.Context, o *simOrder) error {
	var got orderJSON
	if _, err := s.cl.call(ctx, http.MethodGet, "/v1/orders/"+o.id, "", nil, &got); err != nil {
		return err
	}
	s.adopt(o, got)
	return nil
}

// final states an order does not leave by itself.
func settled(status string) bool {
	switch status {
	case "rejected", "cancelled", "refunded", "returned":
		return true
	}
	return false
}

const pollCap, pollGiveUp = 5 * time.Minute, 3 * time.Hour

// pollPickup waits for the store to put the order on the shelf, then
// collects it a while later.
func (s *lane) pollPickup(o *simOrder, collect bool, every time.Duration) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		if err := s.refresh(ctx, o); err != nil {
			return err
		}
		switch {
		case o.status == "ready_for_pickup":
			s.schedule(jitter(s, s.simSpan(30*time.Minute), s.simSpan(6*time.Hour)), s.collect(o))
		case settled(o.status) || o.status == "delivered" || every > pollGiveUp:
		default:
			s.schedule(every, s.pollPickup(o, collect, min(every*3/2, pollCap)))
		}
		return nil
	}
}

func (s *lane) collect(o *simOrder) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		var got orderJSON
		_, err := s.cl.call(ctx, http.MethodPost, "/v1/orders/"+o.id+"/collected", s.nextKey(), nil, &got)
		if statusOf(err) == http.StatusConflict {
			s.sum.Actions["collections refused"]++
			return nil
		}
		if err != nil {
			return err
		}
		s.adopt(o, got)
		s.sum.Actions["pickups collected"]++
		return nil
	}
}

// pollReturn waits for delivery, then sends one line back.
func (s *lane) pollReturn(o *simOrder, every time.Duration) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		if err := s.refresh(ctx, o); err != nil {
			return err
		}
		switch {
		case o.status == "delivered":
			s.schedule(jitter(s, s.simSpan(2*time.Hour), s.simSpan(48*time.Hour)), s.returnOrder(o))
		case settled(o.status) || every > pollGiveUp:
		default:
			s.schedule(every, s.pollReturn(o, min(every*3/2, pollCap)))
		}
		return nil
	}
}

type returnJSON struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

func (s *lane) returnOrder(o *simOrder) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		var line *orderLine
		for i := range o.lines {
			if o.lines[i].Status == "delivered" {
				line = &o.lines[i]
				break
			}
		}
		if line == nil {
			return nil
		}
		reasons := []string{"does not fit", "arrived damaged", "changed my mind", "not as described"}
		body := map[string]any{"rma_key": fmt.Sprintf("rma-%s-%d-%d", s.token, s.id, o.n), "reason": reasons[s.r.IntN(len(reasons))],
			"lines": []map[string]any{{"line_no": line.LineNo, "qty": line.Qty}}}
		var ret returnJSON
		_, err := s.cl.call(ctx, http.MethodPost, "/v1/orders/"+o.id+"/returns", s.nextKey(), body, &ret)
		if statusOf(err) == http.StatusConflict {
			s.sum.Actions["returns refused"]++
			return nil
		}
		if err != nil {
			return err
		}
		s.cl.name(ret.ID, fmt.Sprintf("return#%d", o.n))
		s.sum.Actions["returns"]++
		s.schedule(jitter(s, s.simSpan(24*time.Hour), s.simSpan(72*time.Hour)), s.receiveReturn(o, ret.ID))
		return nil
	}
}

func (s *lane) receiveReturn(o *simOrder, id string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		body := map[string]any{}
		switch x := s.r.Float64(); {
		case x < 0.75 && len(s.cat.depots) > 0:
			body["condition"] = "resellable"
			body["restock_location"] = s.depotIn(o.region)
		case x < 0.95:
			body["condition"] = "damaged"
			body["note"] = "outer box crushed, item scratched"
		default:
			body["condition"] = "missing"
			body["note"] = "parcel arrived empty"
		}
		var ret returnJSON
		_, err := s.cl.call(ctx, http.MethodPost, "/v1/returns/"+id+"/receive", s.nextKey(), body, &ret)
		if statusOf(err) == http.StatusConflict {
			s.sum.Actions["receipts refused"]++
			return nil
		}
		if err != nil {
			return err
		}
		s.sum.Actions["returns received"]++
		return nil
	}
}

// depotIn is a warehouse or dark store of the region (any, if none).
func (s *lane) depotIn(region string) string {
	for _, d := range s.cat.depots {
		if d.Region == region {
			return d.Code
		}
	}
	return s.cat.depots[0].Code
}
