package delivery

import (
	"context"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/omnitriage/omnitriage/internal/derrors"
)

// Store reads and writes the history_* tables.
type Store struct {
	pool *pgxpool.Pool
}

// NewStore returns the history tables over pool.
func NewStore(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// TableStats says what an import did to one table.
type TableStats struct {
	// Rows is how many rows the dataset had.
	Rows int
	// New rows were inserted, Changed ones replaced, Unchanged ones skipped.
	New, Changed, Unchanged int
	// Removed counts items of re-imported orders that the dataset no longer has.
	Removed int
}

// String reads like "120 rows: 3 new, 1 changed, 116 unchanged".
func (s TableStats) String() string {
	str := fmt.Sprintf("%d rows: %d new, %d changed, %d unchanged", s.Rows, s.New, s.Changed, s.Unchanged)
	if s.Removed > 0 {
		str += fmt.Sprintf(", %d removed", s.Removed)
	}
	return str
}

// ImportStats says what an import did to each table.
type ImportStats struct {
	Sellers, Orders, Items TableStats
}

// Import writes d in one transaction. It is idempotent: a row already there
// with the same values is skipped, one with other values is replaced, and a
// re-imported order's items become exactly the dataset's. Rows of other
// sources, and orders of this source the dataset does not mention, are kept.
// A line per table goes to progress (may be nil).
func (s *Store) Import(ctx context.Context, d Dataset, progress io.Writer) (_ ImportStats, err error) {
	defer derrors.Wrap(&err, "Store.Import(%q)", d.Source)
	if progress == nil {
		progress = io.Discard
	}
	if d.Source == "" {
		return ImportStats{}, fmt.Errorf("no source name: %w", derrors.Invalid)
	}
	for i := range d.Sellers {
		if d.Sellers[i].Source != d.Source {
			return ImportStats{}, fmt.Errorf("seller %q has source %q: %w", d.Sellers[i].ID, d.Sellers[i].Source, derrors.Invalid)
		}
		if err := d.Sellers[i].Validate(); err != nil {
			return ImportStats{}, fmt.Errorf("seller %q: %w", d.Sellers[i].ID, err)
		}
	}
	for i := range d.Orders {
		if d.Orders[i].Source != d.Source {
			return ImportStats{}, fmt.Errorf("order %q has source %q: %w", d.Orders[i].ID, d.Orders[i].Source, derrors.Invalid)
		}
		if err := d.Orders[i].Validate(); err != nil {
			return ImportStats{}, fmt.Errorf("order %q: %w", d.Orders[i].ID, err)
		}
	}
	var st ImportStats
	for _, o := range d.Orders {
		st.Items.Rows += len(o.Items)
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := stage(ctx, tx, d); err != nil {
			return err
		}
		var err error
		if st.Sellers, err = merge(ctx, tx, sellersMerge, len(d.Sellers)); err != nil {
			return fmt.Errorf("sellers: %w", err)
		}
		fmt.Fprintf(progress, "history: sellers %v\n", st.Sellers)
		if st.Orders, err = merge(ctx, tx, ordersMerge, len(d.Orders)); err != nil {
			return fmt.Errorf("orders: %w", err)
		}
		fmt.Fprintf(progress, "history: orders %v\n", st.Orders)
		tag, err := tx.Exec(ctx, itemsPrune)
		if err != nil {
			return fmt.Errorf("items: %w", err)
		}
		if st.Items, err = merge(ctx, tx, itemsMerge, st.Items.Rows); err != nil {
			return fmt.Errorf("items: %w", err)
		}
		st.Items.Removed = int(tag.RowsAffected())
		fmt.Fprintf(progress, "history: items %v\n", st.Items)
		return nil
	})
	if err != nil {
		return ImportStats{}, err
	}
	return st, nil
}

// stage copies the dataset into temporary tables that vanish at commit.
func stage(ctx context.Context, tx pgx.Tx, d Dataset) error {
	if _, err := tx.Exec(ctx, `
		CREATE TEMP TABLE hist_stage_sellers (LIKE history_sellers INCLUDING DEFAULTS) ON COMMIT DROP;
		CREATE TEMP TABLE hist_stage_orders (LIKE history_orders INCLUDING DEFAULTS) ON COMMIT DROP;
		CREATE TEMP TABLE hist_stage_items (LIKE history_items INCLUDING DEFAULTS) ON COMMIT DROP;`); err != nil {
		return fmt.Errorf("staging tables: %w", err)
	}
	sellers := make([][]any, len(d.Sellers))
	for i, s := range d.Sellers {
		sellers[i] = []any{d.Source, s.ID, s.Zip, s.City, s.State}
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"hist_stage_sellers"},
		[]string{"source", "seller_id", "zip_prefix", "city", "state"}, pgx.CopyFromRows(sellers)); err != nil {
		return fmt.Errorf("copying sellers: %w", err)
	}
	orders := make([][]any, len(d.Orders))
	var items [][]any
	for i, o := range d.Orders {
		orders[i] = []any{d.Source, o.ID, o.CustomerID, o.CustomerZip, o.CustomerCity, o.CustomerState, o.Status,
			o.PurchasedAt, nullTime(o.ApprovedAt), nullTime(o.CarrierAt), nullTime(o.DeliveredAt), day(o.EstimatedDelivery)}
		for _, it := range o.Items {
			items = append(items, []any{d.Source, o.ID, it.ItemNo, it.ProductID, it.SellerID, nullTime(it.ShippingLimit),
				it.Price, it.Freight, it.Category,
				nullFloat(it.WeightG), nullFloat(it.LengthCM), nullFloat(it.HeightCM), nullFloat(it.WidthCM)})
		}
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"hist_stage_orders"},
		[]string{"source", "order_id", "customer_id", "customer_zip_prefix", "customer_city", "customer_state", "status",
			"purchased_at", "approved_at", "carrier_at", "delivered_at", "estimated_delivery"}, pgx.CopyFromRows(orders)); err != nil {
		return fmt.Errorf("copying orders: %w", err)
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"hist_stage_items"},
		[]string{"source", "order_id", "item_no", "product_id", "seller_id", "shipping_limit", "price", "freight",
			"product_category", "weight_g", "length_cm", "height_cm", "width_cm"}, pgx.CopyFromRows(items)); err != nil {
		return fmt.Errorf("copying items: %w", err)
	}
	return nil
}

// The merges insert new rows and replace changed ones, leaving identical
// rows untouched; each returns one row per row written, true when inserted.
const (
	sellersMerge = `
		INSERT INTO history_sellers AS h (source, seller_id, zip_prefix, city, state)
		SELECT source, seller_id, zip_prefix, city, state FROM hist_stage_sellers
		ON CONFLICT (source, seller_id) DO UPDATE
			SET zip_prefix = excluded.zip_prefix, city = excluded.city, state = excluded.state, imported_at = now()
			WHERE (h.zip_prefix, h.city, h.state) IS DISTINCT FROM (excluded.zip_prefix, excluded.city, excluded.state)
		RETURNING xmax = 0`
	ordersMerge = `
		INSERT INTO history_orders AS h (source, order_id, customer_id, customer_zip_prefix, customer_city, customer_state,
			status, purchased_at, approved_at, carrier_at, delivered_at, estimated_delivery)
		SELECT source, order_id, customer_id, customer_zip_prefix, customer_city, customer_state,
			status, purchased_at, approved_at, carrier_at, delivered_at, estimated_delivery FROM hist_stage_orders
		ON CONFLICT (source, order_id) DO UPDATE
			SET customer_id = excluded.customer_id, customer_zip_prefix = excluded.customer_zip_prefix,
				customer_city = excluded.customer_city, customer_state = excluded.customer_state, status = excluded.status,
				purchased_at = excluded.purchased_at, approved_at = excluded.approved_at, carrier_at = excluded.carrier_at,
				delivered_at = excluded.delivered_at, estimated_delivery = excluded.estimated_delivery, imported_at = now()
			WHERE (h.customer_id, h.customer_zip_prefix, h.customer_city, h.customer_state, h.status, h.purchased_at,
				h.approved_at, h.carrier_at, h.delivered_at, h.estimated_delivery)
				IS DISTINCT FROM (excluded.customer_id, excluded.customer_zip_prefix, excluded.customer_city,
				excluded.customer_state, excluded.status, excluded.purchased_at, excluded.approved_at, excluded.carrier_at,
				excluded.delivered_at, excluded.estimated_delivery)
		RETURNING xmax = 0`
	// itemsPrune removes items of re-imported orders that the dataset
	// no longer lists.
	itemsPrune = `
		DELETE FROM history_items h
		WHERE (h.source, h.order_id) IN (SELECT source, order_id FROM hist_stage_orders)
		  AND NOT EXISTS (SELECT 1 FROM hist_stage_items s
		                  WHERE s.source = h.source AND s.order_id = h.order_id AND s.item_no = h.item_no)`
	itemsMerge = `
		INSERT INTO history_items AS h (source, order_id, item_no, product_id, seller_id, shipping_limit, price, freight,
			product_category, weight_g, length_cm, height_cm, width_cm)
		SELECT source, order_id, item_no, product_id, seller_id, shipping_limit, price, freight,
			product_category, weight_g, length_cm, height_cm, width_cm FROM hist_stage_items
		ON CONFLICT (source, order_id, item_no) DO UPDATE
			SET product_id = excluded.product_id, seller_id = excluded.seller_id, shipping_limit = excluded.shipping_limit,
				price = excluded.price, freight = excluded.freight, product_category = excluded.product_category,
				weight_g = excluded.weight_g, length_cm = excluded.length_cm, height_cm = excluded.height_cm,
				width_cm = excluded.width_cm
			WHERE (h.product_id, h.seller_id, h.shipping_limit, h.price, h.freight, h.product_category,
				h.weight_g, h.length_cm, h.height_cm, h.width_cm)
				IS DISTINCT FROM (excluded.product_id, excluded.seller_id, excluded.shipping_limit, excluded.price,
				excluded.freight, excluded.product_category, excluded.weight_g, excluded.length_cm, excluded.height_cm,
				excluded.width_cm)
		RETURNING xmax = 0`
)

// merge runs one merge statement and counts what it did to rows rows.
func merge(ctx context.Context, tx pgx.Tx, sql string, rows int) (TableStats, error) {
	st := TableStats{Rows: rows}
	r, err := tx.Query(ctx, sql)
	if err != nil {
		return st, err
	}
	var inserted bool
	_, err = pgx.ForEachRow(r, []any{&inserted}, func() error {
		if inserted {
			st.New++
		} else {
			st.Changed++
		}
		return nil
	})
	if err != nil {
		return st, err
	}
	st.Unchanged = rows - st.New - st.Changed
	return st, nil
}

// Orders returns every order of source with its items (and their sellers'
// zip and state), by purchase time. It fails with NotFound when the source
// has no orders, which usually means the import was not run.
func (s *Store) Orders(ctx context.Context, source string) (_ []Order, err error) {
	defer derrors.Wrap(&err, "Store.Orders(ctx, %q)", source)
	rows, err := s.pool.Query(ctx, `
		SELECT order_id, customer_id, customer_zip_prefix, customer_city, customer_state, status,
		       purchased_at, approved_at, carrier_at, delivered_at, estimated_delivery
		FROM history_orders WHERE source = $1
		ORDER BY purchased_at, order_id`, source)
	if err != nil {
		return nil, err
	}
	var orders []Order
	byID := map[string]int{}
	for rows.Next() {
		o := Order{Source: source}
		var approved, carrier, delivered *time.Time
		if err := rows.Scan(&o.ID, &o.CustomerID, &o.CustomerZip, &o.CustomerCity, &o.CustomerState, &o.Status,
			&o.PurchasedAt, &approved, &carrier, &delivered, &o.EstimatedDelivery); err != nil {
			rows.Close()
			return nil, err
		}
		o.PurchasedAt = o.PurchasedAt.UTC()
		o.ApprovedAt, o.CarrierAt, o.DeliveredAt = utcOrZero(approved), utcOrZero(carrier), utcOrZero(delivered)
		o.EstimatedDelivery = day(o.EstimatedDelivery)
		byID[o.ID] = len(orders)
		orders = append(orders, o)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(orders) == 0 {
		return nil, fmt.Errorf("no history orders of source %q (import them first): %w", source, derrors.NotFound)
	}
	rows, err = s.pool.Query(ctx, `
		SELECT i.order_id, i.item_no, i.product_id, i.seller_id, s.zip_prefix, s.state, i.shipping_limit,
		       i.price::float8, i.freight::float8, i.product_category, i.weight_g, i.length_cm, i.height_cm, i.width_cm
		FROM history_items i JOIN history_sellers s USING (source, seller_id)
		WHERE i.source = $1
		ORDER BY i.order_id, i.item_no`, source)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			orderID                   string
			it                        Item
			limit                     *time.Time
			weight, length, height, w *float64
		)
		if err := rows.Scan(&orderID, &it.ItemNo, &it.ProductID, &it.SellerID, &it.SellerZip, &it.SellerState, &limit,
			&it.Price, &it.Freight, &it.Category, &weight, &length, &height, &w); err != nil {
			return nil, err
		}
		it.ShippingLimit = utcOrZero(limit)
		it.WeightG, it.LengthCM, it.HeightCM, it.WidthCM = floatOrNaN(weight), floatOrNaN(length), floatOrNaN(height), floatOrNaN(w)
		o := &orders[byID[orderID]]
		o.Items = append(o.Items, it)
	}
	return orders, rows.Err()
}

// nullTime is nil for the zero time, for a NULL column.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// nullFloat is nil for NaN, for a NULL column.
func nullFloat(f float64) any {
	if math.IsNaN(f) {
		return nil
	}
	return f
}

func utcOrZero(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

func floatOrNaN(f *float64) float64 {
	if f == nil {
		return math.NaN()
	}
	return *f
}
