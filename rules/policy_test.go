package rules

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func readValid(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "valid.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// mutate replaces the single occurrence of old in doc.
func mutate(t *testing.T, doc, old, repl string) string {
	t.Helper()
	if n := strings.Count(doc, old); n != 1 {
		t.Fatalf("mutate: %q occurs %d times in the fixture, want 1", old, n)
	}
	return strings.Replace(doc, old, repl, 1)
}

// lineOf is the 1-based line on which sub starts in doc.
func lineOf(t *testing.T, doc, sub string) int {
	t.Helper()
	i := strings.Index(doc, sub)
	if i < 0 {
		t.Fatalf("lineOf: %q not in document", sub)
	}
	return strings.Count(doc[:i], "\n") + 1
}

func TestDefaultLoads(t *testing.T) {
	p, err := Default()
	if err != nil {
		t.Fatalf("Default() error: %v", err)
	}
	if !regexp.MustCompile(`^p-[0-9a-f]{12}$`).MatchString(p.Version) {
		t.Errorf("Default().Version = %q, want p-<12 hex>", p.Version)
	}
	if p.Name != DefaultName {
		t.Errorf("Default().Name = %q, want %q", p.Name, DefaultName)
	}
	tests := []struct {
		channel, service string
		want             []string
	}{
		{"web", ServiceStandard, []string{"ship-from-nearby", "network"}},
		{"web", ServiceSameDay, []string{"same-day-nearby", "ship-from-nearby", "network"}},
		{"marketplace", ServiceExpress, []string{"marketplace-complete", "network"}},
		{"kiosk", ServiceStandard, []string{"network"}},
	}
	for _, tt := range tests {
		var got []string
		for _, g := range p.Sourcing.GroupsFor(tt.channel, tt.service) {
			got = append(got, g.Name)
		}
		if strings.Join(got, ",") != strings.Join(tt.want, ",") {
			t.Errorf("GroupsFor(%q, %q) = %v, want %v", tt.channel, tt.service, got, tt.want)
		}
	}
}

func TestLoadFile(t *testing.T) {
	p, err := LoadFile(filepath.Join("testdata", "valid.yaml"))
	if err != nil {
		t.Fatalf("LoadFile(valid.yaml) error: %v", err)
	}
	g, ok := p.Sourcing.Group("network")
	if !ok {
		t.Fatal(`Group("network") not found`)
	}
	if got, want := g.BrokeringSafetyStock(), 1; got != want {
		t.Errorf("BrokeringSafetyStock() = %d, want %d", got, want)
	}
	if !g.AllowsSplit() {
		t.Errorf("AllowsSplit() = false, want true")
	}
	if got, want := g.Sorts[1].Direction, Asc; got != want {
		t.Errorf("default direction of priority = %q, want %q", got, want)
	}
	if got, want := p.Sourcing.Groups[0].Sorts[0].Weight, 2.0; got != want {
		t.Errorf("weight = %g, want %g", got, want)
	}
	if got, want := g.Sorts[0].Weight, 1.0; got != want {
		t.Errorf("omitted weight = %g, want %g", got, want)
	}

	_, err = LoadFile(filepath.Join("testdata", "missing.yaml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LoadFile(missing.yaml) error = %v, want os.ErrNotExist", err)
	}
}

func TestLoadErrors(t *testing.T) {
	base := readValid(t)
	tests := []struct {
		name      string
		old, repl string
		at        string // the line the problem must name is the line this text starts on
		wantPath  string
		wantMsg   string
	}{
		{"unknown top-level field", "limits:\n", "limit:\n  x: 1\nlimits:\n", "limit:", "limit", `unknown field "limit"`},
		{"unknown nested field", "  fallback: backorder\n", "  fallback: backorder\n  fallbak: reject\n", "fallbak", "sourcing.fallbak", `unknown field "fallbak"`},
		{"unknown sort field", "{by: priority}", "{by: priority, wieght: 2}", "{by: priority, wieght", "sourcing.groups[1].sorts[1].wieght", `unknown field "wieght"`},
		{"unknown filter", "- capacity_left: true", "- distnace: 5", "- distnace", "sourcing.groups[1].filters[1]", `unknown filter "distnace" (want one of location_kind, capability, max_distance_km, max_transit_days, capacity_left, all_lines_available, brokering_safety_stock)`},
		{"unknown location kind", "location_kind: [store]", "location_kind: [shop]", "location_kind: [shop]", "sourcing.groups[0].filters[0]", `location_kind: unknown value "shop"`},
		{"unknown capability", "capability: ship", "capability: teleport", "capability: teleport", "sourcing.groups[1].filters[0]", `capability: unknown value "teleport"`},
		{"filter with two keys", "- max_distance_km: 300", "- {max_distance_km: 300, capacity_left: true}", "- {max_distance_km", "sourcing.groups[0].filters[1]", "got 2 keys"},
		{"duplicate filter", "- max_distance_km: 300", "- max_distance_km: 300\n        - max_distance_km: 200", "- max_distance_km: 200", "sourcing.groups[0].filters[2]", `filter "max_distance_km" appears twice`},
		{"flag filter false", "capacity_left: true", "capacity_left: false", "capacity_left: false", "sourcing.groups[1].filters[1]", "is a flag"},
		{"negative distance", "max_distance_km: 300", "max_distance_km: -3", "max_distance_km: -3", "sourcing.groups[0].filters[1]", "must not be negative, got -3"},
		{"fractional transit days", "max_distance_km: 300", "max_transit_days: 1.5", "max_transit_days", "sourcing.groups[0].filters[1]", "whole days"},
		{"negative brokering stock", "brokering_safety_stock: 1", "brokering_safety_stock: -1", "brokering_safety_stock", "sourcing.groups[1].filters[2]", "must not be negative"},
		{"negative penalty", "split_shipment_penalty: 5", "split_shipment_penalty: -5", "split_shipment_penalty", "sourcing.scoring.split_shipment_penalty", "must not be negative, got -5"},
		{"negative sort weight", "{by: distance, weight: 2}", "{by: distance, weight: -2}", "{by: distance, weight: -2}", "sourcing.groups[0].sorts[0].weight", "must not be negative"},
		{"non-numeric penalty", "split_shipment_penalty: 5", "split_shipment_penalty: lots", "split_shipment_penalty", "sourcing.scoring.split_shipment_penalty", "want a number, got a string"},
		{"unknown sort", "{by: priority}", "{by: priorty}", "{by: priorty}", "sourcing.groups[1].sorts[1].by", `unknown sort "priorty" (want one of distance, transit_time, shipping_cost, margin, inventory_balance, priority)`},
		{"duplicate sort", "{by: priority}", "{by: shipping_cost}", "{by: shipping_cost}", "sourcing.groups[1].sorts[1].by", `sort "shipping_cost" appears twice`},
		{"bad direction", "direction: asc", "direction: up", "direction: up", "sourcing.groups[1].sorts[0].direction", `unknown direction "up"`},
		{"unknown unfillable", "unfillable: split", "unfillable: spilt", "unfillable: spilt", "sourcing.groups[1].unfillable", `unknown unfillable action "spilt"`},
		{"split forbidden by all_lines_available", "- capacity_left: true", "- all_lines_available", "unfillable: split", "sourcing.groups[1].unfillable", "split contradicts filter all_lines_available"},
		{"missing unfillable", "      unfillable: next_group\n", "", "- name: stores", "sourcing.groups[0].unfillable", "required"},
		{"duplicate group", "- name: network", "- name: stores", "- name: stores\n      channels: [\"*\"]", "sourcing.groups[1].name", `duplicate group name "stores"`},
		{"no channels", "channels: [web, mobile]", "channels: []", "channels: []", "sourcing.groups[0].channels", "at least one channel"},
		{"bad service level", "channels: [web, mobile]", "channels: [web]\n      service_levels: [overnight]", "service_levels", "sourcing.groups[0].service_levels[0]", `unknown service level "overnight"`},
		{"bad handling start", `handling_start: "08:00"`, `handling_start: "25:00"`, "handling_start", "sourcing.scoring.handling_start", "want HH:MM"},
		{"zero km per day", "standard: {km_per_day: 500", "standard: {km_per_day: 0", "standard: {km_per_day: 0", "sourcing.scoring.transit.standard.km_per_day", "must be positive"},
		{"bad fallback", "fallback: backorder", "fallback: next_group", "fallback: next_group", "sourcing.fallback", `unknown fallback "next_group"`},
		{"bad expression", "require: order_value <= 1000", "require: order_valeu <= 1000", "require: order_valeu", "decision.guards[0].require", "invalid expression: unknown name order_valeu"},
		{"non-bool expression", "require: order_value <= 1000", "require: order_value + 1", "require: order_value + 1", "decision.guards[0].require", "invalid expression: expected bool"},
		{"empty expression", "require: order_value <= 1000", `require: ""`, `require: ""`, "decision.guards[0].require", "needs a require expression"},
		{"bad guard name", "name: value_cap", "name: Value Cap", "name: Value Cap", "decision.guards[0].name", "not a lower_snake_case name"},
		{"guard on unknown action", "actions: [refund]", "actions: [refnd]", "actions: [refnd]", "decision.guards[1].actions[0]", `unknown action "refnd"`},
		{"action threshold above 1", "reroute: 0.75", "reroute: 1.5", "reroute: 1.5", "decision.actions.reroute", "1.5 is out of range [0, 1]"},
		{"cause threshold below 0", "carrier_delay: 0.6", "carrier_delay: -0.1", "carrier_delay: -0.1", "decision.causes.carrier_delay", "-0.1 is out of range [0, 1]"},
		{"default threshold missing", "  default_threshold: 0.8\n", "", "decision:", "decision.default_threshold", "must be set and in (0, 1]"},
		{"unknown action threshold", "notify: 0.5", "notfy: 0.5", "notfy: 0.5", "decision.actions.notfy", `unknown action "notfy"`},
		{"unknown never-auto action", "never_auto: [cancel_lines]", "never_auto: [cancel_line]", "never_auto", "decision.never_auto[0]", `unknown action "cancel_line"`},
		{"fraud bands inverted", "review_high: 0.7", "review_high: 0.2", "fraud:", "limits.fraud.review_high", "review_high 0.2 is below review_low 0.3"},
		{"fraud out of range", "cancel_at: 0.9", "cancel_at: 1.2", "fraud:", "limits.fraud.cancel_at", "1.2 is out of range [0, 1]"},
		{"bad currency", "currency: EUR", "currency: euro", "currency: euro", "limits.currency", "not an ISO 4217 code"},
		{"negative refund limit", "auto_approve_max: 100", "auto_approve_max: -100", "refund:", "limits.refund.auto_approve_max", "must not be negative"},
		{"stale limit too short", "stale_inventory_after: 24h", "stale_inventory_after: 30s", "stale_inventory_after", "limits.stale_inventory_after", "must be at least 1m, got 30s"},
		{"negative pickup limit", "pickup_collect_within: 72h", "pickup_collect_within: -72h", "pickup_collect_within", "limits.pickup_collect_within", "must be at least 1m, got -72h0m0s"},
		{"pickup limit not a duration", "pickup_collect_within: 72h", "pickup_collect_within: 72", "pickup_collect_within", "limits.pickup_collect_within", "want a duration such as 24h or 90m"},
		{"tier above order max", "gold: 30", "gold: 60", "per_tier", "limits.compensation.per_tier.gold", "60 exceeds max_per_order 40"},
		{"negative sla", "triage_within_seconds: 30", "triage_within_seconds: -1", "triage_within_seconds", "sla.triage_within_seconds", "must be positive, got -1"},
		{"unknown severity", "{critical: 15,", "{urgent: 5, critical: 15,", "review_first_response_minutes", "sla.review_first_response_minutes.urgent", `unknown severity "urgent"`},
		{"duplicate key", "  triage_within_seconds: 30\n", "  triage_within_seconds: 30\n  triage_within_seconds: 40\n", "triage_within_seconds: 40", "", `mapping key "triage_within_seconds" already defined`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := mutate(t, base, tt.old, tt.repl)
			wantLine := lineOf(t, doc, tt.at)
			_, err := Load("policy.yaml", []byte(doc))
			var le *LoadError
			if !errors.As(err, &le) {
				t.Fatalf("Load() error = %v, want *LoadError", err)
			}
			if len(le.Problems) != 1 {
				t.Fatalf("Load() problems = %d, want 1:\n%v", len(le.Problems), err)
			}
			got := le.Problems[0]
			if got.Line != wantLine || got.Path != tt.wantPath || !strings.Contains(got.Msg, tt.wantMsg) {
				t.Errorf("Load() = %q, want line %d, path %q, message containing %q", got.String(), wantLine, tt.wantPath, tt.wantMsg)
			}
			prefix := "policy.yaml:" + strconv.Itoa(wantLine) + ": "
			if !strings.HasPrefix(err.Error(), prefix) {
				t.Errorf("Load().Error() = %q, want prefix %q", err.Error(), prefix)
			}
		})
	}
}

func TestLoadErrorFormat(t *testing.T) {
	doc := mutate(t, readValid(t), "- capacity_left: true", "- distnace: 5")
	line := lineOf(t, doc, "- distnace")
	_, err := Load("policy.yaml", []byte(doc))
	want := "policy.yaml:" + strconv.Itoa(line) + `: sourcing.groups[1].filters[1]: unknown filter "distnace" (want one of location_kind, capability, max_distance_km, max_transit_days, capacity_left, all_lines_available, brokering_safety_stock)`
	if err == nil || err.Error() != want {
		t.Errorf("Load() error = %v, want %s", err, want)
	}
}

func TestLoadReportsEveryProblem(t *testing.T) {
	doc := readValid(t)
	doc = mutate(t, doc, "reroute: 0.75", "reroute: 7.5")
	doc = mutate(t, doc, "max_distance_km: 300", "max_distance_km: -1")
	doc = mutate(t, doc, "currency: EUR", "currency: eur")
	_, err := Load("policy.yaml", []byte(doc))
	var le *LoadError
	if !errors.As(err, &le) {
		t.Fatalf("Load() error = %v, want *LoadError", err)
	}
	var lines []int
	for _, p := range le.Problems {
		lines = append(lines, p.Line)
	}
	want := []int{lineOf(t, doc, "max_distance_km: -1"), lineOf(t, doc, "reroute: 7.5"), lineOf(t, doc, "currency: eur")}
	if len(lines) != len(want) || lines[0] != want[0] || lines[1] != want[1] || lines[2] != want[2] {
		t.Errorf("Load() problem lines = %v, want %v", lines, want)
	}
}

func TestLoadSyntaxAndEmpty(t *testing.T) {
	tests := []struct {
		name, doc string
		wantLine  int
		wantMsg   string
	}{
		{"empty", "", 0, "want exactly one YAML document"},
		{"two documents", "sourcing: {}\n---\nsla: {}\n", 0, "want exactly one YAML document, got 2"},
		{"bad indentation", "sourcing:\n  fallback: x\n bad: [\n", 3, ""},
	}
	for _, tt := range tests {
		_, err := Load("p.yaml", []byte(tt.doc))
		var le *LoadError
		if !errors.As(err, &le) || len(le.Problems) != 1 {
			t.Errorf("Load(%s) error = %v, want one problem", tt.name, err)
			continue
		}
		got := le.Problems[0]
		if got.Line != tt.wantLine || !strings.Contains(got.Msg, tt.wantMsg) {
			t.Errorf("Load(%s) = %q, want line %d and %q", tt.name, got.String(), tt.wantLine, tt.wantMsg)
		}
	}
}

func TestVersion(t *testing.T) {
	base := readValid(t)
	p1, err := Load("a.yaml", []byte(base))
	if err != nil {
		t.Fatal(err)
	}
	p2, err := Load("b.yaml", []byte(base))
	if err != nil {
		t.Fatal(err)
	}
	d1, _ := Default()
	d2, _ := Default()

	// Same content, different comments, quoting and layout.
	relaid := "# reformatted copy\n\n" + base
	relaid = mutate(t, relaid, `channels: ["*"]`, "channels:\n        - '*'")
	relaid = mutate(t, relaid, "{by: priority}", "by: priority # trailing comment")
	relaid = mutate(t, relaid, "refund: {auto_approve_max: 100}", "refund:\n    auto_approve_max: 100.0")
	p3, err := Load("c.yaml", []byte(relaid))
	if err != nil {
		t.Fatal(err)
	}
	// Omitted defaults equal explicit defaults.
	p4, err := Load("d.yaml", []byte(mutate(t, base, `    handling_start: "08:00"`+"\n", "")))
	if err != nil {
		t.Fatal(err)
	}

	// Omitted limits take their defaults (24h, 72h in the fixture).
	p5, err := Load("e.yaml", []byte(mutate(t, mutate(t, base, "  stale_inventory_after: 24h\n", ""), "  pickup_collect_within: 72h\n", "")))
	if err != nil {
		t.Fatal(err)
	}
	if p5.Limits.StaleInventoryAfter != DefaultStaleInventoryAfter || p5.Limits.PickupCollectWithin != DefaultPickupCollectWithin {
		t.Errorf("omitted limits = %s, %s; want %s, %s", p5.Limits.StaleInventoryAfter, p5.Limits.PickupCollectWithin,
			DefaultStaleInventoryAfter, DefaultPickupCollectWithin)
	}

	changed := []string{
		mutate(t, base, "reroute: 0.75", "reroute: 0.76"),
		mutate(t, base, "max_distance_km: 300", "max_distance_km: 301"),
		mutate(t, base, "require: order_value <= 1000", "require: order_value <= 1001"),
		mutate(t, base, "split_lines: true", "split_lines: false"),
		mutate(t, base, "ship_within_hours: 24", "ship_within_hours: 25"),
		mutate(t, base, "pickup_collect_within: 72h", "pickup_collect_within: 48h"),
	}

	tests := []struct {
		name       string
		got, other string
		wantEqual  bool
	}{
		{"same bytes", p1.Version, p2.Version, true},
		{"default twice", d1.Version, d2.Version, true},
		{"reformatted", p1.Version, p3.Version, true},
		{"explicit default", p1.Version, p4.Version, true},
		{"omitted limits", p1.Version, p5.Version, true},
		{"different policy", p1.Version, d1.Version, false},
	}
	for i, doc := range changed {
		p, err := Load("x.yaml", []byte(doc))
		if err != nil {
			t.Fatalf("changed[%d]: %v", i, err)
		}
		tests = append(tests, struct {
			name       string
			got, other string
			wantEqual  bool
		}{"changed " + strconv.Itoa(i), p.Version, p1.Version, false})
	}
	for _, tt := range tests {
		if (tt.got == tt.other) != tt.wantEqual {
			t.Errorf("%s: Version = %s vs %s, want equal %v", tt.name, tt.got, tt.other, tt.wantEqual)
		}
	}
}
