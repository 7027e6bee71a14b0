package main

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/omnitriage/omnitriage/triage"
)

// The example Grafana dashboard and Prometheus rules under docs/monitoring
// may only use metrics the service exports, so they cannot rot.

const (
	grafanaFile = "../../docs/monitoring/grafana-dashboard.json"
	rulesFile   = "../../docs/monitoring/prometheus-rules.yml"
)

var metricName = regexp.MustCompile(`\b(omnitriage|go|process)_[a-z0-9_]+\b`)

// exportedMetrics is every series name the running service answers at
// /metrics, with the process figures' names (a figure with no rows yet,
// orders in a state on an empty database, say, has no series to scrape).
func exportedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	ts := startServer(t, nil)
	do(t, "GET", ts.url+"/healthz", "", nil) // so the request counters have a series
	_, body := do(t, "GET", ts.url+"/metrics", "", nil)
	names := map[string]bool{}
	for _, line := range strings.Split(string(body), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, _, _ := strings.Cut(line, "{")
		name, _, _ = strings.Cut(name, " ")
		names[name] = true
	}
	if !names["omnitriage_process_up"] || !names["omnitriage_automation_ratio"] {
		t.Fatalf("/metrics lacks the process figures:\n%s", body)
	}
	for _, n := range triage.ProcessMetricNames() {
		names[n] = true
	}
	return names
}

// unknownMetrics lists the metric names expr uses that are not exported.
func unknownMetrics(expr string, exported map[string]bool) []string {
	var out []string
	for _, n := range metricName.FindAllString(expr, -1) {
		if !exported[n] && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// balanced reports whether expr's brackets pair up.
func balanced(expr string) bool {
	var stack []rune
	pairs := map[rune]rune{')': '(', ']': '[', '}': '{'}
	inQuote := false
	for _, r := range expr {
		switch {
		case r == '"':
			inQuote = !inQuote
		case inQuote:
		case r == '(' || r == '[' || r == '{':
			stack = append(stack, r)
		case pairs[r] != 0:
			if len(stack) == 0 || stack[len(stack)-1] != pairs[r] {
				return false
			}
			stack = stack[:len(stack)-1]
		}
	}
	return len(stack) == 0 && !inQuote
}

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Record      string            `yaml:"record"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func TestMonitoringFiles(t *testing.T) {
	t.Parallel()
	exported := exportedMetrics(t)
	if got := unknownMetrics(`rate(omnitriage_no_such_metric_total[5m]) / omnitriage_automation_ratio`, exported); !slices.Equal(got, []string{"omnitriage_no_such_metric_total"}) {
		t.Fatalf("unknownMetrics finds %v, want the made-up name", got)
	}

	t.Run("grafana", func(t *testing.T) {
		raw, err := os.ReadFile(grafanaFile)
		if err != nil {
			t.Fatal(err)
		}
		var dash struct {
			Title      string `json:"title"`
			UID        string `json:"uid"`
			Templating struct {
				List []struct {
					Name       string `json:"name"`
					Definition string `json:"definition"`
				} `json:"list"`
			} `json:"templating"`
			Panels []struct {
				Title   string `json:"title"`
				Type    string `json:"type"`
				Targets []struct {
					Expr string `json:"expr"`
				} `json:"targets"`
			} `json:"panels"`
		}
		if err := json.Unmarshal(raw, &dash); err != nil {
			t.Fatalf("%s: %v", grafanaFile, err)
		}
		if dash.Title == "" || dash.UID == "" {
			t.Errorf("dashboard has no title or uid")
		}
		used := map[string]bool{}
		charts := 0
		for _, p := range dash.Panels {
			if p.Type == "row" {
				continue
			}
			charts++
			if len(p.Targets) == 0 {
				t.Errorf("panel %q has no query", p.Title)
			}
			for _, tg := range p.Targets {
				if strings.TrimSpace(tg.Expr) == "" || !balanced(tg.Expr) {
					t.Errorf("panel %q: query %q is empty or unbalanced", p.Title, tg.Expr)
				}
				if bad := unknownMetrics(tg.Expr, exported); len(bad) > 0 {
					t.Errorf("panel %q uses %v, which the service does not export", p.Title, bad)
				}
				for _, n := range metricName.FindAllString(tg.Expr, -1) {
					used[n] = true
				}
			}
		}
		for _, v := range dash.Templating.List {
			if bad := unknownMetrics(v.Definition, exported); len(bad) > 0 {
				t.Errorf("variable %s uses %v, which the service does not export", v.Name, bad)
			}
		}
		// Every process figure has a chart.
		for _, fig := range []string{"omnitriage_order_cycle_time_hours_bucket", "omnitriage_allocation_orders_total",
			"omnitriage_exceptions_total", "omnitriage_refund_time_hours_bucket", "omnitriage_integration_failures_total",
			"omnitriage_manual_touch_ratio", "omnitriage_erp_posting_lag_seconds_bucket", "omnitriage_automation_ratio",
			"omnitriage_review_time_seconds_bucket", "omnitriage_orders_in_state"} {
			if !used[fig] {
				t.Errorf("no panel charts %s", fig)
			}
		}
		if charts < 10 {
			t.Errorf("dashboard has %d charts, want one per figure", charts)
		}
	})

	t.Run("rules", func(t *testing.T) {
		raw, err := os.ReadFile(rulesFile)
		if err != nil {
			t.Fatal(err)
		}
		var rf ruleFile
		if err := yaml.UnmarshalWithOptions(raw, &rf, yaml.Strict()); err != nil {
			t.Fatalf("%s: %v", rulesFile, err)
		}
		if len(rf.Groups) == 0 {
			t.Fatal("no rule groups")
		}
		n := 0
		for _, g := range rf.Groups {
			if g.Name == "" || len(g.Rules) == 0 {
				t.Errorf("group %q has no name or no rules", g.Name)
			}
			for _, r := range g.Rules {
				n++
				name := r.Alert + r.Record
				if (r.Alert == "") == (r.Record == "") {
					t.Errorf("rule %q: want exactly one of alert and record", name)
				}
				if strings.TrimSpace(r.Expr) == "" || !balanced(r.Expr) {
					t.Errorf("rule %s: expr %q is empty or unbalanced", name, r.Expr)
				}
				if bad := unknownMetrics(r.Expr, exported); len(bad) > 0 {
					t.Errorf("rule %s uses %v, which the service does not export", name, bad)
				}
				if r.Alert == "" {
					continue
				}
				if d, err := time.ParseDuration(r.For); err != nil || d <= 0 {
					t.Errorf("alert %s: for %q is not a positive duration", name, r.For)
				}
				if r.Labels["severity"] == "" || r.Annotations["summary"] == "" {
					t.Errorf("alert %s: want labels.severity and annotations.summary", name)
				}
				for k, v := range r.Annotations {
					if !balanced(v) {
						t.Errorf("alert %s: annotation %s %q has unbalanced templates", name, k, v)
					}
				}
			}
		}
		if n == 0 {
			t.Error("no rules")
		}
	})
}
