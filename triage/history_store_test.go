package triage

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/omnitriage/omnitriage/internal/database/dbtest"
	"github.com/omnitriage/omnitriage/internal/derrors"
)

// histSynthDataset is a synthetic history ready to import.
func histSynthDataset(seed uint64, n int) HistoryDataset {
	orders := dlvSynthHistory(seed, n, dlvDate("2017-01-01"), dlvDate("2017-04-01"))
	return HistoryDataset{Source: orders[0].Source, Orders: orders, Sellers: dlvSynthSellers(orders)}
}

// histSameOrder compares two orders field by field, NaN equal to NaN and
// times by instant.
func histSameOrder(a, b HistoryOrder) bool {
	if a.Source != b.Source || a.ID != b.ID || a.CustomerID != b.CustomerID || a.CustomerZip != b.CustomerZip ||
		a.CustomerCity != b.CustomerCity || a.CustomerState != b.CustomerState || a.Status != b.Status ||
		!a.PurchasedAt.Equal(b.PurchasedAt) || !a.ApprovedAt.Equal(b.ApprovedAt) || !a.CarrierAt.Equal(b.CarrierAt) ||
		!a.DeliveredAt.Equal(b.DeliveredAt) || !a.EstimatedDelivery.Equal(b.EstimatedDelivery) || len(a.Items) != len(b.Items) {
		return false
	}
	same := func(x, y float64) bool { return x == y || math.IsNaN(x) && math.IsNaN(y) }
	for i, x := range a.Items {
		y := b.Items[i]
		if x.ItemNo != y.ItemNo || x.ProductID != y.ProductID || x.SellerID != y.SellerID || x.SellerZip != y.SellerZip ||
			x.SellerState != y.SellerState || !x.ShippingLimit.Equal(y.ShippingLimit) || !same(x.Price, y.Price) ||
			!same(x.Freight, y.Freight) || x.Category != y.Category || !same(x.WeightG, y.WeightG) ||
			!same(x.LengthCM, y.LengthCM) || !same(x.HeightCM, y.HeightCM) || !same(x.WidthCM, y.WidthCM) {
			return false
		}
	}
	return true
}

func TestHistoryStoreImport(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := NewHistoryStore(dbtest.NewPool(t))
	d := histSynthDataset(31, 120)
	d.Orders[0].Items[0].WeightG = math.NaN() // a product without measures
	var items int
	for _, o := range d.Orders {
		items += len(o.Items)
	}

	var progress strings.Builder
	st, err := store.Import(ctx, d, &progress)
	if err != nil {
		t.Fatalf("Import = %v", err)
	}
	want := HistoryImportStats{
		Sellers: HistoryTableStats{Rows: len(d.Sellers), New: len(d.Sellers)},
		Orders:  HistoryTableStats{Rows: len(d.Orders), New: len(d.Orders)},
		Items:   HistoryTableStats{Rows: items, New: items},
	}
	if st != want {
		t.Errorf("first Import = %+v, want %+v", st, want)
	}
	if !strings.Contains(progress.String(), "history: orders 120 rows: 120 new") {
		t.Errorf("progress = %q, want a line per table", progress.String())
	}
	got, err := store.Orders(ctx, d.Source)
	if err != nil {
		t.Fatalf("Orders = %v", err)
	}
	if len(got) != len(d.Orders) {
		t.Fatalf("Orders returned %d orders, want %d", len(got), len(d.Orders))
	}
	byID := map[string]HistoryOrder{}
	for _, o := range got {
		byID[o.ID] = o
	}
	for _, o := range d.Orders {
		if !histSameOrder(o, byID[o.ID]) {
			t.Errorf("order %s read back as\n%+v\nwant\n%+v", o.ID, byID[o.ID], o)
		}
	}

	// Importing the same again changes nothing.
	st, err = store.Import(ctx, d, nil)
	if err != nil {
		t.Fatal(err)
	}
	want = HistoryImportStats{
		Sellers: HistoryTableStats{Rows: len(d.Sellers), Unchanged: len(d.Sellers)},
		Orders:  HistoryTableStats{Rows: len(d.Orders), Unchanged: len(d.Orders)},
		Items:   HistoryTableStats{Rows: items, Unchanged: items},
	}
	if st != want {
		t.Errorf("second Import = %+v, want %+v", st, want)
	}

	// A newer copy: one order delivered since, one lost an item, one seller
	// moved city. Those are replaced; the rest are skipped.
	var twoItems int
	for twoItems = range d.Orders {
		if len(d.Orders[twoItems].Items) == 2 && twoItems != 1 {
			break
		}
	}
	d.Orders[1].Status = "delivered-later"
	d.Orders[1].DeliveredAt = d.Orders[1].PurchasedAt.AddDate(0, 0, 40)
	d.Orders[twoItems].Items = d.Orders[twoItems].Items[:1]
	d.Sellers[0].City = "elsewhere"
	st, err = store.Import(ctx, d, nil)
	if err != nil {
		t.Fatal(err)
	}
	want = HistoryImportStats{
		Sellers: HistoryTableStats{Rows: len(d.Sellers), Changed: 1, Unchanged: len(d.Sellers) - 1},
		Orders:  HistoryTableStats{Rows: len(d.Orders), Changed: 1, Unchanged: len(d.Orders) - 1},
		Items:   HistoryTableStats{Rows: items - 1, Unchanged: items - 1, Removed: 1},
	}
	if st != want {
		t.Errorf("Import of a changed copy = %+v, want %+v", st, want)
	}
	got, err = store.Orders(ctx, d.Source)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range got {
		if o.ID == d.Orders[1].ID && !histSameOrder(o, d.Orders[1]) || o.ID == d.Orders[twoItems].ID && len(o.Items) != 1 {
			t.Errorf("after re-import, order %s = %+v", o.ID, o)
		}
	}
}

func TestHistoryStoreRejects(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := NewHistoryStore(dbtest.NewPool(t))
	if _, err := store.Orders(ctx, "nothing"); !errors.Is(err, derrors.NotFound) {
		t.Errorf("Orders of an empty source = %v, want NotFound", err)
	}
	for _, tc := range []struct {
		name   string
		change func(d *HistoryDataset)
	}{
		{"bad zip", func(d *HistoryDataset) { d.Orders[3].CustomerZip = "123" }},
		{"no estimate", func(d *HistoryDataset) { d.Orders[3].EstimatedDelivery = dlvDate("0001-01-01") }},
		{"negative price", func(d *HistoryDataset) { d.Orders[3].Items[0].Price = -1 }},
		{"bad seller state", func(d *HistoryDataset) { d.Sellers[0].State = "Sao Paulo" }},
		{"other source", func(d *HistoryDataset) { d.Orders[2].Source = "elsewhere" }},
	} {
		d := histSynthDataset(32, 20)
		tc.change(&d)
		if _, err := store.Import(ctx, d, nil); !errors.Is(err, derrors.Invalid) {
			t.Errorf("%s: Import = %v, want Invalid", tc.name, err)
		}
	}
	if _, err := store.Orders(ctx, "synthetic"); !errors.Is(err, derrors.NotFound) {
		t.Errorf("after rejected imports, Orders = %v, want NotFound (nothing written)", err)
	}
}
