package delivery

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/omnitriage/omnitriage/internal/derrors"
)

// miniOlist is a small dataset in the shape of the re-saved Olist copies:
// zip prefixes without their leading zeros, quoted seller fields, product
// numbers written as floats, a product without measures.
func miniOlist() map[string]string {
	return map[string]string{
		"customers.csv": "customer_id,customer_unique_id,customer_zip_code_prefix,customer_city,customer_state\n" +
			"c1,u1,4571,sao paulo,SP\n" +
			"c2,u2,27525,resende,RJ\n",
		"sellers.csv": `"seller_id","seller_zip_code_prefix","seller_city","seller_state"` + "\n" +
			`"s1","13023",campinas,SP` + "\n" +
			`s2,"1844",mogi guacu,SP` + "\n",
		"products.csv": "product_id,product_category_name,product_name_lenght,product_description_lenght,product_photos_qty,product_weight_g,product_length_cm,product_height_cm,product_width_cm\n" +
			"p1,moveis_decoracao,51.0,2083.0,2.0,600.0,68.0,11.0,13.0\n" +
			"p2,perfumaria,,,,,,,\n",
		"orders.csv": "order_id,customer_id,order_status,order_purchase_timestamp,order_approved_at,order_delivered_carrier_date,order_delivered_customer_date,order_estimated_delivery_date\n" +
			"o1,c1,delivered,2017-07-09 21:57:05,2017-07-09 22:10:13,2017-07-11 14:58:04,2017-07-26 10:57:55,2017-08-01 00:00:00\n" +
			"o2,c2,invoiced,2017-04-11 12:22:08,2017-04-13 13:25:17,,,2017-05-09 00:00:00\n",
		"order_items.csv": "order_id,order_item_id,product_id,seller_id,shipping_limit_date,price,freight_value\n" +
			"o1,1,p1,s1,2017-07-13 22:10:13,199.9,18.14\n" +
			"o1,2,p2,s2,2017-07-13 22:10:13,10.0,0\n" +
			"o2,1,p2,s2,2017-04-17 13:25:17,45.5,7.39\n",
		"product_category_name_translation.csv": "product_category_name,product_category_name_english\n" +
			"moveis_decoracao,furniture_decor\n",
	}
}

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestReadOlist(t *testing.T) {
	t.Parallel()
	var progress strings.Builder
	d, err := ReadOlist(writeFiles(t, miniOlist()), &progress)
	if err != nil {
		t.Fatalf("ReadOlist = %v", err)
	}
	if !strings.Contains(progress.String(), "olist: read orders.csv: 2 rows") {
		t.Errorf("progress = %q, want a line per file", progress.String())
	}
	if d.Source != OlistSource || len(d.Orders) != 2 || len(d.Sellers) != 2 {
		t.Fatalf("ReadOlist = source %q, %d orders, %d sellers; want olist, 2, 2", d.Source, len(d.Orders), len(d.Sellers))
	}
	if s := d.Sellers[1]; s.ID != "s2" || s.Zip != "01844" || s.State != "SP" || s.City != "mogi guacu" {
		t.Errorf("seller s2 = %+v, want zip 01844 in SP", s)
	}
	o1, o2 := d.Orders[0], d.Orders[1]
	at := func(s string) time.Time { v, _ := time.Parse(time.DateTime, s); return v }
	if o1.ID != "o1" || o1.CustomerZip != "04571" || o1.CustomerState != "SP" || o1.Status != "delivered" ||
		!o1.PurchasedAt.Equal(at("2017-07-09 21:57:05")) || !o1.CarrierAt.Equal(at("2017-07-11 14:58:04")) ||
		!o1.DeliveredAt.Equal(at("2017-07-26 10:57:55")) || !o1.EstimatedDelivery.Equal(date("2017-08-01")) {
		t.Errorf("order o1 = %+v", o1)
	}
	if len(o1.Items) != 2 {
		t.Fatalf("order o1 has %d items, want 2", len(o1.Items))
	}
	if it := o1.Items[0]; it.SellerZip != "13023" || it.Category != "furniture_decor" || it.WeightG != 600 || it.Price != 199.9 ||
		it.Freight != 18.14 || !it.ShippingLimit.Equal(at("2017-07-13 22:10:13")) {
		t.Errorf("o1 item 1 = %+v, want the translated category and float measures read", it)
	}
	if it := o1.Items[1]; it.Category != "perfumaria" || !math.IsNaN(it.WeightG) || !math.IsNaN(it.WidthCM) || it.SellerState != "SP" {
		t.Errorf("o1 item 2 = %+v, want unknown measures as NaN and the untranslated category", it)
	}
	if !o2.DeliveredAt.IsZero() || !o2.CarrierAt.IsZero() || o2.CustomerZip != "27525" || len(o2.Items) != 1 {
		t.Errorf("order o2 = %+v, want not handed off nor delivered, one item", o2)
	}
	if late, known := o1.Late(); late || !known {
		t.Errorf("o1.Late() = %v, %v; want on time", late, known)
	}
}

func TestReadOlistMalformed(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		file      string
		old, new  string // replace old by new in file; new "" with old "" removes the file
		want      string
		isInvalid bool
	}{
		{"bad time", "orders.csv", "2017-04-11 12:22:08", "2017-13-45 00:00:00", `orders.csv:3: order_purchase_timestamp "2017-13-45 00:00:00" is not a time`, true},
		{"missing purchase", "orders.csv", "2017-04-11 12:22:08", "", `orders.csv:3: order_purchase_timestamp is empty`, true},
		{"unknown customer", "orders.csv", "o1,c1,", "o1,nobody,", `orders.csv:2: customer_id "nobody" is not in customers.csv`, true},
		{"duplicate order", "orders.csv", "o2,c2,", "o1,c2,", `orders.csv:3: order_id "o1" appears twice`, true},
		{"wrong field count", "orders.csv", "o2,c2,invoiced,", "o2,c2,", `orders.csv:3: wrong number of fields`, true},
		{"missing column", "orders.csv", "order_status", "state", `orders.csv: no column "order_status"`, true},
		{"long zip", "customers.csv", "27525", "275250", `customers.csv:3: customer_zip_code_prefix "275250" is not a zip prefix`, true},
		{"bad state", "customers.csv", ",SP\n", ",Sao Paulo\n", `customers.csv:2: customer_state "SAO PAULO" is not a two-letter state`, true},
		{"seller state", "sellers.csv", "mogi guacu,SP", "mogi guacu,", `sellers.csv:3: seller_state is empty`, true},
		{"bad price", "order_items.csv", "45.5", "abc", `order_items.csv:4: price "abc" is not a number`, true},
		{"fractional item", "order_items.csv", "o1,2,", "o1,1.5,", `order_items.csv:3: order_item_id "1.5" is not a whole number`, true},
		{"duplicate item", "order_items.csv", "o1,2,", "o1,1,", `order_items.csv:3: order "o1" item 1 appears twice`, true},
		{"unknown order", "order_items.csv", "o2,1,", "o9,1,", `order_items.csv:4: order_id "o9" is not in orders.csv`, true},
		{"unknown seller", "order_items.csv", "p1,s1,", "p1,s9,", `order_items.csv:2: seller_id "s9" is not in sellers.csv`, true},
		{"unknown product", "order_items.csv", "o2,1,p2,", "o2,1,p9,", `order_items.csv:4: product_id "p9" is not in products.csv`, true},
		{"negative weight", "products.csv", "600.0", "-600.0", `products.csv:2: product_weight_g -600 is negative`, true},
		{"missing file", "products.csv", "", "", "products.csv", false},
	} {
		files := miniOlist()
		if tc.old == "" && tc.new == "" {
			delete(files, tc.file)
		} else {
			if !strings.Contains(files[tc.file], tc.old) {
				t.Fatalf("%s: %s has no %q", tc.name, tc.file, tc.old)
			}
			files[tc.file] = strings.Replace(files[tc.file], tc.old, tc.new, 1)
		}
		_, err := ReadOlist(writeFiles(t, files), nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: ReadOlist = %v, want an error containing %q", tc.name, err, tc.want)
			continue
		}
		if errors.Is(err, derrors.Invalid) != tc.isInvalid {
			t.Errorf("%s: errors.Is(%v, Invalid) = %v, want %v", tc.name, err, !tc.isInvalid, tc.isInvalid)
		}
	}
}

// TestReadOlistShared reads the shared Olist subset when
// OMNITRIAGE_DATA_DIR is set (it holds olist/).
func TestReadOlistShared(t *testing.T) {
	root := os.Getenv("OMNITRIAGE_DATA_DIR")
	if root == "" {
		t.Skip("OMNITRIAGE_DATA_DIR not set")
	}
	t.Parallel()
	d, err := ReadOlist(filepath.Join(root, "olist"), nil)
	if err != nil {
		t.Fatal(err)
	}
	var items, delivered int
	for _, o := range d.Orders {
		items += len(o.Items)
		if !o.DeliveredAt.IsZero() {
			delivered++
		}
		if len(o.CustomerZip) != 5 {
			t.Fatalf("order %s customer zip %q, want five digits", o.ID, o.CustomerZip)
		}
	}
	t.Logf("%d orders (%d delivered), %d items, %d sellers", len(d.Orders), delivered, items, len(d.Sellers))
	if len(d.Orders) < 5000 || items < len(d.Orders) || len(d.Sellers) < 3000 {
		t.Errorf("read %d orders, %d items, %d sellers; want the whole subset", len(d.Orders), items, len(d.Sellers))
	}
}
