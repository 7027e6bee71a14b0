package cluster

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/omnitriage/omnitriage/models"
)

// messages builds messages of one key from texts, with local-embedder
// vectors of the masked text, as the job embeds them.
func messages(t *testing.T, texts ...string) []Message {
	t.Helper()
	masked := make([]string, len(texts))
	for i, s := range texts {
		masked[i] = models.Mask(s)
	}
	vecs, err := models.NewLocalEmbedder(0).Embed(context.Background(), masked)
	if err != nil {
		t.Fatal(err)
	}
	msgs := make([]Message, len(texts))
	for i, s := range texts {
		msgs[i] = Message{Key: Key{Kind: "carrier_delay"}, Text: s, Vector: vecs[i]}
	}
	return msgs
}

func groupCount(groups []Group) int { return len(groups) }

func TestRunVariablesDoNotSplit(t *testing.T) {
	tests := []struct {
		name  string
		texts []string
	}{
		{"order numbers", []string{"order 732201349959 not found", "order 10023 not found", "order A-99812 not found"}},
		{"uuids", []string{"reservation 0e6b3c2a-5d1f-4b7e-9a0c-8f2d1e3c4b5a expired", "reservation 9a8b7c6d-1e2f-4a3b-8c9d-0e1f2a3b4c5d expired"}},
		{"skus", []string{"stockout of SKU-1234 at store 12", "stockout of SKU-99 at store 7", "stockout of TSHIRT-RED-42 at store 301"}},
		{"amounts", []string{"refund of $12.50 exceeds limit", "refund of $1,299.00 exceeds limit", "refund of 7.5 exceeds limit"}},
		{"numbers and times", []string{"carrier api timeout after 30s (attempt 3)", "carrier api timeout after 120s (attempt 1)", "carrier api timeout after 5s (attempt 12)"}},
		{"many names", []string{"user alice locked out", "user bob locked out", "user carol locked out", "user dave locked out", "user erin locked out"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			groups := Run(messages(t, tt.texts...), DefaultConfig())
			if len(groups) != 1 {
				var tmpl []string
				for _, g := range groups {
					tmpl = append(tmpl, g.TemplateString())
				}
				t.Errorf("Run(%q) = %d groups %q, want 1", tt.texts, len(groups), tmpl)
			}
		})
	}
}

func TestRunMeaningfulWordsSplit(t *testing.T) {
	tests := []struct {
		name  string
		texts []string
		want  int
	}{
		{"timeout against paused", []string{"carrier api timeout", "carrier api paused", "carrier api timeout", "carrier api paused"}, 2},
		{"with ids", []string{"carrier api timeout for shipment 123", "carrier api paused for shipment 456", "carrier api timeout for shipment 789", "carrier api paused for shipment 1011"}, 2},
		{"four frequent states", func() []string {
			var out []string
			for i := range 20 {
				for _, s := range []string{"started", "paused", "resumed", "stopped"} {
					out = append(out, fmt.Sprintf("vm %s for instance i-%d", s, 1000+i))
				}
			}
			return out
		}(), 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := groupCount(Run(messages(t, tt.texts...), DefaultConfig())); got != tt.want {
				t.Errorf("Run(%q) = %d groups, want %d", tt.texts[:4], got, tt.want)
			}
		})
	}
}

func TestRunKeySeparates(t *testing.T) {
	msgs := messages(t, "integration timeout", "integration timeout", "integration timeout")
	msgs[1].Key.System = "erp"
	msgs[2].Key.Code = "E42"
	if got := len(Run(msgs, DefaultConfig())); got != 3 {
		t.Errorf("Run(one text, three keys) = %d groups, want 3", got)
	}
}

func TestRunMergesParaphrases(t *testing.T) {
	// Two wordings of one cause, each with its own template; their
	// vectors are alike, so they merge. A third, unrelated cause stays.
	msgs := messages(t,
		"payment gateway connection refused by upstream host", "payment gateway connection refused by upstream host",
		"payment gateway connection refused by the upstream host", "payment gateway connection refused by the upstream host",
		"address validation failed: postcode missing", "address validation failed: postcode missing")
	groups := Run(msgs, DefaultConfig())
	if len(groups) != 2 {
		t.Fatalf("Run = %d groups, want 2", len(groups))
	}
	if !slices.Equal(groups[0].Members, []int{0, 1, 2, 3}) {
		t.Errorf("Run: first group = %v, want [0 1 2 3]", groups[0].Members)
	}
}

func TestTokens(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"Order 123 FAILED: timeout", []string{"order", Wildcard, "failed", "timeout"}},
		{"via interface eth0", []string{"via", "interface", "eth0"}},
		{"GET /v1/orders/42 HTTP/1.1", []string{"get", Wildcard, Wildcard}},
		{"Fan speeds ( 3552 **** )", []string{"fan", "speeds", Wildcard, "****"}},
		{"node-148 up", []string{Wildcard, "up"}},
	}
	for _, tt := range tests {
		if got := Tokens(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("Tokens(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestEvaluate(t *testing.T) {
	tests := []struct {
		name    string
		pred    []int
		truth   []string
		wantGA  float64
		wantFGA float64
		found   int
	}{
		{"perfect", []int{0, 0, 1}, []string{"a", "a", "b"}, 1, 1, 2},
		{"over-merged", []int{0, 0, 0}, []string{"a", "a", "b"}, 0, 0, 1},
		// a is split in two: only b (1 of 4 messages) is exact; 1 of 3
		// predicted and 1 of 2 true groups match: F1 = 2*(1/3)(1/2)/(5/6) = 0.4.
		{"split", []int{0, 1, 2, 0}, []string{"a", "a", "b", "a"}, 0.25, 0.4, 3},
		{"labels are names only", []int{7, 7, 3, 3}, []string{"x", "x", "y", "y"}, 1, 1, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Evaluate(tt.pred, tt.truth)
			if err != nil {
				t.Fatal(err)
			}
			if !near(s.GA, tt.wantGA) || !near(s.FGA, tt.wantFGA) || s.Found != tt.found {
				t.Errorf("Evaluate(%v, %q) = GA %v FGA %v found %d, want %v %v %d", tt.pred, tt.truth, s.GA, s.FGA, s.Found, tt.wantGA, tt.wantFGA, tt.found)
			}
		})
	}
	if _, err := Evaluate([]int{1}, nil); err == nil {
		t.Error("Evaluate(1 prediction, 0 labels) = nil error, want one")
	}
}

func near(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }

func TestRunSimilarityNeverMergesDifferentWords(t *testing.T) {
	// Even with identical vectors (an embedder blind to the difference),
	// templates that differ only in a word stay apart.
	msgs := messages(t, "carrier api timeout", "carrier api paused")
	msgs[1].Vector = msgs[0].Vector
	if got := len(Run(msgs, DefaultConfig())); got != 2 {
		t.Errorf("Run(timeout, paused with one vector) = %d groups, want 2", got)
	}
}
