package rules

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"
)

// Filter kinds: what a sourcing rule group may require of a candidate location.
const (
	FilterLocationKind         = "location_kind"          // location kind is one of Values
	FilterCapability           = "capability"             // location has every capability in Values
	FilterMaxDistanceKm        = "max_distance_km"        // distance to the ship-to point ≤ Limit
	FilterMaxTransitDays       = "max_transit_days"       // estimated transit days ≤ Limit
	FilterCapacityLeft         = "capacity_left"          // location has daily order capacity left
	FilterAllLinesAvailable    = "all_lines_available"    // one location fills the whole order; no split
	FilterBrokeringSafetyStock = "brokering_safety_stock" // Units held back per SKU × location
)

// FilterKinds lists the filter kinds a policy may use.
func FilterKinds() []string {
	return []string{FilterLocationKind, FilterCapability, FilterMaxDistanceKm, FilterMaxTransitDays,
		FilterCapacityLeft, FilterAllLinesAvailable, FilterBrokeringSafetyStock}
}

// Sort keys: how candidate locations are ranked.
const (
	SortDistance         = "distance"          // km to the ship-to point
	SortTransitTime      = "transit_time"      // hours until the estimated delivery
	SortShippingCost     = "shipping_cost"     // shipping plus handling for what the location can fill
	SortMargin           = "margin"            // line margin minus that cost
	SortInventoryBalance = "inventory_balance" // units left after filling; prefer more
	SortPriority         = "priority"          // the location's configured priority
)

// SortKeys lists the sort keys a policy may use.
func SortKeys() []string {
	return []string{SortDistance, SortTransitTime, SortShippingCost, SortMargin, SortInventoryBalance, SortPriority}
}

// Sort directions.
const (
	Asc  = "asc"  // smaller is better
	Desc = "desc" // larger is better
)

// DefaultDirection is the direction a sort key takes when the policy names none:
// margin and inventory balance prefer larger values, everything else smaller.
func DefaultDirection(key string) string {
	switch key {
	case SortMargin, SortInventoryBalance:
		return Desc
	}
	return Asc
}

// What a rule group does when no single location can fill the order.
const (
	UnfillableSplit     = "split"      // split across the group's locations, best first
	UnfillableNextGroup = "next_group" // try the next matching group
	UnfillableBackorder = "backorder"  // ship what one location can, backorder the rest
	UnfillableReject    = "reject"     // reject the order
)

// UnfillableActions lists the unfillable actions a group may use.
func UnfillableActions() []string {
	return []string{UnfillableSplit, UnfillableNextGroup, UnfillableBackorder, UnfillableReject}
}

// Location kinds.
const (
	LocationStore     = "store"
	LocationWarehouse = "warehouse"
	LocationDropship  = "dropship"
	LocationDarkStore = "dark_store"
)

// LocationKinds lists the location kinds.
func LocationKinds() []string {
	return []string{LocationStore, LocationWarehouse, LocationDropship, LocationDarkStore}
}

// Location capabilities.
const (
	CapabilityShip    = "ship"
	CapabilityPickup  = "pickup"
	CapabilitySameDay = "same_day"
)

// Capabilities lists the location capabilities.
func Capabilities() []string {
	return []string{CapabilityShip, CapabilityPickup, CapabilitySameDay}
}

// Service levels an order may ask for.
const (
	ServiceStandard = "standard"
	ServiceExpress  = "express"
	ServiceSameDay  = "same_day"
)

// ServiceLevels lists the service levels.
func ServiceLevels() []string {
	return []string{ServiceStandard, ServiceExpress, ServiceSameDay}
}

// Sourcing is the sourcing section: global scoring knobs and ordered rule groups.
type Sourcing struct {
	// Fallback is what happens when every matching group passed the order on
	// (backorder or reject); default backorder.
	Fallback string          `json:"fallback" yaml:"fallback"`
	Scoring  Scoring         `json:"scoring" yaml:"scoring"`
	Groups   []SourcingGroup `json:"groups" yaml:"groups"`
}

// Scoring holds the cost and time model shared by all rule groups.
type Scoring struct {
	SplitShipmentPenalty float64 `json:"split_shipment_penalty" yaml:"split_shipment_penalty"`
	ShipmentBaseCost     float64 `json:"shipment_base_cost" yaml:"shipment_base_cost"`
	CostPerKm            float64 `json:"cost_per_km" yaml:"cost_per_km"`
	CostPerKgKm          float64 `json:"cost_per_kg_km" yaml:"cost_per_kg_km"`
	UnitWeightKg         float64 `json:"unit_weight_kg" yaml:"unit_weight_kg"`
	DefaultHandlingCost  float64 `json:"default_handling_cost" yaml:"default_handling_cost"`
	DefaultHandlingHours float64 `json:"default_handling_hours" yaml:"default_handling_hours"`
	// HandlingStart is the local "HH:MM" at which handling starts on the day after a
	// missed cut-off; default "08:00".
	HandlingStart string `json:"handling_start" yaml:"handling_start"`
	// Transit is the speed model per service level; all three levels are required.
	Transit map[string]Transit `json:"transit" yaml:"transit"`
}

// Transit estimates transit days for a service level: MinDays + floor(km / KmPerDay).
type Transit struct {
	KmPerDay float64 `json:"km_per_day" yaml:"km_per_day"`
	MinDays  int     `json:"min_days" yaml:"min_days"`
}

// TransitDays estimates the transit days for km at a service level. An unknown level
// is treated as standard.
func (s Scoring) TransitDays(service string, km float64) int {
	t, ok := s.Transit[service]
	if !ok {
		t = s.Transit[ServiceStandard]
	}
	if t.KmPerDay <= 0 {
		return t.MinDays
	}
	return t.MinDays + int(math.Floor(km/t.KmPerDay))
}

// HandlingStartClock returns HandlingStart as hours and minutes.
func (s Scoring) HandlingStartClock() (hour, minute int) {
	h, m, err := ParseClock(s.HandlingStart)
	if err != nil {
		return 8, 0 // unreachable for a loaded policy: validated at load
	}
	return h, m
}

// ParseClock parses a local "HH:MM" clock time.
func ParseClock(s string) (hour, minute int, err error) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 0, 0, fmt.Errorf("clock time %q: want HH:MM", s)
	}
	return t.Hour(), t.Minute(), nil
}

// SourcingGroup is one ordered rule group: which orders it applies to, which locations
// qualify, how they rank and what to do when none can fill the order alone.
type SourcingGroup struct {
	Name string `json:"name" yaml:"name"`
	// Channels the group applies to; "*" matches every channel.
	Channels []string `json:"channels" yaml:"channels"`
	// ServiceLevels the group applies to; empty means all.
	ServiceLevels []string `json:"service_levels,omitempty" yaml:"service_levels"`
	Filters       []Filter `json:"filters" yaml:"filters"`
	Sorts         []Sort   `json:"sorts" yaml:"sorts"`
	Unfillable    string   `json:"unfillable" yaml:"unfillable"`
	// SplitLines lets one line's quantity come from several locations when splitting.
	SplitLines bool `json:"split_lines" yaml:"split_lines"`
	// MaxShipments caps the shipments of a split plan; 0 means no cap.
	MaxShipments int `json:"max_shipments" yaml:"max_shipments"`
}

// Matches reports whether the group applies to an order on channel at service level.
func (g SourcingGroup) Matches(channel, service string) bool {
	if !slices.Contains(g.Channels, "*") && !slices.Contains(g.Channels, channel) {
		return false
	}
	return len(g.ServiceLevels) == 0 || slices.Contains(g.ServiceLevels, service)
}

// Filter returns the group's filter of kind, if it has one.
func (g SourcingGroup) Filter(kind string) (Filter, bool) {
	for _, f := range g.Filters {
		if f.Kind == kind {
			return f, true
		}
	}
	return Filter{}, false
}

// BrokeringSafetyStock is the number of units per SKU × location the group holds back
// beyond the location's own safety stock.
func (g SourcingGroup) BrokeringSafetyStock() int {
	f, _ := g.Filter(FilterBrokeringSafetyStock)
	return f.Units
}

// AllowsSplit reports whether the group may split an order across locations.
func (g SourcingGroup) AllowsSplit() bool {
	_, whole := g.Filter(FilterAllLinesAvailable)
	return g.Unfillable == UnfillableSplit && !whole
}

// GroupsFor returns the groups that apply to channel and service level, in order.
func (s Sourcing) GroupsFor(channel, service string) []SourcingGroup {
	var out []SourcingGroup
	for _, g := range s.Groups {
		if g.Matches(channel, service) {
			out = append(out, g)
		}
	}
	return out
}

// Group returns the group called name.
func (s Sourcing) Group(name string) (SourcingGroup, bool) {
	for _, g := range s.Groups {
		if g.Name == name {
			return g, true
		}
	}
	return SourcingGroup{}, false
}

// Filter is one requirement of a rule group. In YAML it is a single "kind: value"
// pair, for example "max_distance_km: 500" or "location_kind: [store, warehouse]";
// flag filters may be written bare ("- capacity_left").
type Filter struct {
	Kind string `json:"kind"`
	// Values are the location kinds or capabilities of those filters.
	Values []string `json:"values,omitempty"`
	// Limit is the km or days of the max_* filters.
	Limit float64 `json:"limit,omitempty"`
	// Units is the brokering safety stock.
	Units int `json:"units,omitempty"`

	node ast.Node // the YAML node until check interprets it
}

// UnmarshalYAML keeps the node; check interprets it so problems carry the filter's
// path and line.
func (f *Filter) UnmarshalYAML(node ast.Node) error {
	f.node = node
	return nil
}

// String renders the filter as it is written in YAML.
func (f Filter) String() string {
	switch f.Kind {
	case FilterLocationKind, FilterCapability:
		return fmt.Sprintf("%s: [%s]", f.Kind, strings.Join(f.Values, ", "))
	case FilterMaxDistanceKm, FilterMaxTransitDays:
		return fmt.Sprintf("%s: %g", f.Kind, f.Limit)
	case FilterBrokeringSafetyStock:
		return fmt.Sprintf("%s: %d", f.Kind, f.Units)
	}
	return f.Kind
}

// Sort is one ranking key of a rule group with its direction and weight.
type Sort struct {
	By string `json:"by" yaml:"by"`
	// Direction is asc or desc; empty takes DefaultDirection(By).
	Direction string `json:"direction" yaml:"direction"`
	// Weight scales the key's share of the score; 0 or omitted means 1.
	Weight float64 `json:"weight" yaml:"weight"`
}

func (s *Sourcing) check(c *checker) {
	if s.Fallback == "" {
		s.Fallback = UnfillableBackorder
	}
	c.oneOf("sourcing.fallback", "fallback", s.Fallback, []string{UnfillableBackorder, UnfillableReject})
	s.Scoring.check(c, "sourcing.scoring")
	if len(s.Groups) == 0 {
		c.errorf("sourcing.groups", "at least one rule group is required")
	}
	names := map[string]int{}
	for i := range s.Groups {
		path := fmt.Sprintf("sourcing.groups[%d]", i)
		g := &s.Groups[i]
		g.check(c, path)
		if g.Name == "" {
			continue
		}
		if j, dup := names[g.Name]; dup {
			c.errorf(path+".name", "duplicate group name %q (also sourcing.groups[%d])", g.Name, j)
		}
		names[g.Name] = i
	}
}

func (s *Scoring) check(c *checker, path string) {
	for _, f := range []struct {
		name string
		v    float64
	}{
		{"split_shipment_penalty", s.SplitShipmentPenalty},
		{"shipment_base_cost", s.ShipmentBaseCost},
		{"cost_per_km", s.CostPerKm},
		{"cost_per_kg_km", s.CostPerKgKm},
		{"unit_weight_kg", s.UnitWeightKg},
		{"default_handling_cost", s.DefaultHandlingCost},
		{"default_handling_hours", s.DefaultHandlingHours},
	} {
		c.nonNegative(path+"."+f.name, f.v)
	}
	if s.HandlingStart == "" {
		s.HandlingStart = "08:00"
	}
	if _, _, err := ParseClock(s.HandlingStart); err != nil {
		c.errorf(path+".handling_start", "%v", err)
	}
	for _, level := range sortedKeys(s.Transit) {
		p := path + ".transit." + level
		if c.oneOf(p, "service level", level, ServiceLevels()) {
			t := s.Transit[level]
			if t.KmPerDay <= 0 {
				c.errorf(p+".km_per_day", "must be positive, got %g", t.KmPerDay)
			}
			c.nonNegative(p+".min_days", float64(t.MinDays))
		}
	}
	for _, level := range ServiceLevels() {
		if _, ok := s.Transit[level]; !ok {
			c.errorf(path+".transit", "missing service level %q", level)
		}
	}
}

func (g *SourcingGroup) check(c *checker, path string) {
	if g.Name == "" {
		c.errorf(path+".name", "a rule group needs a name")
	}
	if len(g.Channels) == 0 {
		c.errorf(path+".channels", `at least one channel is required ("*" for all)`)
	}
	for i, ch := range g.Channels {
		if strings.TrimSpace(ch) == "" {
			c.errorf(fmt.Sprintf("%s.channels[%d]", path, i), "empty channel name")
		}
	}
	for i, sl := range g.ServiceLevels {
		c.oneOf(fmt.Sprintf("%s.service_levels[%d]", path, i), "service level", sl, ServiceLevels())
	}
	seen := map[string]bool{}
	for i := range g.Filters {
		p := fmt.Sprintf("%s.filters[%d]", path, i)
		f := &g.Filters[i]
		if !f.parse(c, p) {
			continue
		}
		if seen[f.Kind] {
			c.errorf(p, "filter %q appears twice", f.Kind)
		}
		seen[f.Kind] = true
	}
	seenSort := map[string]bool{}
	for i := range g.Sorts {
		p := fmt.Sprintf("%s.sorts[%d]", path, i)
		s := &g.Sorts[i]
		if !c.oneOf(p+".by", "sort", s.By, SortKeys()) {
			continue
		}
		if seenSort[s.By] {
			c.errorf(p+".by", "sort %q appears twice", s.By)
		}
		seenSort[s.By] = true
		if s.Direction == "" {
			s.Direction = DefaultDirection(s.By)
		}
		c.oneOf(p+".direction", "direction", s.Direction, []string{Asc, Desc})
		c.nonNegative(p+".weight", s.Weight)
		if s.Weight == 0 {
			s.Weight = 1
		}
	}
	if g.Unfillable == "" {
		c.errorf(path+".unfillable", "required (want one of %s)", strings.Join(UnfillableActions(), ", "))
	} else if c.oneOf(path+".unfillable", "unfillable action", g.Unfillable, UnfillableActions()) {
		if seen[FilterAllLinesAvailable] && g.Unfillable == UnfillableSplit {
			c.errorf(path+".unfillable", "split contradicts filter all_lines_available, which forbids splitting")
		}
	}
	c.nonNegative(path+".max_shipments", float64(g.MaxShipments))
}

// parse interprets the filter's YAML node. It reports false when the filter is unusable.
func (f *Filter) parse(c *checker, path string) bool {
	node := f.node
	f.node = nil
	line := nodeLine(node)
	var name string
	var val ast.Node
	switch n := node.(type) {
	case *ast.StringNode:
		name = n.Value
	case *ast.MappingValueNode:
		name, val = n.Key.GetToken().Value, n.Value
	case *ast.MappingNode:
		if len(n.Values) != 1 {
			c.errorAt(line, path, `a filter is one "kind: value" pair, got %d keys`, len(n.Values))
			return false
		}
		name, val = n.Values[0].Key.GetToken().Value, n.Values[0].Value
	default:
		c.errorAt(line, path, `a filter is one "kind: value" pair`)
		return false
	}
	if !slices.Contains(FilterKinds(), name) {
		c.errorAt(line, path, "unknown filter %q (want one of %s)", name, strings.Join(FilterKinds(), ", "))
		return false
	}
	f.Kind = name
	if val != nil && val.Type() == ast.NullType {
		val = nil
	}
	switch name {
	case FilterLocationKind, FilterCapability:
		want := LocationKinds()
		if name == FilterCapability {
			want = Capabilities()
		}
		vals, ok := stringList(val)
		if !ok || len(vals) == 0 {
			c.errorAt(line, path, "%s wants a name or a list of names (from %s)", name, strings.Join(want, ", "))
			return false
		}
		for _, v := range vals {
			if !slices.Contains(want, v) {
				c.errorAt(line, path, "%s: unknown value %q (want one of %s)", name, v, strings.Join(want, ", "))
				return false
			}
		}
		f.Values = vals
	case FilterMaxDistanceKm, FilterMaxTransitDays:
		v, ok := number(val)
		switch {
		case !ok:
			c.errorAt(line, path, "%s wants a number", name)
			return false
		case v < 0:
			c.errorAt(line, path, "%s must not be negative, got %g", name, v)
			return false
		case name == FilterMaxTransitDays && v != math.Trunc(v):
			c.errorAt(line, path, "%s wants whole days, got %g", name, v)
			return false
		}
		f.Limit = v
	case FilterCapacityLeft, FilterAllLinesAvailable:
		if val != nil {
			b, ok := val.(*ast.BoolNode)
			if !ok || !b.Value {
				c.errorAt(line, path, "%s is a flag: write it bare or as %q", name, name+": true")
				return false
			}
		}
	case FilterBrokeringSafetyStock:
		v, ok := number(val)
		switch {
		case !ok || v != math.Trunc(v):
			c.errorAt(line, path, "%s wants a whole number of units", name)
			return false
		case v < 0:
			c.errorAt(line, path, "%s must not be negative, got %g", name, v)
			return false
		}
		f.Units = int(v)
	}
	return true
}

// stringList reads a scalar string or a sequence of strings.
func stringList(n ast.Node) ([]string, bool) {
	switch n := n.(type) {
	case *ast.StringNode:
		return []string{n.Value}, true
	case *ast.SequenceNode:
		out := make([]string, 0, len(n.Values))
		for _, v := range n.Values {
			s, ok := v.(*ast.StringNode)
			if !ok {
				return nil, false
			}
			out = append(out, s.Value)
		}
		return out, true
	}
	return nil, false
}

// number reads an integer or float scalar.
func number(n ast.Node) (float64, bool) {
	switch n := n.(type) {
	case *ast.IntegerNode:
		switch v := n.Value.(type) {
		case int64:
			return float64(v), true
		case uint64:
			return float64(v), true
		}
	case *ast.FloatNode:
		return n.Value, true
	}
	return 0, false
}
