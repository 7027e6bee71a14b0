package delivery

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/omnitriage/omnitriage/internal/database/dbtest"
	"github.com/omnitriage/omnitriage/internal/derrors"
)

// synthDataset is a synthetic history ready to import.
func synthDataset(seed uint64, n int) Dataset {
	orders := synthHistory(seed, n, date("2017-01-01"), date("2017-04-01"))
	return Dataset{Source: orders[0].Source, Orders: orders, Sellers: synthSellers(orders)}
}

// sameOrder compares two orders field by field, NaN equal to NaN and
// times by instant.
func sameOrder(a, b Order) bool {
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

func TestStoreImport(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := NewStore(dbtest.NewPool(t))
	d := synthDataset(31, 120)
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
	want := ImportStats{
		Sellers: TableStats{Rows: len(d.Sellers), New: len(d.Sellers)},
		Orders:  TableStats{Rows: len(d.Orders), New: len(d.Orders)},
		Items:   TableStats{Rows: items, New: items},
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
	byID := map[string]Order{}
	for _, o := range got {
		byID[o.ID] = o
	}
	for _, o := range d.Orders {
		if !sameOrder(o, byID[o.ID]) {
			t.Errorf("order %s read back as\n%+v\nwant\n%+v", o.ID, byID[o.ID], o)
		}
	}

	// Importing the same again changes nothing.
	st, err = store.Import(ctx, d, nil)
	if err != nil {
		t.Fatal(err)
	}
	want = ImportStats{
		Sellers: TableStats{Rows: len(d.Sellers), Unchanged: len(d.Sellers)},
		Orders:  TableStats{Rows: len(d.Orders), Unchanged: len(d.Orders)},
		Items:   TableStats{Rows: items, Unchanged: items},
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
	want = ImportStats{
		Sellers: TableStats{Rows: len(d.Sellers), Changed: 1, Unchanged: len(d.Sellers) - 1},
		Orders:  TableStats{Rows: len(d.Orders), Changed: 1, Unchanged: len(d.Orders) - 1},
		Items:   TableStats{Rows: items - 1, Unchanged: items - 1, Removed: 1},
	}
	if st != want {
		t.Errorf("Import of a changed copy = %+v, want %+v", st, want)
	}
	got, err = store.Orders(ctx, d.Source)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range got {
		if o.ID == d.Orders[1].ID && !sameOrder(o, d.Orders[1]) || o.ID == d.Orders[twoItems].ID && len(o.Items) != 1 {
			t.Errorf("after re-import, order %s = %+v", o.ID, o)
		}
	}
}

func TestStoreRejects(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := NewStore(dbtest.NewPool(t))
	if _, err := store.Orders(ctx, "nothing"); !errors.Is(err, derrors.NotFound) {
		t.Errorf("Orders of an empty source = %v, want NotFound", err)
	}
	for _, tc := range []struct {
		name   string
		change func(d *Dataset)
	}{
		{"bad zip", func(d *Dataset) { d.Orders[3].CustomerZip = "123" }},
		{"no estimate", func(d *Dataset) { d.Orders[3].EstimatedDelivery = date("0001-01-01") }},
		{"negative price", func(d *Dataset) { d.Orders[3].Items[0].Price = -1 }},
		{"bad seller state", func(d *Dataset) { d.Sellers[0].State = "Sao Paulo" }},
		{"other source", func(d *Dataset) { d.Orders[2].Source = "elsewhere" }},
	} {
		d := synthDataset(32, 20)
		tc.change(&d)
		if _, err := store.Import(ctx, d, nil); !errors.Is(err, derrors.Invalid) {
			t.Errorf("%s: Import = %v, want Invalid", tc.name, err)
		}
	}
	if _, err := store.Orders(ctx, "synthetic"); !errors.Is(err, derrors.NotFound) {
		t.Errorf("after rejected imports, Orders = %v, want NotFound (nothing written)", err)
	}
}
