package delivery

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// synthHistory makes n delivered-or-not orders purchased between start
// and end, in the shape of Olist history: lanes between a few states whose
// transit grows with distance, a promise padded over the lane's transit, a
// seller hand-off that is sometimes slow, and rare stuck parcels. Lateness
// follows from slack and transit, so a model has something to find. The
// same seed gives the same history.
func synthHistory(seed uint64, n int, start, end time.Time) []Order {
	rng := rand.New(rand.NewPCG(seed, 0xde11))
	states := []string{"SP", "RJ", "MG", "BA", "RS"}
	zips := map[string]string{"SP": "01", "RJ": "20", "MG": "30", "BA": "40", "RS": "90"}
	distance := func(a, b string) float64 {
		if a == b {
			return 2.5
		}
		if a == "BA" || b == "BA" || a == "RS" || b == "RS" {
			return 9
		}
		return 5
	}
	span := end.Sub(start)
	orders := make([]Order, n)
	for i := range orders {
		cust := states[rng.IntN(len(states))]
		seller := states[rng.IntN(3)] // sellers are in SP, RJ or MG
		base := distance(seller, cust)
		purchase := start.Add(time.Duration(rng.Int64N(int64(span)))).Truncate(time.Second)
		o := Order{
			Source:        "synthetic",
			ID:            fmt.Sprintf("o%05d", i),
			CustomerID:    fmt.Sprintf("c%05d", i),
			CustomerZip:   fmt.Sprintf("%s%03d", zips[cust], rng.IntN(1000)),
			CustomerCity:  "city",
			CustomerState: cust,
			Status:        "delivered",
			PurchasedAt:   purchase,
		}
		promiseDays := math.Round(base*1.3 + 3 + rng.Float64()*4)
		o.EstimatedDelivery = day(purchase).AddDate(0, 0, int(promiseDays))
		sellerNo := rng.IntN(20)
		sellerID := fmt.Sprintf("s%s%d", seller, sellerNo)
		nItems := 1 + rng.IntN(2)
		for j := 1; j <= nItems; j++ {
			o.Items = append(o.Items, Item{
				ItemNo: j, ProductID: fmt.Sprintf("p%05d-%d", i, j), SellerID: sellerID,
				SellerZip: fmt.Sprintf("%s%03d", zips[seller], 7*sellerNo), SellerState: seller,
				Price: math.Round(rng.Float64()*20000) / 100, Freight: math.Round(rng.Float64()*4000) / 100,
				Category: "housewares", WeightG: float64(100 + rng.IntN(5000)), LengthCM: 20, HeightCM: 10, WidthCM: 15,
			})
		}
		switch r := rng.Float64(); {
		case r < 0.03: // canceled before approval
			o.Status = "canceled"
			orders[i] = o
			continue
		default:
			o.ApprovedAt = purchase.Add(time.Duration(rng.Float64() * float64(36*time.Hour))).Truncate(time.Second)
		}
		for j := range o.Items {
			o.Items[j].ShippingLimit = o.ApprovedAt.Add(4 * 24 * time.Hour)
		}
		handling := rng.ExpFloat64() * 2
		o.CarrierAt = o.ApprovedAt.Add(time.Duration(handling * float64(24*time.Hour))).Truncate(time.Second)
		if rng.Float64() < 0.04 { // still on its way
			o.Status = "shipped"
			orders[i] = o
			continue
		}
		transit := base * math.Exp(rng.NormFloat64()*0.35)
		if rng.Float64() < 0.02 {
			transit += 10 + rng.Float64()*20 // stuck at a hub
		}
		o.DeliveredAt = o.CarrierAt.Add(time.Duration(transit * float64(24*time.Hour))).Truncate(time.Second)
		orders[i] = o
	}
	return orders
}

// synthSellers lists the sellers the orders' items name.
func synthSellers(orders []Order) []Seller {
	seen := map[string]bool{}
	var sellers []Seller
	for _, o := range orders {
		for _, it := range o.Items {
			if !seen[it.SellerID] {
				seen[it.SellerID] = true
				sellers = append(sellers, Seller{Source: o.Source, ID: it.SellerID, Zip: it.SellerZip, City: "city", State: it.SellerState})
			}
		}
	}
	return sellers
}

// date is midnight UTC of the day s (YYYY-MM-DD); it panics on a typo.
func date(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}
