package orchestration

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/omnitriage/omnitriage/internal/derrors"
	"github.com/omnitriage/omnitriage/rules"
)

// The demo retailer, "Larkspur Goods": three US regions, stores, warehouses,
// drop-ship partners and dark stores around nine metros, a catalog with a long
// tail, and stock that is skewed the way real stock is (most SKUs are carried
// at a few locations only; a few fast movers sit in bulk in the warehouses).
// Everything is drawn from one seed, so a seed always builds the same retailer.

// SeedOptions shape the demo retailer.
type SeedOptions struct {
	// Seed picks the retailer; the same seed builds the same data.
	Seed int64
	// SKUs is the catalog size; 0 means 2000.
	SKUs int
	// Locations is the network size; 0 means 40. At least 12, so that every
	// kind of location exists in every region that needs it.
	Locations int
}

// Demo sizes and their bounds.
const (
	DefaultDemoSKUs      = 2000
	DefaultDemoLocations = 40
	minDemoLocations     = 12
	maxDemoLocations     = 400
	maxDemoSKUs          = 200000
	maxDemoPairs         = 4_000_000 // SKUs × locations: the demo is built in memory and written in one transaction
)

func (o SeedOptions) withDefaults() SeedOptions {
	if o.SKUs == 0 {
		o.SKUs = DefaultDemoSKUs
	}
	if o.Locations == 0 {
		o.Locations = DefaultDemoLocations
	}
	return o
}

// Validate names each bad field (after defaults are applied).
func (o SeedOptions) Validate() error {
	v := &derrors.ValidationError{}
	o = o.withDefaults()
	if o.SKUs < 1 || o.SKUs > maxDemoSKUs {
		v.Add("skus", "want 1 to %d (0 means %d)", maxDemoSKUs, DefaultDemoSKUs)
	}
	if o.Locations < minDemoLocations || o.Locations > maxDemoLocations {
		v.Add("locations", "want %d to %d (0 means %d)", minDemoLocations, maxDemoLocations, DefaultDemoLocations)
	}
	if len(v.Fields) == 0 && o.SKUs*o.Locations > maxDemoPairs {
		v.Add("skus", "with %d locations, at most %d SKUs (%d SKU × location pairs in all)", o.Locations, maxDemoPairs/o.Locations, maxDemoPairs)
	}
	return v.Err()
}

// SeedSummary describes the demo data in the database after SeedDemo.
type SeedSummary struct {
	// AlreadySeeded is true when the demo was there before and nothing changed.
	AlreadySeeded   bool           `json:"already_seeded"`
	Channels        int            `json:"channels"`
	Locations       int            `json:"locations"`
	LocationsByKind map[string]int `json:"locations_by_kind"`
	Regions         []string       `json:"regions"`
	SKUs            int            `json:"skus"`
	// StockRows are SKU × location rows; pairs without a row carry nothing.
	StockRows int `json:"stock_rows"`
	// ZeroStockRows are rows with nothing on hand (carried but sold out).
	ZeroStockRows int   `json:"zero_stock_rows"`
	Units         int64 `json:"units"`
	// LedgerRows is how many stock ledger rows this call wrote.
	LedgerRows int `json:"ledger_rows"`
}

// seedLockKey serialises concurrent seeds (two `make run`s on one database).
const seedLockKey = 0x6f6d6e6973656564 // "omniseed"

// Write sizes: one statement per chunk.
const (
	skuChunk   = 1000
	stockChunk = 5000
)

// SeedDemo creates the demo retailer in one transaction: channels, locations,
// SKUs, stock and one 'count' ledger row per stock row. When the demo is
// already there (a channel "web" and at least opts.SKUs SKUs) it changes
// nothing and says so. progress, when not nil, is called after each chunk.
func (s *Service) SeedDemo(ctx context.Context, opts SeedOptions, progress func(step string, done, total int)) (_ SeedSummary, err error) {
	defer derrors.Wrap(&err, "SeedDemo(seed %d)", opts.Seed)
	if err := opts.Validate(); err != nil {
		return SeedSummary{}, err
	}
	opts = opts.withDefaults()
	if progress == nil {
		progress = func(string, int, int) {}
	}
	d := buildDemo(opts)

	var sum SeedSummary
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(seedLockKey)); err != nil {
			return fmt.Errorf("waiting for another seed: %w", err)
		}
		var hasWeb bool
		var skus int
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM channels WHERE code = 'web'), (SELECT count(*) FROM skus)`).
			Scan(&hasWeb, &skus); err != nil {
			return fmt.Errorf("checking for an earlier seed: %w", err)
		}
		if hasWeb && skus >= opts.SKUs {
			sum.AlreadySeeded = true
			return nil
		}
		n, err := s.writeDemo(ctx, tx, d, progress)
		if err != nil {
			return err
		}
		sum.LedgerRows = n
		return nil
	})
	if err != nil {
		return SeedSummary{}, err
	}
	if !sum.AlreadySeeded {
		s.invalidate()
	}
	if err := s.countDemo(ctx, &sum); err != nil {
		return SeedSummary{}, err
	}
	return sum, nil
}

// writeDemo writes d and returns how many ledger rows it wrote.
func (s *Service) writeDemo(ctx context.Context, tx pgx.Tx, d demo, progress func(string, int, int)) (int, error) {
	var b pgx.Batch
	for _, c := range d.channels {
		b.Queue(`
			INSERT INTO channels (code, name, kind, active) VALUES ($1, $2, $3, $4)
			ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, kind = EXCLUDED.kind,
				active = EXCLUDED.active, updated_at = now()`, c.Code, c.Name, c.Kind, c.Active)
	}
	if err := tx.SendBatch(ctx, &b).Close(); err != nil {
		return 0, fmt.Errorf("writing channels: %w", err)
	}
	progress("channels", len(d.channels), len(d.channels))

	locIDs := make([]int64, len(d.locations))
	b = pgx.Batch{}
	for i, l := range d.locations {
		b.Queue(`
			INSERT INTO locations (code, name, kind, region, lat, lon, timezone, can_ship, can_pickup, can_same_day,
				daily_capacity, handling_cost, handling_hours, cutoff, priority, active)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
			ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, kind = EXCLUDED.kind, region = EXCLUDED.region,
				lat = EXCLUDED.lat, lon = EXCLUDED.lon, timezone = EXCLUDED.timezone, can_ship = EXCLUDED.can_ship,
				can_pickup = EXCLUDED.can_pickup, can_same_day = EXCLUDED.can_same_day,
				daily_capacity = EXCLUDED.daily_capacity, handling_cost = EXCLUDED.handling_cost,
				handling_hours = EXCLUDED.handling_hours, cutoff = EXCLUDED.cutoff, priority = EXCLUDED.priority,
				active = EXCLUDED.active, updated_at = now()
			RETURNING id`,
			l.Code, l.Name, l.Kind, l.Region, l.Lat, l.Lon, l.Timezone, l.CanShip, l.CanPickup, l.CanSameDay,
			l.DailyCapacity, l.HandlingCost, l.HandlingHours, l.Cutoff, l.Priority, l.Active).
			QueryRow(func(r pgx.Row) error { return r.Scan(&locIDs[i]) })
	}
	if err := tx.SendBatch(ctx, &b).Close(); err != nil {
		return 0, fmt.Errorf("writing locations: %w", err)
	}
	progress("locations", len(d.locations), len(d.locations))

	skuIDs := make([]int64, len(d.skus))
	for lo := 0; lo < len(d.skus); lo += skuChunk {
		hi := min(lo+skuChunk, len(d.skus))
		if err := writeSKUs(ctx, tx, d.skus[lo:hi], skuIDs[lo:hi]); err != nil {
			return 0, fmt.Errorf("writing SKUs %d–%d: %w", lo, hi, err)
		}
		progress("skus", hi, len(d.skus))
	}

	var ledger int
	synced := s.now()
	for lo := 0; lo < len(d.stock); lo += stockChunk {
		rows := d.stock[lo:min(lo+stockChunk, len(d.stock))]
		sku, loc, onHand, safety := make([]int64, len(rows)), make([]int64, len(rows)), make([]int32, len(rows)), make([]int32, len(rows))
		for i, r := range rows {
			sku[i], loc[i], onHand[i], safety[i] = skuIDs[r.sku], locIDs[r.loc], int32(r.onHand), int32(r.safety)
		}
		// A pair that already has a row (stock pushed before the demo) keeps
		// it: only inserted rows get their opening count in the ledger, so the
		// ledger still sums to the stock.
		tag, err := tx.Exec(ctx, `
			WITH ins AS (
				INSERT INTO stock (sku_id, location_id, on_hand, safety_stock, last_synced_at)
				SELECT u.sku_id, u.location_id, u.on_hand, u.safety_stock, $5
				FROM unnest($1::bigint[], $2::bigint[], $3::int[], $4::int[]) AS u(sku_id, location_id, on_hand, safety_stock)
				ON CONFLICT (sku_id, location_id) DO NOTHING
				RETURNING sku_id, location_id, on_hand)
			INSERT INTO stock_ledger (sku_id, location_id, kind, d_on_hand, on_hand_after, reserved_after, actor, reason)
			SELECT sku_id, location_id, 'count', on_hand, on_hand, 0, 'seed', 'demo seed' FROM ins`,
			sku, loc, onHand, safety, synced)
		if err != nil {
			return 0, fmt.Errorf("writing stock rows %d–%d: %w", lo, lo+len(rows), err)
		}
		ledger += int(tag.RowsAffected())
		progress("stock", lo+len(rows), len(d.stock))
	}
	return ledger, nil
}

// writeSKUs upserts one chunk of SKUs and fills ids in the same order.
func writeSKUs(ctx context.Context, tx pgx.Tx, skus []SKU, ids []int64) error {
	n := len(skus)
	code, name, subs := make([]string, n), make([]string, n), make([]string, n)
	price, cost, weight := make([]float64, n), make([]float64, n), make([]float64, n)
	index := make(map[string]int, n)
	for i, k := range skus {
		code[i], name[i], price[i], cost[i], weight[i] = k.Code, k.Name, k.Price, k.Cost, k.WeightKg
		// unnest cannot yield one array per row from a 2-D array: pass the
		// substitutes joined and split them in SQL (codes have no commas).
		subs[i] = strings.Join(k.Substitutes, ",")
		index[k.Code] = i
	}
	rows, err := tx.Query(ctx, `
		INSERT INTO skus (code, name, price, cost, weight_kg, substitutes, active)
		SELECT u.code, u.name, u.price, u.cost, u.weight,
			CASE WHEN u.subs = '' THEN '{}'::text[] ELSE string_to_array(u.subs, ',') END, true
		FROM unnest($1::text[], $2::text[], $3::float8[], $4::float8[], $5::float8[], $6::text[])
			AS u(code, name, price, cost, weight, subs)
		ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, price = EXCLUDED.price, cost = EXCLUDED.cost,
			weight_kg = EXCLUDED.weight_kg, substitutes = EXCLUDED.substitutes, active = EXCLUDED.active,
			updated_at = now()
		RETURNING id, code`, code, name, price, cost, weight, subs)
	if err != nil {
		return err
	}
	var id int64
	var c string
	_, err = pgx.ForEachRow(rows, []any{&id, &c}, func() error {
		ids[index[c]] = id
		return nil
	})
	return err
}

// countDemo fills the counts of sum from the database.
func (s *Service) countDemo(ctx context.Context, sum *SeedSummary) error {
	err := s.pool.QueryRow(ctx, `
		SELECT (SELECT count(*) FROM channels), (SELECT count(*) FROM locations), (SELECT count(*) FROM skus),
			count(*), count(*) FILTER (WHERE on_hand = 0), coalesce(sum(on_hand), 0)
		FROM stock`).Scan(&sum.Channels, &sum.Locations, &sum.SKUs, &sum.StockRows, &sum.ZeroStockRows, &sum.Units)
	if err != nil {
		return fmt.Errorf("counting the demo: %w", err)
	}
	rows, err := s.pool.Query(ctx, `SELECT kind, region FROM locations ORDER BY region, kind`)
	if err != nil {
		return fmt.Errorf("counting locations: %w", err)
	}
	sum.LocationsByKind, sum.Regions = map[string]int{}, []string{}
	var kind, region string
	_, err = pgx.ForEachRow(rows, []any{&kind, &region}, func() error {
		sum.LocationsByKind[kind]++
		if len(sum.Regions) == 0 || sum.Regions[len(sum.Regions)-1] != region {
			sum.Regions = append(sum.Regions, region)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("counting locations: %w", err)
	}
	return nil
}

// DemoSKUs returns the codes of active SKUs with stock available somewhere,
// those with the most available first (the fast movers), at most limit of
// them (every one when limit ≤ 0). Benchmarks and the demo build orders from it.
func (s *Service) DemoSKUs(ctx context.Context, limit int) (_ []string, err error) {
	defer derrors.Wrap(&err, "DemoSKUs(%d)", limit)
	var lim *int
	if limit > 0 {
		lim = &limit
	}
	rows, err := s.pool.Query(ctx, `
		SELECT k.code FROM skus k JOIN stock st ON st.sku_id = k.id
		WHERE k.active
		GROUP BY k.code
		HAVING sum(greatest(st.on_hand - st.reserved - st.safety_stock, 0)) > 0
		ORDER BY sum(greatest(st.on_hand - st.reserved - st.safety_stock, 0)) DESC, k.code
		LIMIT $1`, lim)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// demo is the whole retailer, built in memory before it is written.
type demo struct {
	channels  []Channel
	locations []Location
	skus      []SKU
	stock     []demoStock
}

// demoStock is one stock row, by index into demo.skus and demo.locations.
type demoStock struct {
	sku, loc       int
	onHand, safety int
}

// Independent random streams, so that, say, a bigger network does not change the catalog.
const (
	streamLocations = iota + 1
	streamSKUs
	streamStock
)

func demoRand(seed int64, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15*stream))
}

// buildDemo draws the retailer for opts (defaults applied).
func buildDemo(opts SeedOptions) demo {
	d := demo{channels: demoChannels()}
	d.locations = demoLocations(demoRand(opts.Seed, streamLocations), opts.Locations)
	var items []demoItem
	d.skus, items = demoCatalog(demoRand(opts.Seed, streamSKUs), opts.SKUs)
	d.stock = demoStockRows(demoRand(opts.Seed, streamStock), d.locations, items)
	return d
}

func demoChannels() []Channel {
	return []Channel{
		{Code: "web", Name: "Web shop", Kind: ChannelWeb, Active: true},
		{Code: "app", Name: "Mobile app", Kind: ChannelMobile, Active: true},
		{Code: "amazon", Name: "Amazon Marketplace", Kind: ChannelMarketplace, Active: true},
		{Code: "ebay", Name: "eBay", Kind: ChannelMarketplace, Active: true},
		{Code: "pos", Name: "Store POS (endless aisle)", Kind: ChannelStore, Active: true},
	}
}

// Regions of the demo network.
const (
	DemoRegionNortheast = "us-northeast"
	DemoRegionMidwest   = "us-midwest"
	DemoRegionWest      = "us-west"
)

// demoPlace is a named point.
type demoPlace struct {
	name     string
	lat, lon float64
}

// demoMetro is a metro area: its centre, neighbourhoods for stores, and what
// its customer addresses look like.
type demoMetro struct {
	code, city, state, region, tz string
	lat, lon                      float64
	weight                        int      // share of stores and of customers
	zip3                          []string // leading digits of its ZIP codes
	hoods                         []demoPlace
}

// demoMetros lists the metros, biggest first; dark stores open in this order.
func demoMetros() []demoMetro {
	return []demoMetro{
		{"nyc", "New York", "NY", DemoRegionNortheast, "America/New_York", 40.7128, -74.0060, 5,
			[]string{"100", "101", "104", "112", "113", "114"},
			[]demoPlace{{"Midtown", 40.7549, -73.9840}, {"Williamsburg", 40.7081, -73.9571}, {"Upper West Side", 40.7870, -73.9754},
				{"Brooklyn Heights", 40.6960, -73.9950}, {"Long Island City", 40.7447, -73.9485}, {"Jersey City", 40.7178, -74.0431},
				{"Flushing", 40.7675, -73.8331}, {"Hoboken", 40.7440, -74.0324}}},
		{"la", "Los Angeles", "CA", DemoRegionWest, "America/Los_Angeles", 34.0522, -118.2437, 4,
			[]string{"900", "902", "910", "913", "917"},
			[]demoPlace{{"Downtown LA", 34.0407, -118.2468}, {"Santa Monica", 34.0195, -118.4912}, {"Pasadena", 34.1478, -118.1445},
				{"Glendale", 34.1425, -118.2551}, {"Long Beach", 33.7701, -118.1937}, {"Culver City", 34.0211, -118.3965}}},
		{"chi", "Chicago", "IL", DemoRegionMidwest, "America/Chicago", 41.8781, -87.6298, 4,
			[]string{"606", "600", "601", "604"},
			[]demoPlace{{"The Loop", 41.8837, -87.6289}, {"Lincoln Park", 41.9214, -87.6513}, {"Wicker Park", 41.9088, -87.6796},
				{"Evanston", 42.0451, -87.6877}, {"Oak Park", 41.8850, -87.7845}, {"Naperville", 41.7508, -88.1535}}},
		{"sf", "San Francisco", "CA", DemoRegionWest, "America/Los_Angeles", 37.7749, -122.4194, 3,
			[]string{"941", "940", "945", "946"},
			[]demoPlace{{"SoMa", 37.7785, -122.4056}, {"Mission", 37.7599, -122.4148}, {"Oakland", 37.8044, -122.2712},
				{"Berkeley", 37.8716, -122.2727}, {"San Mateo", 37.5630, -122.3255}, {"Palo Alto", 37.4419, -122.1430}}},
		{"bos", "Boston", "MA", DemoRegionNortheast, "America/New_York", 42.3601, -71.0589, 2,
			[]string{"021", "022", "024"},
			[]demoPlace{{"Back Bay", 42.3503, -71.0810}, {"Cambridge", 42.3736, -71.1097}, {"Somerville", 42.3876, -71.0995},
				{"Quincy", 42.2529, -71.0023}, {"Newton", 42.3370, -71.2092}}},
		{"sea", "Seattle", "WA", DemoRegionWest, "America/Los_Angeles", 47.6062, -122.3321, 2,
			[]string{"981", "980"},
			[]demoPlace{{"Capitol Hill", 47.6253, -122.3222}, {"Ballard", 47.6687, -122.3835}, {"Bellevue", 47.6101, -122.2015},
				{"Fremont", 47.6505, -122.3493}, {"Redmond", 47.6740, -122.1215}}},
		{"phl", "Philadelphia", "PA", DemoRegionNortheast, "America/New_York", 39.9526, -75.1652, 2,
			[]string{"191", "190", "194"},
			[]demoPlace{{"Center City", 39.9510, -75.1636}, {"Fishtown", 39.9690, -75.1340}, {"Manayunk", 40.0268, -75.2240},
				{"Cherry Hill", 39.9348, -75.0307}, {"King of Prussia", 40.0893, -75.3960}}},
		{"det", "Detroit", "MI", DemoRegionMidwest, "America/Detroit", 42.3314, -83.0458, 2,
			[]string{"482", "480", "481"},
			[]demoPlace{{"Midtown Detroit", 42.3523, -83.0640}, {"Royal Oak", 42.4895, -83.1446}, {"Dearborn", 42.3223, -83.1763},
				{"Troy", 42.6064, -83.1498}, {"Ann Arbor", 42.2808, -83.7430}}},
		{"msp", "Minneapolis", "MN", DemoRegionMidwest, "America/Chicago", 44.9778, -93.2650, 2,
			[]string{"554", "551", "553"},
			[]demoPlace{{"Downtown Minneapolis", 44.9778, -93.2650}, {"Uptown", 44.9489, -93.2983}, {"St. Paul", 44.9537, -93.0900},
				{"Bloomington", 44.8408, -93.2983}, {"Edina", 44.8897, -93.3499}}},
	}
}

// demoSite is a warehouse or partner site outside the metro centres.
type demoSite struct {
	metro, place, region, tz string
	lat, lon                 float64
}

// demoWarehouseSites are distribution centres, in opening order.
func demoWarehouseSites() []demoSite {
	return []demoSite{
		{"nyc", "Edison, NJ", DemoRegionNortheast, "America/New_York", 40.5187, -74.4121},
		{"chi", "Joliet, IL", DemoRegionMidwest, "America/Chicago", 41.5250, -88.0817},
		{"la", "Ontario, CA", DemoRegionWest, "America/Los_Angeles", 34.0633, -117.6509},
		{"sf", "Tracy, CA", DemoRegionWest, "America/Los_Angeles", 37.7397, -121.4252},
		{"phl", "Allentown, PA", DemoRegionNortheast, "America/New_York", 40.6084, -75.4902},
		{"sea", "Kent, WA", DemoRegionWest, "America/Los_Angeles", 47.3809, -122.2348},
		{"det", "Romulus, MI", DemoRegionMidwest, "America/Detroit", 42.2223, -83.3966},
		{"msp", "Shakopee, MN", DemoRegionMidwest, "America/Chicago", 44.7974, -93.5273},
	}
}

// demoPartner is a drop-ship partner: it ships one category from its own
// warehouse, slower and at its own handling cost.
type demoPartner struct {
	code, name string
	site       demoSite
	category   int // index into demoCategories
	capacity   int
	cost       float64
	hours      int
	cutoff     string
	priority   int
}

func demoPartners() []demoPartner {
	return []demoPartner{
		{"ds-acme", "Acme Home Goods (drop-ship)", demoSite{"", "Columbus, OH", DemoRegionMidwest, "America/New_York", 39.9612, -82.9988},
			catHome, 600, 3.50, 48, "12:00", 5},
		{"ds-northwind", "Northwind Electronics (drop-ship)", demoSite{"", "Harrisburg, PA", DemoRegionNortheast, "America/New_York", 40.2732, -76.8867},
			catElectronics, 900, 4.75, 24, "14:00", 4},
		{"ds-globex", "Globex Outdoor Supply (drop-ship)", demoSite{"", "Reno, NV", DemoRegionWest, "America/Los_Angeles", 39.5296, -119.8138},
			catOutdoor, 400, 2.25, 72, "11:00", 6},
		{"ds-pioneer", "Pioneer Apparel Co. (drop-ship)", demoSite{"", "Indianapolis, IN", DemoRegionMidwest, "America/Indiana/Indianapolis", 39.7684, -86.1581},
			catApparel, 500, 2.90, 36, "13:00", 5},
	}
}

// demoJitter moves a point by up to km in a random direction.
func demoJitter(r *rand.Rand, lat, lon, km float64) (float64, float64) {
	d := km * math.Sqrt(r.Float64())
	a := 2 * math.Pi * r.Float64()
	return demoRound6(lat + d*math.Cos(a)/111.2), demoRound6(lon + d*math.Sin(a)/(111.2*math.Cos(lat*math.Pi/180)))
}

func demoRound6(x float64) float64 { return math.Round(x*1e6) / 1e6 }
func demoRound2(x float64) float64 { return math.Round(x*100) / 100 }

// demoPick returns one of xs, uniformly.
func demoPick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

// demoLocations lays out n locations: 3–4 drop-ship partners, a warehouse per
// ten locations (at least three, one per region first), dark stores in the
// biggest metro centres, and stores spread over the metros by size.
func demoLocations(r *rand.Rand, n int) []Location {
	nDrop := 4
	if n < 16 {
		nDrop = 3
	}
	nWH := max(3, n/10)
	nDark := max(3, n*3/20)
	nStore := n - nDrop - nWH - nDark
	metros := demoMetros()
	byCode := map[string]demoMetro{}
	for _, m := range metros {
		byCode[m.code] = m
	}
	perMetro := map[string]int{}
	code := func(metro, kind string) string {
		perMetro[metro+kind]++
		return fmt.Sprintf("%s-%s-%02d", metro, kind, perMetro[metro+kind])
	}
	var out []Location

	sites := demoWarehouseSites()
	for i := range nWH {
		st := sites[i%len(sites)]
		out = append(out, Location{
			Code: code(st.metro, "wh"), Name: "Larkspur DC " + st.place, Kind: rules.LocationWarehouse,
			Region: st.region, Lat: st.lat, Lon: st.lon, Timezone: st.tz, CanShip: true,
			DailyCapacity: 6000 + 1000*r.IntN(10), HandlingCost: demoRound2(0.85 + 0.05*float64(r.IntN(10))),
			HandlingHours: demoPick(r, []int{6, 8, 12}), Cutoff: demoPick(r, []string{"16:00", "17:00", "18:00"}),
			Priority: 1, Active: true,
		})
	}
	for i := range nDark {
		m := metros[i%len(metros)]
		lat, lon := demoJitter(r, m.hoods[0].lat, m.hoods[0].lon, 2)
		out = append(out, Location{
			Code: code(m.code, "dark"), Name: "Larkspur Now " + m.hoods[0].name, Kind: rules.LocationDarkStore,
			Region: m.region, Lat: lat, Lon: lon, Timezone: m.tz, CanShip: true, CanSameDay: true,
			DailyCapacity: 400 + 50*r.IntN(11), HandlingCost: demoRound2(1.10 + 0.05*float64(r.IntN(11))),
			HandlingHours: 1, Cutoff: demoPick(r, []string{"20:00", "21:00"}), Priority: 2, Active: true,
		})
	}
	// Stores go to metros in proportion to their weight (D'Hondt: the metro
	// with the highest weight per store so far gets the next one).
	stores := map[string]int{}
	for range nStore {
		best := metros[0]
		for _, m := range metros[1:] {
			if float64(m.weight)/float64(stores[m.code]+1) > float64(best.weight)/float64(stores[best.code]+1) {
				best = m
			}
		}
		k := stores[best.code]
		stores[best.code]++
		hood := best.hoods[k%len(best.hoods)]
		lat, lon := demoJitter(r, hood.lat, hood.lon, 1.5)
		name := "Larkspur " + hood.name
		if k >= len(best.hoods) {
			name = fmt.Sprintf("%s %d", name, k/len(best.hoods)+1)
		}
		out = append(out, Location{
			Code: code(best.code, "store"), Name: name, Kind: rules.LocationStore,
			Region: best.region, Lat: lat, Lon: lon, Timezone: best.tz,
			CanShip: r.Float64() < 0.75, CanPickup: true, CanSameDay: r.Float64() < 0.35,
			DailyCapacity: 60 + 20*r.IntN(10), HandlingCost: demoRound2(2.00 + 0.25*float64(r.IntN(7))),
			HandlingHours: 2 + r.IntN(5), Cutoff: demoPick(r, []string{"17:00", "18:00", "19:00"}),
			Priority: 3, Active: true,
		})
	}
	for _, p := range demoPartners()[:nDrop] {
		out = append(out, Location{
			Code: p.code, Name: p.name, Kind: rules.LocationDropship, Region: p.site.region,
			Lat: p.site.lat, Lon: p.site.lon, Timezone: p.site.tz, CanShip: true,
			DailyCapacity: p.capacity, HandlingCost: p.cost, HandlingHours: p.hours, Cutoff: p.cutoff,
			Priority: p.priority, Active: true,
		})
	}
	return out
}

// Catalog categories.
const (
	catElectronics = iota
	catHome
	catApparel
	catOutdoor
	catBeauty
	catToys
	catPantry
)

// demoCategory is a product family: its nouns and variants, and how its
// prices and weights are spread.
type demoCategory struct {
	name        string
	share       int     // of the catalog
	medianPrice float64 // prices are log-normal around it
	sigma       float64
	minKg       float64
	maxKg       float64
	nouns       []string
	variants    []string
}

func demoCategories() []demoCategory {
	return []demoCategory{
		catElectronics: {"Electronics", 14, 59, 0.85, 0.1, 8,
			[]string{"Headphones", "Speaker", "Charger", "Webcam", "Keyboard", "Mouse", "Monitor", "Tablet", "Smartwatch", "Router"},
			[]string{"Black", "White", "Graphite", "Silver"}},
		catHome: {"Home & Kitchen", 22, 34, 0.75, 0.2, 9,
			[]string{"Blender", "Kettle", "Skillet", "Knife Set", "Toaster", "Cutting Board", "Coffee Maker", "Mixing Bowls", "Dutch Oven", "Storage Jars"},
			[]string{"Stainless", "White", "Sage", "Matte Black"}},
		catApparel: {"Apparel", 24, 29, 0.6, 0.1, 1.5,
			[]string{"T-Shirt", "Hoodie", "Jeans", "Jacket", "Sneakers", "Socks 3-Pack", "Cap", "Scarf", "Dress", "Polo"},
			[]string{"Navy", "Black", "Heather Grey", "Olive", "Sand"}},
		catOutdoor: {"Outdoor", 12, 49, 0.8, 0.2, 7,
			[]string{"Tent", "Sleeping Bag", "Backpack", "Camp Stove", "Headlamp", "Water Bottle", "Trekking Poles", "Cooler", "Hammock", "Rain Jacket"},
			[]string{"Forest", "Slate", "Orange", "Blue"}},
		catBeauty: {"Beauty", 12, 14, 0.55, 0.05, 0.8,
			[]string{"Shampoo", "Conditioner", "Face Serum", "Moisturizer", "Lip Balm", "Sunscreen", "Body Wash", "Hair Dryer"},
			[]string{"50 ml", "100 ml", "250 ml", "500 ml"}},
		catToys: {"Toys", 8, 24, 0.7, 0.1, 3,
			[]string{"Puzzle", "Building Set", "Plush Bear", "Board Game", "RC Car", "Doll", "Kite", "Art Kit"},
			[]string{"Ages 3+", "Ages 6+", "Ages 8+"}},
		catPantry: {"Pantry", 8, 9, 0.5, 0.2, 2,
			[]string{"Coffee Beans", "Olive Oil", "Granola", "Tea Sampler", "Hot Sauce", "Pasta", "Dark Chocolate", "Honey"},
			[]string{"8 oz", "12 oz", "1 lb", "2 lb"}},
	}
}

var demoAdjectives = [...]string{"Classic", "Essential", "Pro", "Compact", "Deluxe", "Eco", "Ultra", "Everyday",
	"Premium", "Travel", "Heritage", "Urban", "Lite", "Max"}

// demoItem is what stock generation needs to know about a SKU.
type demoItem struct {
	category int
	group    string // category and noun: SKUs that may substitute for each other
	// rank is the SKU's place by demand, 0 the fastest mover.
	rank int
	// dropOnly SKUs are sold only from their partner's stock.
	dropOnly bool
}

// dailyDemand is a SKU's chain-wide demand in units per day: Zipf-like, so a
// few SKUs sell hundreds a day and the long tail a unit every few days.
func dailyDemand(rank int) float64 { return 400 / float64(rank+1) }

// demoCatalog draws n SKUs.
func demoCatalog(r *rand.Rand, n int) ([]SKU, []demoItem) {
	cats := demoCategories()
	total := 0
	for _, c := range cats {
		total += c.share
	}
	partnerOf := map[int]bool{}
	for _, p := range demoPartners() {
		partnerOf[p.category] = true
	}
	skus, items := make([]SKU, n), make([]demoItem, n)
	ranks := r.Perm(n)
	groups := map[string][]int{} // SKUs by category and noun: the substitutable ones
	for i := range n {
		x, ci := r.IntN(total), 0
		for ; x >= cats[ci].share; ci++ {
			x -= cats[ci].share
		}
		c := cats[ci]
		noun := demoPick(r, c.nouns)
		price := c.medianPrice * math.Exp(c.sigma*r.NormFloat64())
		price = min(2999.99, max(1.99, math.Floor(price)+0.99))
		u := r.Float64()
		skus[i] = SKU{
			Code:     fmt.Sprintf("SKU-%06d", i+1),
			Name:     fmt.Sprintf("%s %s, %s", demoPick(r, demoAdjectives[:]), noun, demoPick(r, c.variants)),
			Price:    price,
			Cost:     demoRound2(price * (0.40 + 0.35*r.Float64())),
			WeightKg: math.Round((c.minKg+(c.maxKg-c.minKg)*u*u)*1000) / 1000,
			Active:   true,
		}
		key := c.name + "/" + noun
		// A slice of the slower movers of the partners' categories is drop-ship only.
		dropOnly := partnerOf[ci] && ranks[i] > n/5 && r.Float64() < 0.12
		items[i] = demoItem{category: ci, group: key, rank: ranks[i], dropOnly: dropOnly}
		groups[key] = append(groups[key], i)
	}
	// Substitutes: about one SKU in seven names one or two others of the same
	// category and noun.
	for i := range skus {
		if r.Float64() >= 0.15 {
			continue
		}
		g := groups[items[i].group]
		if len(g) < 2 {
			continue
		}
		want := 1 + r.IntN(2)
		for tries := 0; len(skus[i].Substitutes) < want && tries < 6; tries++ {
			j := g[r.IntN(len(g))]
			if j != i && !slices.Contains(skus[i].Substitutes, skus[j].Code) {
				skus[i].Substitutes = append(skus[i].Substitutes, skus[j].Code)
			}
		}
	}
	for i := range skus {
		if skus[i].Substitutes == nil {
			skus[i].Substitutes = []string{}
		}
	}
	return skus, items
}

// demoStockRows draws which locations carry each SKU and how much. A pair
// with no row does not carry the SKU; a row with nothing on hand is carried
// but sold out.
func demoStockRows(r *rand.Rand, locs []Location, items []demoItem) []demoStock {
	n := float64(len(items))
	count := map[string]float64{}
	partnerCat := map[string]int{}
	for _, p := range demoPartners() {
		partnerCat[p.code] = p.category
	}
	for _, l := range locs {
		count[l.Kind]++
	}
	noise := func() float64 { return math.Exp(0.4 * r.NormFloat64()) }
	var out []demoStock
	for i, it := range items {
		pop := 1 - float64(it.rank)/n // 1 for the fastest mover, near 0 for the slowest
		d := dailyDemand(it.rank)
		for j, l := range locs {
			var qty, safety int
			var soldOut float64
			switch l.Kind {
			case rules.LocationWarehouse:
				// Warehouses carry most of the catalog and hold the fast movers
				// in bulk: 60% of demand, 10–40 days of cover.
				if it.dropOnly || r.Float64() >= 0.45+0.55*pop {
					continue
				}
				qty = 1 + r.IntN(12) + int(math.Round(d*0.6/count[l.Kind]*(10+30*r.Float64())*noise()))
				soldOut = 0.06
				switch {
				case it.rank < len(items)/10:
					safety = max(2, qty/20)
				case r.Float64() < 0.2:
					safety = 1 + r.IntN(3)
				}
			case rules.LocationStore:
				// Stores carry the popular part of the range, a few days of it.
				if it.dropOnly || r.Float64() >= 0.10+0.70*math.Pow(pop, 1.5) {
					continue
				}
				qty = 1 + r.IntN(5) + int(math.Round(d*0.3/count[l.Kind]*(5+10*r.Float64())*noise()))
				soldOut = 0.10
				if r.Float64() < 0.25 {
					safety = 1 + r.IntN(2)
				}
			case rules.LocationDarkStore:
				// Dark stores stock the top 40% for same-day delivery.
				p := 0.05
				if pop >= 0.6 {
					p = 0.8
				}
				if it.dropOnly || r.Float64() >= p {
					continue
				}
				qty = 2 + r.IntN(6) + int(math.Round(d*0.1/count[l.Kind]*(3+4*r.Float64())*noise()))
				soldOut = 0.08
				if r.Float64() < 0.3 {
					safety = 1
				}
			case rules.LocationDropship:
				// A partner ships its own category: every drop-ship-only SKU of
				// it, and a third of the rest, from a deep virtual stock.
				if cat, ok := partnerCat[l.Code]; !ok || cat != it.category || (!it.dropOnly && r.Float64() >= 0.35) {
					continue
				}
				qty = 10 + r.IntN(190)
				soldOut = 0.03
			}
			if r.Float64() < soldOut {
				qty = 0
			}
			out = append(out, demoStock{sku: i, loc: j, onHand: qty, safety: safety})
		}
	}
	return out
}

// demoPickWeighted returns an index into weights, each drawn in proportion to its weight.
func demoPickWeighted(r *rand.Rand, weights []int) int {
	total := 0
	for _, w := range weights {
		total += w
	}
	x := r.IntN(total)
	for i, w := range weights {
		if x < w {
			return i
		}
		x -= w
	}
	return len(weights) - 1
}

var demoStreets = [...]string{"Main St", "Oak Ave", "Maple St", "Park Ave", "Washington St", "Lake St", "Cedar Rd",
	"Elm St", "2nd Ave", "Hill St", "Pine St", "Broadway", "Market St", "Church St", "Highland Ave", "Grand Ave"}

var demoFirstNames = [...]string{"Ava", "Liam", "Maya", "Noah", "Sofia", "Ethan", "Zoe", "Lucas", "Priya", "Mateo",
	"Chloe", "Omar", "Grace", "Diego", "Hana", "Samuel"}

var demoLastNames = [...]string{"Johnson", "Garcia", "Nguyen", "Smith", "Patel", "Kim", "Brown", "Rodriguez",
	"Chen", "Miller", "Okafor", "Davis", "Lopez", "Wilson", "Cohen", "Martin"}

// DemoShipTo returns a random delivery point in one of the demo metros,
// drawn in proportion to their size and spread around the centre (most within
// 15 km, none beyond 40 km), with its city and a ZIP code of that metro.
func DemoShipTo(r *rand.Rand) (lat, lon float64, city, postal string) {
	a := DemoAddress(r)
	return *a.Lat, *a.Lon, a.City, a.PostalCode
}

// DemoAddress is DemoShipTo as a whole address, ready for CaptureRequest.ShipTo.
func DemoAddress(r *rand.Rand) Address {
	metros := demoMetros()
	weights := make([]int, len(metros))
	for i, m := range metros {
		weights[i] = m.weight
	}
	m := metros[demoPickWeighted(r, weights)]
	km := min(40, 12*math.Abs(r.NormFloat64()))
	a := 2 * math.Pi * r.Float64()
	lat := demoRound6(m.lat + km*math.Cos(a)/111.2)
	lon := demoRound6(m.lon + km*math.Sin(a)/(111.2*math.Cos(m.lat*math.Pi/180)))
	return Address{
		Line1:      fmt.Sprintf("%d %s", 1+r.IntN(9899), demoPick(r, demoStreets[:])),
		City:       m.city,
		Region:     m.state,
		PostalCode: demoPick(r, m.zip3) + fmt.Sprintf("%02d", r.IntN(100)),
		Country:    "US",
		Lat:        &lat,
		Lon:        &lon,
	}
}

// DemoCustomer returns a random customer: mostly standard tier, some gold, a
// few VIPs (whose exceptions the default policy always puts before a person).
func DemoCustomer(r *rand.Rand) Customer {
	first, last := demoPick(r, demoFirstNames[:]), demoPick(r, demoLastNames[:])
	id := r.IntN(200000)
	tier := []string{"standard", "gold", "vip"}[demoPickWeighted(r, []int{85, 12, 3})]
	return Customer{
		ID:    fmt.Sprintf("cust-%06d", id),
		Name:  first + " " + last,
		Email: fmt.Sprintf("%s.%s.%d@example.com", strings.ToLower(first), strings.ToLower(last), id),
		Tier:  tier,
	}
}

// DemoOrder returns a random shipped order for the demo retailer, with
// externalID as the channel's order number (make it unique): a channel
// by its share of orders, a service level (mostly standard), and one to four
// lines from skus, favouring the head of the list (DemoSKUs puts the fast
// movers first). With no skus the order has no lines.
func DemoOrder(r *rand.Rand, externalID string, skus []string) CaptureRequest {
	channels := []string{"web", "app", "amazon", "ebay", "pos"}
	levels := []string{rules.ServiceStandard, rules.ServiceExpress, rules.ServiceSameDay}
	c := DemoCustomer(r)
	to := DemoAddress(r)
	to.Name = c.Name
	req := CaptureRequest{
		Channel:      channels[demoPickWeighted(r, []int{45, 30, 12, 5, 8})],
		ExternalID:   externalID,
		Customer:     c,
		ShipTo:       &to,
		ServiceLevel: levels[demoPickWeighted(r, []int{75, 20, 5})],
		PaymentRef:   fmt.Sprintf("pay_%016x", r.Uint64()),
		Currency:     "USD",
	}
	if len(skus) == 0 {
		return req
	}
	lines := 1 + demoPickWeighted(r, []int{55, 25, 12, 8})
	for tries := 0; len(req.Lines) < lines && tries < 3*lines; tries++ {
		u := r.Float64()
		sku := skus[int(u*u*float64(len(skus)))]
		if slices.ContainsFunc(req.Lines, func(l LineInput) bool { return l.SKU == sku }) {
			continue
		}
		qty := []int{1, 2, 3 + r.IntN(3)}[demoPickWeighted(r, []int{80, 15, 5})]
		req.Lines = append(req.Lines, LineInput{SKU: sku, Qty: qty})
	}
	return req
}
