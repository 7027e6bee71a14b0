package delivery

import (
	"go/ast"
	"go/parser"
	"go/token"
	"math"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestOrderLate(t *testing.T) {
	t.Parallel()
	promised := date("2017-06-10")
	for _, tc := range []struct {
		name      string
		delivered time.Time
		late      bool
		known     bool
	}{
		{"not delivered", time.Time{}, false, false},
		{"a day early", promised.Add(-time.Hour), false, true},
		{"on the day, first minute", promised, false, true},
		{"on the day, last minute", promised.Add(24*time.Hour - time.Minute), false, true},
		{"the next day", promised.Add(24 * time.Hour), true, true},
		{"weeks later", promised.AddDate(0, 0, 20), true, true},
	} {
		o := Order{EstimatedDelivery: promised, DeliveredAt: tc.delivered}
		if late, known := o.Late(); late != tc.late || known != tc.known {
			t.Errorf("%s: Late() = %v, %v; want %v, %v", tc.name, late, known, tc.late, tc.known)
		}
	}
}

func TestQuantile(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		sorted []float64
		q      float64
		want   float64
	}{
		{[]float64{5}, 0.9, 5},
		{[]float64{1, 2, 3, 4, 5}, 0.5, 3},
		{[]float64{1, 2, 3, 4, 5}, 0.9, 4.6},
		{[]float64{0, 10}, 0.25, 2.5},
	} {
		if got := quantile(tc.sorted, tc.q); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("quantile(%v, %v) = %v, want %v", tc.sorted, tc.q, got, tc.want)
		}
	}
	if got := quantile(nil, 0.9); !math.IsNaN(got) {
		t.Errorf("quantile(nil, 0.9) = %v, want NaN", got)
	}
}

func TestKnownAtMoment(t *testing.T) {
	t.Parallel()
	o := synthHistory(3, 1, date("2017-03-01"), date("2017-03-02"))[0]
	noCarrier := o
	noCarrier.CarrierAt = time.Time{}
	noApproval := o
	noApproval.ApprovedAt = time.Time{}
	for _, tc := range []struct {
		name   string
		o      Order
		m      Moment
		ok     bool
		at     time.Time
		hasCar bool
	}{
		{"approval", o, AtApproval, true, o.ApprovedAt, false},
		{"handoff", o, AtHandoff, true, o.CarrierAt, true},
		{"handoff never came", noCarrier, AtHandoff, false, time.Time{}, false},
		{"approval without carrier", noCarrier, AtApproval, true, o.ApprovedAt, false},
		{"never approved", noApproval, AtApproval, false, time.Time{}, false},
	} {
		k, ok := knownAt(&tc.o, tc.m)
		if ok != tc.ok || !k.at.Equal(tc.at) || k.carrierAt.IsZero() == tc.hasCar {
			t.Errorf("%s: knownAt = at %v, carrier %v, %v; want at %v, carrier known %v, %v",
				tc.name, k.at, k.carrierAt, ok, tc.at, tc.hasCar, tc.ok)
		}
	}
}

func TestHistoryAsOfIsStrict(t *testing.T) {
	t.Parallel()
	orders := synthHistory(4, 200, date("2017-01-01"), date("2017-03-01"))
	h := newHistory(orders, AtHandoff)
	if len(h.obs) == 0 {
		t.Fatal("no lane history from 200 orders")
	}
	for _, o := range h.obs {
		got := h.asOf(o.knownAt)
		for _, g := range got {
			if !g.knownAt.Before(o.knownAt) {
				t.Fatalf("asOf(%v) holds a transit known at %v, want only earlier ones", o.knownAt, g.knownAt)
			}
		}
		if len(h.asOf(o.knownAt.Add(time.Nanosecond))) <= len(got)-1 {
			t.Fatalf("asOf just after %v does not include it", o.knownAt)
		}
	}
}

// featureVector is every feature of order id at moment m, and the
// baseline score, with lane history from orders purchased before
// trainBefore.
func featureVector(t *testing.T, orders []Order, id string, trainBefore time.Time, m Moment) []float64 {
	t.Helper()
	var train []Order
	var target *Order
	for i := range orders {
		if orders[i].PurchasedAt.Before(trainBefore) {
			train = append(train, orders[i])
		}
		if orders[i].ID == id {
			target = &orders[i]
		}
	}
	k, ok := knownAt(target, m)
	if !ok {
		t.Fatalf("order %s has no %s moment", id, m)
	}
	l := newHistory(train, m).stats(&k)
	l.net = newNetwork(orders).stats(&k)
	x := row(featureSet(m, ^groupSet(0)), &k, &l)
	return append(x, baselineScore(&k, l.p90))
}

// perturbAfter returns a copy of orders in which everything that happened
// after t is changed at random: approvals, carrier hand-offs and deliveries
// move to other times after t or never happen, and every status (known only
// now) is shuffled. What was known at t is left as it was.
func perturbAfter(orders []Order, t time.Time, rng *rand.Rand) []Order {
	out := make([]Order, len(orders))
	statuses := []string{"delivered", "shipped", "canceled", "invoiced", "unavailable"}
	later := func(v time.Time) time.Time {
		if !v.After(t) {
			return v
		}
		if rng.Float64() < 0.2 {
			return time.Time{}
		}
		return t.Add(time.Minute + time.Duration(rng.Int64N(int64(90*24*time.Hour))))
	}
	for i, o := range orders {
		o.Items = slices.Clone(o.Items)
		o.ApprovedAt = later(o.ApprovedAt)
		o.CarrierAt = later(o.CarrierAt)
		o.DeliveredAt = later(o.DeliveredAt)
		o.Status = statuses[rng.IntN(len(statuses))]
		out[i] = o
	}
	return out
}

// TestFeaturesIgnoreWhatComesLater fails when anything known only
// after the prediction moment reaches an order's features or baseline: the
// order's own delivery (and, at approval, its carrier hand-off), its final
// status, and the later deliveries of every other order. Each perturbed
// history must give exactly the same numbers.
func TestFeaturesIgnoreWhatComesLater(t *testing.T) {
	t.Parallel()
	orders := synthHistory(7, 800, date("2017-01-01"), date("2017-07-01"))
	trainBefore := date("2017-05-01")
	rng := rand.New(rand.NewPCG(11, 12))
	for _, m := range []Moment{AtApproval, AtHandoff} {
		var checked, ownDeliveryMoved, ownCarrierMoved, historyMoved, networkMoved int
		for i := 0; i < len(orders) && checked < 60; i += 7 {
			o := &orders[i]
			k, ok := knownAt(o, m)
			if !ok || o.DeliveredAt.IsZero() {
				continue
			}
			want := featureVector(t, orders, o.ID, trainBefore, m)
			for trial := range 3 {
				p := perturbAfter(orders, k.at, rng)
				if !p[i].DeliveredAt.Equal(o.DeliveredAt) {
					ownDeliveryMoved++
				}
				if !p[i].CarrierAt.Equal(o.CarrierAt) {
					ownCarrierMoved++
				}
				if got := featureVector(t, p, o.ID, trainBefore, m); !slices.Equal(got, want) {
					t.Errorf("%s: order %s trial %d: features changed when only later facts changed:\n got %v\nwant %v",
						m, o.ID, trial, got, want)
				}
				// The perturbation does reach the lane history: the test
				// would see a feature that looked past the moment.
				full, pert := newHistory(orders, m), newHistory(p, m)
				if len(full.obs) != len(pert.obs) || !slices.EqualFunc(full.obs, pert.obs, func(a, b obs) bool { return a == b }) {
					historyMoved++
				}
				// …and the network history, which holds every order,
				// the test period's too.
				if !sameNetwork(newNetwork(orders), newNetwork(p)) {
					networkMoved++
				}
			}
			checked++
		}
		if checked < 40 || ownDeliveryMoved == 0 || historyMoved == 0 || networkMoved == 0 {
			t.Fatalf("%s: checked %d orders, own delivery moved %d times, history changed %d times, network %d times: the test lost its teeth",
				m, checked, ownDeliveryMoved, historyMoved, networkMoved)
		}
		if m == AtApproval && ownCarrierMoved == 0 {
			t.Fatalf("approval: the carrier hand-off of the scored order was never perturbed")
		}
	}
}

// sameNetwork says whether two network histories hold the same parcels.
func sameNetwork(a, b *network) bool {
	return slices.EqualFunc(a.parcels, b.parcels, func(p, q shipped) bool {
		return p.id == q.id && p.carrierAt.Equal(q.carrierAt) && p.deliveredAt.Equal(q.deliveredAt) && p.promisedEnd.Equal(q.promisedEnd) &&
			p.state == q.state && p.seller == q.seller && (p.logTransit == q.logTransit || math.IsNaN(p.logTransit) && math.IsNaN(q.logTransit))
	})
}

// TestFeaturesSeeWhatIsKnown is the control of the test above: a
// change to something known at the moment (the promise, or a delivery
// before it) does change the features.
func TestFeaturesSeeWhatIsKnown(t *testing.T) {
	t.Parallel()
	orders := synthHistory(8, 600, date("2017-01-01"), date("2017-07-01"))
	trainBefore := date("2017-05-01")
	rng := rand.New(rand.NewPCG(8, 9))
	var target *Order
	for i := range orders {
		if o := &orders[i]; o.PurchasedAt.After(date("2017-05-15")) && !o.DeliveredAt.IsZero() {
			target = o
			break
		}
	}
	if target == nil {
		t.Fatal("no delivered test order in the synthetic history")
	}
	for _, m := range []Moment{AtApproval, AtHandoff} {
		want := featureVector(t, orders, target.ID, trainBefore, m)
		promise := slices.Clone(orders)
		for i := range promise {
			if promise[i].ID == target.ID {
				promise[i].EstimatedDelivery = promise[i].EstimatedDelivery.AddDate(0, 0, -3)
			}
		}
		if got := featureVector(t, promise, target.ID, trainBefore, m); slices.Equal(got, want) {
			t.Errorf("%s: an earlier promise left the features unchanged", m)
		}
		k, _ := knownAt(target, m)
		earlier := slices.Clone(orders)
		for i := range earlier {
			if d := earlier[i].DeliveredAt; !d.IsZero() && d.Before(k.at) && earlier[i].PurchasedAt.Before(trainBefore) {
				earlier[i].DeliveredAt = d.Add(-time.Duration(1+rng.IntN(48)) * time.Hour)
			}
		}
		if got := featureVector(t, earlier, target.ID, trainBefore, m); slices.Equal(got, want) {
			t.Errorf("%s: faster deliveries before the moment left the lane features unchanged", m)
		}
		// The network history holds the test period's orders too: their
		// deliveries before the moment are known to the live sweep.
		lateTest := slices.Clone(orders)
		var moved int
		for i := range lateTest {
			o := &lateTest[i]
			if d := o.DeliveredAt; !d.IsZero() && d.Before(k.at) && !o.PurchasedAt.Before(trainBefore) && o.ID != target.ID {
				o.EstimatedDelivery = day(d).AddDate(0, 0, -2) // now delivered late
				moved++
			}
		}
		if moved == 0 {
			t.Fatalf("%s: no test-period order delivered before the moment %v", m, k.at)
		}
		if got := featureVector(t, lateTest, target.ID, trainBefore, m); slices.Equal(got, want) {
			t.Errorf("%s: %d test-period orders delivered late before the moment left the network features unchanged", m, moved)
		}
	}
}

// fieldNames lists the field names of a struct type.
func fieldNames(v any) map[string]bool {
	names := map[string]bool{}
	rt := reflect.TypeOf(v)
	for i := range rt.NumField() {
		names[rt.Field(i).Name] = true
	}
	return names
}

// TestFeatureBuilderReads checks, from the source, which history
// fields the delivery code reads where: the features see an order only
// through the known view; knownAt, which fills it, never reads the delivery or
// the status and reads the carrier hand-off only for the hand-off moment;
// and the delivery is read only by the labels and the lane history.
func TestFeatureBuilderReads(t *testing.T) {
	t.Parallel()
	// known has no field for anything known only later.
	for name := range fieldNames(known{}) {
		lower := strings.ToLower(name)
		for _, bad := range []string{"deliver", "review", "status", "late", "transit", "outcome"} {
			if strings.Contains(lower, bad) {
				t.Errorf("known has field %s: the feature view must not carry %q", name, bad)
			}
		}
	}

	orderFields := fieldNames(Order{})
	itemFields := fieldNames(Item{})
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	// The history itself (its types, the Olist reader, the store) reads
	// every field; the rule is for the backtest's code, every other file.
	loaders := map[string]bool{"doc.go": true, "history.go": true, "olist.go": true, "store.go": true}
	fset := token.NewFileSet()
	reads := map[string]map[string]bool{} // function → history fields read
	var carrierOutsideHandoff []string
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") || loaders[file] {
			continue
		}
		f, err := parser.ParseFile(fset, file, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok {
				continue
			}
			name := fn.Name.Name
			if reads[name] == nil { // methods of one name (stats) share an entry
				reads[name] = map[string]bool{}
			}
			ast.Inspect(fn, func(n ast.Node) bool {
				if sel, ok := n.(*ast.SelectorExpr); ok && (orderFields[sel.Sel.Name] || itemFields[sel.Sel.Name]) {
					reads[name][sel.Sel.Name] = true
				}
				return true
			})
			if name == "knownAt" {
				for _, pos := range carrierReadsOutsideHandoff(fn) {
					carrierOutsideHandoff = append(carrierOutsideHandoff, fset.Position(pos).String())
				}
			}
		}
	}
	allowedKnownAt := map[string]bool{
		"PurchasedAt": true, "ApprovedAt": true, "CarrierAt": true, "EstimatedDelivery": true,
		"CustomerZip": true, "CustomerState": true, "Items": true,
		"SellerID": true, "SellerZip": true, "SellerState": true, "Price": true, "Freight": true,
		"WeightG": true, "ShippingLimit": true,
	}
	for field := range reads["knownAt"] {
		if !allowedKnownAt[field] {
			t.Errorf("knownAt reads %s, which is not on the list of what is known at a moment", field)
		}
	}
	if len(carrierOutsideHandoff) > 0 {
		t.Errorf("knownAt reads the carrier hand-off outside the AtHandoff case at %v", carrierOutsideHandoff)
	}
	// Only these may read the delivery: the lane history, which keeps a
	// transit back until it was delivered (see asOf), and the network
	// history, whose stats count a delivery only once it happened.
	for fn, fields := range reads {
		if fields["DeliveredAt"] && fn != "newHistory" && fn != "newNetwork" {
			t.Errorf("%s reads DeliveredAt; only newHistory and newNetwork (histories read as of each moment) may", fn)
		}
	}
	// Feature functions and the baseline read no history fields at all.
	for _, fn := range []string{"allFeatures", "row", "baselineScore", "stats"} {
		if _, ok := reads[fn]; !ok {
			t.Errorf("function %s not found: update this test", fn)
			continue
		}
		for field := range reads[fn] {
			t.Errorf("%s reads history field %s; features must read known only", fn, field)
		}
	}
}

// carrierReadsOutsideHandoff returns the positions of .CarrierAt reads
// in fn that are not inside a `case AtHandoff:` clause.
func carrierReadsOutsideHandoff(fn *ast.FuncDecl) []token.Pos {
	var bad []token.Pos
	var walk func(n ast.Node, inHandoff bool)
	walk = func(n ast.Node, inHandoff bool) {
		ast.Inspect(n, func(c ast.Node) bool {
			if cc, ok := c.(*ast.CaseClause); ok && c != n {
				handoff := inHandoff
				for _, e := range cc.List {
					if id, ok := e.(*ast.Ident); ok && id.Name == "AtHandoff" {
						handoff = true
					}
				}
				for _, s := range cc.Body {
					walk(s, handoff)
				}
				return false
			}
			if sel, ok := c.(*ast.SelectorExpr); ok && sel.Sel.Name == "CarrierAt" {
				if x, ok := sel.X.(*ast.Ident); ok && x.Name == "o" && !inHandoff {
					bad = append(bad, sel.Pos())
				}
			}
			return true
		})
	}
	walk(fn.Body, false)
	return bad
}
