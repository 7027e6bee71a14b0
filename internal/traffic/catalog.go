package traffic

import (
	"context"
	"fmt"
	"math"
	"net/url"
	"sort"
)

// The catalogue as the public API shows it: what the simulator needs to
// build orders the server can accept.

type channel struct {
	Code   string `json:"code"`
	Kind   string `json:"kind"`
	Active bool   `json:"active"`
}

type location struct {
	Code      string  `json:"code"`
	Kind      string  `json:"kind"`
	Region    string  `json:"region"`
	Lat       float64 `json:"lat"`
	Lon       float64 `json:"lon"`
	CanShip   bool    `json:"can_ship"`
	CanPickup bool    `json:"can_pickup"`
	Active    bool    `json:"active"`
}

type sku struct {
	Code   string  `json:"code"`
	Price  float64 `json:"price"`
	Active bool    `json:"active"`
}

type stockRow struct {
	SKU       string `json:"sku"`
	Location  string `json:"location"`
	OnHand    int    `json:"on_hand"`
	Reserved  int    `json:"reserved"`
	Available int    `json:"available"`
}

// catalog is what the run knows of the retailer.
type catalog struct {
	channels  map[string][]channel // by kind
	locations []location
	byCode    map[string]location
	stores    []location // stores that take pickups
	depots    []location // warehouses and dark stores (receive stock from the WMS)
	regions   []string
	skus      []sku // in stock somewhere, fast movers first
	price     map[string]float64
	atStore   map[string][]string // store code → SKUs with stock there, fast first
	stockedAt map[string][]string // SKU → depots that carry it
}

// loadCatalog reads channels, locations, SKUs and stock. Everything is
// sorted, so the same server state gives the same catalog.
func loadCatalog(ctx context.Context, c *client) (*catalog, error) {
	cat := &catalog{channels: map[string][]channel{}, byCode: map[string]location{}, price: map[string]float64{},
		atStore: map[string][]string{}, stockedAt: map[string][]string{}}
	var chs struct {
		Channels []channel `json:"channels"`
	}
	if _, err := c.call(ctx, "GET", "/v1/channels", "", nil, &chs); err != nil {
		return nil, fmt.Errorf("reading the channels: %w", err)
	}
	for _, ch := range chs.Channels {
		if ch.Active {
			cat.channels[ch.Kind] = append(cat.channels[ch.Kind], ch)
		}
	}
	if len(cat.channels) == 0 {
		return nil, fmt.Errorf("the server has no active channels: seed it first (`omnitriage seed`, or `make run` does): %w", ErrStop)
	}
	var locs struct {
		Locations []location `json:"locations"`
	}
	if _, err := c.call(ctx, "GET", "/v1/locations", "", nil, &locs); err != nil {
		return nil, fmt.Errorf("reading the locations: %w", err)
	}
	regions := map[string]bool{}
	for _, l := range locs.Locations {
		if !l.Active {
			continue
		}
		cat.locations = append(cat.locations, l)
		cat.byCode[l.Code] = l
		regions[l.Region] = true
		switch {
		case l.Kind == "store" && l.CanPickup:
			cat.stores = append(cat.stores, l)
		case l.Kind == "warehouse" || l.Kind == "dark_store":
			cat.depots = append(cat.depots, l)
		}
	}
	if len(cat.locations) == 0 {
		return nil, fmt.Errorf("the server has no active locations: seed it first (`omnitriage seed`): %w", ErrStop)
	}
	for r := range regions {
		cat.regions = append(cat.regions, r)
	}
	sort.Strings(cat.regions)

	var all []sku
	for after := ""; ; {
		var page struct {
			SKUs []sku   `json:"skus"`
			Next *string `json:"next"`
		}
		path := "/v1/skus?limit=1000"
		if after != "" {
			path += "&after=" + url.QueryEscape(after)
		}
		if _, err := c.call(ctx, "GET", path, "", nil, &page); err != nil {
			return nil, fmt.Errorf("reading the SKUs: %w", err)
		}
		all = append(all, page.SKUs...)
		if page.Next == nil || *page.Next == "" {
			break
		}
		after = *page.Next
	}
	for _, s := range all {
		if s.Active {
			cat.price[s.Code] = s.Price
		}
	}

	avail := map[string]int{}
	for _, l := range cat.locations {
		var st struct {
			Stock []stockRow `json:"stock"`
		}
		if _, err := c.call(ctx, "GET", "/v1/stock?location="+url.QueryEscape(l.Code), "", nil, &st); err != nil {
			return nil, fmt.Errorf("reading the stock at %s: %w", l.Code, err)
		}
		type ranked struct {
			sku string
			n   int
		}
		var here []ranked
		for _, row := range st.Stock {
			if _, ok := cat.price[row.SKU]; !ok || row.Available <= 0 {
				continue
			}
			if l.CanShip {
				avail[row.SKU] += row.Available
			}
			here = append(here, ranked{row.SKU, row.Available})
			if l.Kind == "warehouse" || l.Kind == "dark_store" {
				cat.stockedAt[row.SKU] = append(cat.stockedAt[row.SKU], l.Code)
			}
		}
		if l.Kind == "store" && l.CanPickup {
			sort.SliceStable(here, func(i, j int) bool { return here[i].n > here[j].n })
			for _, h := range here {
				cat.atStore[l.Code] = append(cat.atStore[l.Code], h.sku)
			}
		}
	}
	for code, n := range avail {
		if n > 0 {
			cat.skus = append(cat.skus, sku{Code: code, Price: cat.price[code], Active: true})
		}
	}
	sort.Slice(cat.skus, func(i, j int) bool {
		a, b := avail[cat.skus[i].Code], avail[cat.skus[j].Code]
		if a != b {
			return a > b
		}
		return cat.skus[i].Code < cat.skus[j].Code
	})
	if len(cat.skus) == 0 {
		return nil, fmt.Errorf("no SKU has stock at a shipping location: seed the server (`omnitriage seed`) or sync stock: %w", ErrStop)
	}
	return cat, nil
}

// regionOf is the region of the location nearest to a point.
func (cat *catalog) regionOf(lat, lon float64) string {
	best, bestD := "", math.Inf(1)
	for _, l := range cat.locations {
		d := (l.Lat-lat)*(l.Lat-lat) + (l.Lon-lon)*(l.Lon-lon)
		if d < bestD {
			best, bestD = l.Region, d
		}
	}
	return best
}

// channelKinds are the kinds the server has, in a fixed order.
func (cat *catalog) channelKinds() []string {
	var out []string
	for _, k := range []string{"web", "mobile", "marketplace", "store"} {
		if len(cat.channels[k]) > 0 {
			out = append(out, k)
		}
	}
	return out
}
