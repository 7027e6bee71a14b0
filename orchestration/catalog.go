package orchestration

import (
	"context"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/omnitriage/omnitriage/internal/derrors"
	"github.com/omnitriage/omnitriage/rules"
)

// Channel kinds.
const (
	ChannelWeb         = "web"
	ChannelMobile      = "mobile"
	ChannelMarketplace = "marketplace"
	ChannelStore       = "store"
)

// ChannelKinds lists the channel kinds.
func ChannelKinds() []string {
	return []string{ChannelWeb, ChannelMobile, ChannelMarketplace, ChannelStore}
}

var codeRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// Channel is where orders come from: the web shop, the app, a marketplace by
// name, or a store's till.
type Channel struct {
	ID     int64  `json:"id"`
	Code   string `json:"code"`
	Name   string `json:"name"`
	Kind   string `json:"kind"`
	Active bool   `json:"active"`
}

// Validate names each bad field.
func (c Channel) Validate() error {
	v := &derrors.ValidationError{}
	if !codeRE.MatchString(c.Code) {
		v.Add("code", "want 1–64 lower-case letters, digits, '-' or '_', starting with a letter or digit")
	}
	if strings.TrimSpace(c.Name) == "" {
		v.Add("name", "required")
	}
	if !slices.Contains(ChannelKinds(), c.Kind) {
		v.Add("kind", "want one of %s", strings.Join(ChannelKinds(), ", "))
	}
	return v.Err()
}

// Location is a place stock ships or is collected from.
type Location struct {
	ID            int64   `json:"id"`
	Code          string  `json:"code"`
	Name          string  `json:"name"`
	Kind          string  `json:"kind"`
	Region        string  `json:"region"`
	Lat           float64 `json:"lat"`
	Lon           float64 `json:"lon"`
	Timezone      string  `json:"timezone"`
	CanShip       bool    `json:"can_ship"`
	CanPickup     bool    `json:"can_pickup"`
	CanSameDay    bool    `json:"can_same_day"`
	DailyCapacity int     `json:"daily_capacity"` // orders per day; 0 means no limit
	HandlingCost  float64 `json:"handling_cost"`
	HandlingHours int     `json:"handling_hours"`
	Cutoff        string  `json:"cutoff"` // local HH:MM
	Priority      int     `json:"priority"`
	Active        bool    `json:"active"`

	tz *time.Location // Timezone, loaded once when the network is cached
}

// zone is the location's time zone (UTC when unknown).
func (l Location) zone() *time.Location {
	if l.tz != nil {
		return l.tz
	}
	tz, err := time.LoadLocation(l.Timezone)
	if err != nil {
		return time.UTC
	}
	return tz
}

var cutoffRE = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]$`)

// Validate names each bad field.
func (l Location) Validate() error {
	v := &derrors.ValidationError{}
	if !codeRE.MatchString(l.Code) {
		v.Add("code", "want 1–64 lower-case letters, digits, '-' or '_'")
	}
	if strings.TrimSpace(l.Name) == "" {
		v.Add("name", "required")
	}
	if !slices.Contains(rules.LocationKinds(), l.Kind) {
		v.Add("kind", "want one of %s", strings.Join(rules.LocationKinds(), ", "))
	}
	if strings.TrimSpace(l.Region) == "" {
		v.Add("region", "required")
	}
	if math.IsNaN(l.Lat) || l.Lat < -90 || l.Lat > 90 {
		v.Add("lat", "want a latitude from -90 to 90")
	}
	if math.IsNaN(l.Lon) || l.Lon < -180 || l.Lon > 180 {
		v.Add("lon", "want a longitude from -180 to 180")
	}
	if l.Timezone != "" {
		if _, err := time.LoadLocation(l.Timezone); err != nil {
			v.Add("timezone", "unknown time zone %q (want an IANA name such as America/Chicago)", l.Timezone)
		}
	}
	if l.DailyCapacity < 0 {
		v.Add("daily_capacity", "must not be negative (0 means no limit)")
	}
	if l.HandlingCost < 0 || math.IsNaN(l.HandlingCost) {
		v.Add("handling_cost", "must not be negative")
	}
	if l.HandlingHours < 0 {
		v.Add("handling_hours", "must not be negative")
	}
	if l.Cutoff != "" && !cutoffRE.MatchString(l.Cutoff) {
		v.Add("cutoff", "want local time as HH:MM")
	}
	return v.Err()
}

// capabilities lists the location's capabilities in the policy's words.
func (l Location) capabilities() []string {
	var c []string
	if l.CanShip {
		c = append(c, rules.CapabilityShip)
	}
	if l.CanPickup {
		c = append(c, rules.CapabilityPickup)
	}
	if l.CanSameDay {
		c = append(c, rules.CapabilitySameDay)
	}
	return c
}

// SKU is a sellable item.
type SKU struct {
	ID          int64    `json:"id"`
	Code        string   `json:"code"`
	Name        string   `json:"name"`
	Price       float64  `json:"price"`
	Cost        float64  `json:"cost"`
	WeightKg    float64  `json:"weight_kg"`
	Substitutes []string `json:"substitutes"` // SKU codes that may replace this one
	Active      bool     `json:"active"`
}

var skuRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// Validate names each bad field.
func (k SKU) Validate() error {
	v := &derrors.ValidationError{}
	if !skuRE.MatchString(k.Code) {
		v.Add("code", "want 1–64 letters, digits, '.', '-' or '_'")
	}
	if strings.TrimSpace(k.Name) == "" {
		v.Add("name", "required")
	}
	if k.Price < 0 || math.IsNaN(k.Price) || k.Price > 1e9 {
		v.Add("price", "want a non-negative amount")
	}
	if k.Cost < 0 || math.IsNaN(k.Cost) || k.Cost > 1e9 {
		v.Add("cost", "want a non-negative amount")
	}
	if k.WeightKg < 0 || math.IsNaN(k.WeightKg) {
		v.Add("weight_kg", "must not be negative")
	}
	for i, s := range k.Substitutes {
		if !skuRE.MatchString(s) || s == k.Code {
			v.Add(fmt.Sprintf("substitutes[%d]", i), "want another SKU's code")
		}
	}
	return v.Err()
}

// Stock is one SKU's stock at one location.
type Stock struct {
	SKU           string     `json:"sku"`
	Location      string     `json:"location"`
	OnHand        int        `json:"on_hand"`
	Reserved      int        `json:"reserved"`
	SafetyStock   int        `json:"safety_stock"`
	Available     int        `json:"available"` // on hand − reserved − safety stock, never below 0
	LastSyncedAt  *time.Time `json:"last_synced_at,omitempty"`
	SourceVersion *int64     `json:"source_version,omitempty"`
}

// CreateChannel adds a channel, or updates the one with the same code.
func (s *Service) CreateChannel(ctx context.Context, c Channel) (_ Channel, err error) {
	defer derrors.Wrap(&err, "CreateChannel(%q)", c.Code)
	if err := c.Validate(); err != nil {
		return Channel{}, err
	}
	err = s.pool.QueryRow(ctx, `
		INSERT INTO channels (code, name, kind, active) VALUES ($1, $2, $3, $4)
		ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, kind = EXCLUDED.kind,
			active = EXCLUDED.active, updated_at = now()
		RETURNING id`, c.Code, c.Name, c.Kind, c.Active).Scan(&c.ID)
	if err != nil {
		return Channel{}, err
	}
	s.invalidate()
	return c, nil
}

// ListChannels returns every channel by code.
func (s *Service) ListChannels(ctx context.Context) (_ []Channel, err error) {
	defer derrors.Wrap(&err, "ListChannels")
	rows, err := s.pool.Query(ctx, `SELECT id, code, name, kind, active FROM channels ORDER BY code`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Channel, error) {
		var c Channel
		err := r.Scan(&c.ID, &c.Code, &c.Name, &c.Kind, &c.Active)
		return c, err
	})
}

const locationCols = `id, code, name, kind, region, lat, lon, timezone, can_ship, can_pickup, can_same_day,
	daily_capacity, handling_cost::float8, handling_hours, cutoff, priority, active`

func scanLocation(r pgx.Row) (Location, error) {
	var l Location
	err := r.Scan(&l.ID, &l.Code, &l.Name, &l.Kind, &l.Region, &l.Lat, &l.Lon, &l.Timezone, &l.CanShip,
		&l.CanPickup, &l.CanSameDay, &l.DailyCapacity, &l.HandlingCost, &l.HandlingHours, &l.Cutoff,
		&l.Priority, &l.Active)
	return l, err
}

// CreateLocation adds a location, or updates the one with the same code.
func (s *Service) CreateLocation(ctx context.Context, l Location) (_ Location, err error) {
	defer derrors.Wrap(&err, "CreateLocation(%q)", l.Code)
	if l.Timezone == "" {
		l.Timezone = "UTC"
	}
	if l.Cutoff == "" {
		l.Cutoff = "15:00"
	}
	if err := l.Validate(); err != nil {
		return Location{}, err
	}
	row := s.pool.QueryRow(ctx, `
		INSERT INTO locations (code, name, kind, region, lat, lon, timezone, can_ship, can_pickup, can_same_day,
			daily_capacity, handling_cost, handling_hours, cutoff, priority, active)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
		ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, kind = EXCLUDED.kind, region = EXCLUDED.region,
			lat = EXCLUDED.lat, lon = EXCLUDED.lon, timezone = EXCLUDED.timezone, can_ship = EXCLUDED.can_ship,
			can_pickup = EXCLUDED.can_pickup, can_same_day = EXCLUDED.can_same_day,
			daily_capacity = EXCLUDED.daily_capacity, handling_cost = EXCLUDED.handling_cost,
			handling_hours = EXCLUDED.handling_hours, cutoff = EXCLUDED.cutoff, priority = EXCLUDED.priority,
			active = EXCLUDED.active, updated_at = now()
		RETURNING `+locationCols,
		l.Code, l.Name, l.Kind, l.Region, l.Lat, l.Lon, l.Timezone, l.CanShip, l.CanPickup, l.CanSameDay,
		l.DailyCapacity, l.HandlingCost, l.HandlingHours, l.Cutoff, l.Priority, l.Active)
	out, err := scanLocation(row)
	if err != nil {
		return Location{}, err
	}
	s.invalidate()
	return out, nil
}

// ListLocations returns every location by code.
func (s *Service) ListLocations(ctx context.Context) (_ []Location, err error) {
	defer derrors.Wrap(&err, "ListLocations")
	rows, err := s.pool.Query(ctx, `SELECT `+locationCols+` FROM locations ORDER BY code`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Location, error) { return scanLocation(r) })
}

// GetLocation returns the location with code.
func (s *Service) GetLocation(ctx context.Context, code string) (_ Location, err error) {
	defer derrors.Wrap(&err, "GetLocation(%q)", code)
	l, err := scanLocation(s.pool.QueryRow(ctx, `SELECT `+locationCols+` FROM locations WHERE code = $1`, code))
	if errors.Is(err, pgx.ErrNoRows) {
		return Location{}, fmt.Errorf("no location %q: %w", code, derrors.NotFound)
	}
	return l, err
}

const skuCols = `id, code, name, price::float8, cost::float8, weight_kg::float8, substitutes, active`

func scanSKU(r pgx.Row) (SKU, error) {
	var k SKU
	err := r.Scan(&k.ID, &k.Code, &k.Name, &k.Price, &k.Cost, &k.WeightKg, &k.Substitutes, &k.Active)
	return k, err
}

// CreateSKU adds a SKU, or updates the one with the same code.
func (s *Service) CreateSKU(ctx context.Context, k SKU) (_ SKU, err error) {
	defer derrors.Wrap(&err, "CreateSKU(%q)", k.Code)
	if k.Substitutes == nil {
		k.Substitutes = []string{}
	}
	if err := k.Validate(); err != nil {
		return SKU{}, err
	}
	return scanSKU(s.pool.QueryRow(ctx, `
		INSERT INTO skus (code, name, price, cost, weight_kg, substitutes, active)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, price = EXCLUDED.price, cost = EXCLUDED.cost,
			weight_kg = EXCLUDED.weight_kg, substitutes = EXCLUDED.substitutes, active = EXCLUDED.active,
			updated_at = now()
		RETURNING `+skuCols, k.Code, k.Name, k.Price, k.Cost, k.WeightKg, k.Substitutes, k.Active))
}

// GetSKU returns the SKU with code.
func (s *Service) GetSKU(ctx context.Context, code string) (_ SKU, err error) {
	defer derrors.Wrap(&err, "GetSKU(%q)", code)
	k, err := scanSKU(s.pool.QueryRow(ctx, `SELECT `+skuCols+` FROM skus WHERE code = $1`, code))
	if errors.Is(err, pgx.ErrNoRows) {
		return SKU{}, fmt.Errorf("no SKU %q: %w", code, derrors.NotFound)
	}
	return k, err
}

// ListSKUs returns up to limit SKUs with codes after the given one, by code.
func (s *Service) ListSKUs(ctx context.Context, after string, limit int) (_ []SKU, err error) {
	defer derrors.Wrap(&err, "ListSKUs")
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	rows, err := s.pool.Query(ctx, `SELECT `+skuCols+` FROM skus WHERE code > $1 ORDER BY code LIMIT $2`, after, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (SKU, error) { return scanSKU(r) })
}

// StockOf returns the stock of sku at every location that has a row for it,
// or of every SKU at location when sku is empty.
func (s *Service) StockOf(ctx context.Context, sku, location string) (_ []Stock, err error) {
	defer derrors.Wrap(&err, "StockOf(%q, %q)", sku, location)
	if sku == "" && location == "" {
		return nil, fmt.Errorf("name a sku or a location: %w", derrors.Invalid)
	}
	rows, err := s.pool.Query(ctx, `
		SELECT k.code, l.code, st.on_hand, st.reserved, st.safety_stock, st.last_synced_at, st.source_version
		FROM stock st JOIN skus k ON k.id = st.sku_id JOIN locations l ON l.id = st.location_id
		WHERE ($1 = '' OR k.code = $1) AND ($2 = '' OR l.code = $2)
		ORDER BY k.code, l.code LIMIT 5000`, sku, location)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Stock, error) {
		var st Stock
		err := r.Scan(&st.SKU, &st.Location, &st.OnHand, &st.Reserved, &st.SafetyStock, &st.LastSyncedAt, &st.SourceVersion)
		st.Available = max(0, st.OnHand-st.Reserved-st.SafetyStock)
		return st, err
	})
}
