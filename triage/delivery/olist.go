package delivery

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/omnitriage/omnitriage/internal/derrors"
)

// OlistSource is the source name of orders imported from the Olist dataset.
const OlistSource = "olist"

// The Olist files ReadOlist needs, and the optional category translation.
const (
	olistOrdersFile      = "orders.csv"
	olistItemsFile       = "order_items.csv"
	olistCustomersFile   = "customers.csv"
	olistSellersFile     = "sellers.csv"
	olistProductsFile    = "products.csv"
	olistTranslationFile = "product_category_name_translation.csv"
)

// ReadOlist reads the Olist e-commerce dataset from dir (orders.csv,
// order_items.csv, customers.csv, sellers.csv, products.csv and, when
// present, product_category_name_translation.csv, whose English category
// names then replace the Portuguese ones). Columns are found by their header
// names. It repairs the quirks of re-saved copies: zip prefixes that lost
// their leading zeros are padded to five digits, and counts written as
// floats ("51.0") are accepted. A malformed row fails the whole read with an
// error naming the file and line. Progress goes to progress (may be nil).
func ReadOlist(dir string, progress io.Writer) (_ Dataset, err error) {
	defer derrors.Wrap(&err, "ReadOlist(%q)", dir)
	if progress == nil {
		progress = io.Discard
	}
	r := &olistReader{dir: dir, progress: progress}
	translation, err := r.translation()
	if err != nil {
		return Dataset{}, err
	}
	customers, err := r.places(olistCustomersFile, "customer")
	if err != nil {
		return Dataset{}, err
	}
	sellers, err := r.places(olistSellersFile, "seller")
	if err != nil {
		return Dataset{}, err
	}
	products, err := r.products(translation)
	if err != nil {
		return Dataset{}, err
	}
	orders, err := r.orders(customers)
	if err != nil {
		return Dataset{}, err
	}
	if err := r.items(orders, sellers, products); err != nil {
		return Dataset{}, err
	}
	d := Dataset{Source: OlistSource, Orders: orders.list}
	for _, id := range sellers.order {
		p := sellers.byID[id]
		d.Sellers = append(d.Sellers, Seller{Source: OlistSource, ID: id, Zip: p.zip, City: p.city, State: p.state})
	}
	return d, nil
}

type olistReader struct {
	dir      string
	progress io.Writer
}

// csvFile reads one CSV file row by row, with columns looked up by name and
// errors that name the file and line.
type csvFile struct {
	name string
	r    *csv.Reader
	col  map[string]int
	rec  []string
	line int
	rows int
}

// lineError is a malformed row: its file, line and what is wrong.
type lineError struct {
	file string
	line int
	msg  string
}

func (e *lineError) Error() string { return fmt.Sprintf("%s:%d: %s", e.file, e.line, e.msg) }

// Unwrap makes a malformed row an invalid-input error.
func (e *lineError) Unwrap() error { return derrors.Invalid }

// open opens file and checks that its header has every required column.
func (r *olistReader) open(file string, required ...string) (*csvFile, func(), error) {
	f, err := os.Open(filepath.Join(r.dir, file))
	if err != nil {
		return nil, nil, err
	}
	c := &csvFile{name: file, r: csv.NewReader(f), col: map[string]int{}}
	c.r.ReuseRecord = true
	header, err := c.r.Read()
	if err != nil {
		f.Close()
		if errors.Is(err, io.EOF) {
			return nil, nil, fmt.Errorf("%s: empty file, want a header line: %w", file, derrors.Invalid)
		}
		return nil, nil, fmt.Errorf("%s: %w", file, err)
	}
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		c.col[strings.ToLower(h)] = i
	}
	for _, want := range required {
		if _, ok := c.col[want]; !ok {
			f.Close()
			return nil, nil, fmt.Errorf("%s: no column %q in the header: %w", file, want, derrors.Invalid)
		}
	}
	c.r.FieldsPerRecord = len(header)
	return c, func() { f.Close() }, nil
}

// next advances to the next row; it returns false at the end or on error.
func (c *csvFile) next() (bool, error) {
	rec, err := c.r.Read()
	if errors.Is(err, io.EOF) {
		return false, nil
	}
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return false, &lineError{c.name, pe.Line, pe.Err.Error()}
		}
		return false, fmt.Errorf("%s: %w", c.name, err)
	}
	c.rec = rec
	c.line, _ = c.r.FieldPos(0)
	c.rows++
	return true, nil
}

// errorf reports a problem with the current row.
func (c *csvFile) errorf(format string, args ...any) error {
	return &lineError{c.name, c.line, fmt.Sprintf(format, args...)}
}

// get returns the trimmed value of column name (which open checked).
func (c *csvFile) get(name string) string {
	i, ok := c.col[name]
	if !ok {
		return ""
	}
	return strings.TrimSpace(c.rec[i])
}

// required returns column name's value, failing when it is empty.
func (c *csvFile) required(name string) (string, error) {
	v := c.get(name)
	if v == "" {
		return "", c.errorf("%s is empty", name)
	}
	return v, nil
}

// zip returns column name as a five-digit zip prefix, restoring the leading
// zeros a spreadsheet or pandas dropped ("4571" → "04571").
func (c *csvFile) zip(name string) (string, error) {
	v, err := c.required(name)
	if err != nil {
		return "", err
	}
	v = strings.TrimSuffix(v, ".0")
	if len(v) > 5 || strings.Trim(v, "0123456789") != "" {
		return "", c.errorf("%s %q is not a zip prefix of at most five digits", name, v)
	}
	return strings.Repeat("0", 5-len(v)) + v, nil
}

// state returns column name as an upper-case two-letter state.
func (c *csvFile) state(name string) (string, error) {
	v, err := c.required(name)
	if err != nil {
		return "", err
	}
	v = strings.ToUpper(v)
	if !stateRE.MatchString(v) {
		return "", c.errorf("%s %q is not a two-letter state", name, v)
	}
	return v, nil
}

// time returns column name as a UTC time; zero when empty and optional.
func (c *csvFile) time(name string, optional bool) (time.Time, error) {
	v := c.get(name)
	if v == "" {
		if optional {
			return time.Time{}, nil
		}
		return time.Time{}, c.errorf("%s is empty", name)
	}
	// The timestamp forms Olist files and their re-saved copies use.
	for _, layout := range []string{time.DateTime, "2006-01-02 15:04", time.DateOnly, "2006-01-02T15:04:05"} {
		if t, err := time.ParseInLocation(layout, v, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, c.errorf("%s %q is not a time like 2017-07-09 21:57:05", name, v)
}

// number returns column name as a finite number, NaN when empty and optional.
func (c *csvFile) number(name string, optional bool) (float64, error) {
	v := c.get(name)
	if v == "" {
		if optional {
			return math.NaN(), nil
		}
		return 0, c.errorf("%s is empty", name)
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, c.errorf("%s %q is not a number", name, v)
	}
	return f, nil
}

// count returns column name as a whole number, accepting "3.0".
func (c *csvFile) count(name string) (int, error) {
	f, err := c.number(name, false)
	if err != nil {
		return 0, err
	}
	if f != math.Trunc(f) || f < 0 || f > math.MaxInt32 {
		return 0, c.errorf("%s %q is not a whole number", name, c.get(name))
	}
	return int(f), nil
}

func (r *olistReader) done(c *csvFile) {
	fmt.Fprintf(r.progress, "olist: read %s: %d rows\n", c.name, c.rows)
}

// translation reads the optional Portuguese → English category names.
func (r *olistReader) translation() (map[string]string, error) {
	if _, err := os.Stat(filepath.Join(r.dir, olistTranslationFile)); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	c, closeFile, err := r.open(olistTranslationFile, "product_category_name", "product_category_name_english")
	if err != nil {
		return nil, err
	}
	defer closeFile()
	m := map[string]string{}
	for {
		ok, err := c.next()
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		if pt, en := c.get("product_category_name"), c.get("product_category_name_english"); pt != "" && en != "" {
			m[pt] = en
		}
	}
	r.done(c)
	return m, nil
}

// place is where a customer or seller is.
type place struct{ zip, city, state string }

// placeIndex are the rows of customers.csv or sellers.csv by id, and the
// ids in file order.
type placeIndex struct {
	byID  map[string]place
	order []string
}

// places reads customers.csv (who "customer") or sellers.csv (who
// "seller"): an id, a zip prefix, a city and a state per row, ids unique.
func (r *olistReader) places(file, who string) (placeIndex, error) {
	p := placeIndex{byID: map[string]place{}}
	idCol, zipCol, cityCol, stateCol := who+"_id", who+"_zip_code_prefix", who+"_city", who+"_state"
	c, closeFile, err := r.open(file, idCol, zipCol, cityCol, stateCol)
	if err != nil {
		return p, err
	}
	defer closeFile()
	for {
		ok, err := c.next()
		if err != nil {
			return p, err
		}
		if !ok {
			break
		}
		id, err := c.required(idCol)
		if err != nil {
			return p, err
		}
		zip, err := c.zip(zipCol)
		if err != nil {
			return p, err
		}
		state, err := c.state(stateCol)
		if err != nil {
			return p, err
		}
		if _, dup := p.byID[id]; dup {
			return p, c.errorf("%s %q appears twice", idCol, id)
		}
		p.byID[id] = place{zip: zip, city: c.get(cityCol), state: state}
		p.order = append(p.order, id)
	}
	r.done(c)
	return p, nil
}

type product struct {
	category                             string
	weightG, lengthCM, heightCM, widthCM float64
}

func (r *olistReader) products(translation map[string]string) (map[string]product, error) {
	c, closeFile, err := r.open(olistProductsFile, "product_id", "product_category_name",
		"product_weight_g", "product_length_cm", "product_height_cm", "product_width_cm")
	if err != nil {
		return nil, err
	}
	defer closeFile()
	m := map[string]product{}
	for {
		ok, err := c.next()
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		id, err := c.required("product_id")
		if err != nil {
			return nil, err
		}
		p := product{category: c.get("product_category_name")}
		if en, ok := translation[p.category]; ok {
			p.category = en
		}
		for _, f := range []struct {
			col string
			dst *float64
		}{
			{"product_weight_g", &p.weightG},
			{"product_length_cm", &p.lengthCM},
			{"product_height_cm", &p.heightCM},
			{"product_width_cm", &p.widthCM},
		} {
			if *f.dst, err = c.number(f.col, true); err != nil {
				return nil, err
			}
			if *f.dst < 0 {
				return nil, c.errorf("%s %v is negative", f.col, *f.dst)
			}
		}
		if _, dup := m[id]; dup {
			return nil, c.errorf("product_id %q appears twice", id)
		}
		m[id] = p
	}
	r.done(c)
	return m, nil
}

type orderIndex struct {
	list []Order
	byID map[string]int // index in list
}

func (r *olistReader) orders(customers placeIndex) (orderIndex, error) {
	o := orderIndex{byID: map[string]int{}}
	c, closeFile, err := r.open(olistOrdersFile, "order_id", "customer_id", "order_status",
		"order_purchase_timestamp", "order_approved_at", "order_delivered_carrier_date",
		"order_delivered_customer_date", "order_estimated_delivery_date")
	if err != nil {
		return o, err
	}
	defer closeFile()
	for {
		ok, err := c.next()
		if err != nil {
			return o, err
		}
		if !ok {
			break
		}
		ord, err := olistOrder(c, customers)
		if err != nil {
			return o, err
		}
		if _, dup := o.byID[ord.ID]; dup {
			return o, c.errorf("order_id %q appears twice", ord.ID)
		}
		o.byID[ord.ID] = len(o.list)
		o.list = append(o.list, ord)
	}
	r.done(c)
	return o, nil
}

// olistOrder parses the current row of orders.csv.
func olistOrder(c *csvFile, customers placeIndex) (Order, error) {
	o := Order{Source: OlistSource}
	var err error
	if o.ID, err = c.required("order_id"); err != nil {
		return o, err
	}
	if o.CustomerID, err = c.required("customer_id"); err != nil {
		return o, err
	}
	cust, ok := customers.byID[o.CustomerID]
	if !ok {
		return o, c.errorf("customer_id %q is not in %s", o.CustomerID, olistCustomersFile)
	}
	o.CustomerZip, o.CustomerCity, o.CustomerState = cust.zip, cust.city, cust.state
	if o.Status, err = c.required("order_status"); err != nil {
		return o, err
	}
	for _, f := range []struct {
		col      string
		dst      *time.Time
		optional bool
	}{
		{"order_purchase_timestamp", &o.PurchasedAt, false},
		{"order_approved_at", &o.ApprovedAt, true},
		{"order_delivered_carrier_date", &o.CarrierAt, true},
		{"order_delivered_customer_date", &o.DeliveredAt, true},
		{"order_estimated_delivery_date", &o.EstimatedDelivery, false},
	} {
		if *f.dst, err = c.time(f.col, f.optional); err != nil {
			return o, err
		}
	}
	o.EstimatedDelivery = day(o.EstimatedDelivery)
	return o, nil
}

func (r *olistReader) items(orders orderIndex, sellers placeIndex, products map[string]product) error {
	c, closeFile, err := r.open(olistItemsFile, "order_id", "order_item_id", "product_id", "seller_id",
		"shipping_limit_date", "price", "freight_value")
	if err != nil {
		return err
	}
	defer closeFile()
	for {
		ok, err := c.next()
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		orderID, err := c.required("order_id")
		if err != nil {
			return err
		}
		oi, ok := orders.byID[orderID]
		if !ok {
			return c.errorf("order_id %q is not in %s", orderID, olistOrdersFile)
		}
		it, err := olistItem(c, sellers, products)
		if err != nil {
			return err
		}
		o := &orders.list[oi]
		for _, prev := range o.Items {
			if prev.ItemNo == it.ItemNo {
				return c.errorf("order %q item %d appears twice", orderID, it.ItemNo)
			}
		}
		o.Items = append(o.Items, it)
	}
	r.done(c)
	for i := range orders.list {
		if err := orders.list[i].Validate(); err != nil {
			return fmt.Errorf("order %q: %w", orders.list[i].ID, err)
		}
	}
	return nil
}

// olistItem parses the current row of order_items.csv.
func olistItem(c *csvFile, sellers placeIndex, products map[string]product) (Item, error) {
	var it Item
	var err error
	if it.ItemNo, err = c.count("order_item_id"); err != nil {
		return it, err
	}
	if it.ItemNo < 1 {
		return it, c.errorf("order_item_id %d is not positive", it.ItemNo)
	}
	if it.SellerID, err = c.required("seller_id"); err != nil {
		return it, err
	}
	s, ok := sellers.byID[it.SellerID]
	if !ok {
		return it, c.errorf("seller_id %q is not in %s", it.SellerID, olistSellersFile)
	}
	it.SellerZip, it.SellerState = s.zip, s.state
	if it.ProductID, err = c.required("product_id"); err != nil {
		return it, err
	}
	p, ok := products[it.ProductID]
	if !ok {
		return it, c.errorf("product_id %q is not in %s", it.ProductID, olistProductsFile)
	}
	it.Category, it.WeightG, it.LengthCM, it.HeightCM, it.WidthCM = p.category, p.weightG, p.lengthCM, p.heightCM, p.widthCM
	if it.ShippingLimit, err = c.time("shipping_limit_date", true); err != nil {
		return it, err
	}
	for _, f := range []struct {
		col string
		dst *float64
	}{{"price", &it.Price}, {"freight_value", &it.Freight}} {
		if *f.dst, err = c.number(f.col, false); err != nil {
			return it, err
		}
		if *f.dst < 0 {
			return it, c.errorf("%s %v is negative", f.col, *f.dst)
		}
	}
	return it, nil
}
