package cluster

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
)

func TestAssign(t *testing.T) {
	msgs := messages(t,
		"carrier api timeout for shipment 1", "carrier api timeout for shipment 2",
		"carrier api paused for shipment 3", "carrier api paused for shipment 4")
	groups := Run(msgs, DefaultConfig())
	a := NewAssigner(groups, DefaultConfig().MergeSimilarity)
	tests := []struct {
		text string
		want string // template of the group, "" for none
	}{
		{"carrier api timeout for shipment 99812", "carrier api timeout for shipment <*>"},
		{"Carrier API paused for shipment SKU-12", "carrier api paused for shipment <*>"},
		{"carrier api refused for shipment 5", ""},
	}
	for _, tt := range tests {
		m := messages(t, tt.text)[0]
		got := ""
		if i := a.Assign(m); i >= 0 {
			got = groups[i].TemplateString()
		}
		if got != tt.want {
			t.Errorf("Assign(%q) = %q, want %q", tt.text, got, tt.want)
		}
	}
}

// syntheticExceptions makes n exception messages from a few hundred causes,
// each with ids, SKUs, amounts and numbers that vary, spread over kinds,
// codes and systems, as the clustering job sees them.
func syntheticExceptions(n int) []Message {
	r := rand.New(rand.NewPCG(1, 2))
	verbs := []string{"timeout", "paused", "refused", "rejected", "throttled", "unavailable", "expired", "declined"}
	objects := []string{"carrier api", "payment gateway", "erp posting", "tax service", "fraud screen", "label printer", "stock feed", "address check"}
	kinds := []string{"carrier_delay", "payment_declined", "erp_rejected", "integration_timeout", "stockout"}
	out := make([]Message, n)
	for i := range out {
		c := r.IntN(320)
		obj, verb := objects[c%len(objects)], verbs[(c/len(objects))%len(verbs)]
		text := fmt.Sprintf("%s %s for order %d sku SKU-%d amount $%d.%02d after %dms (attempt %d) variant%d",
			obj, verb, 100000+r.IntN(900000), r.IntN(5000), r.IntN(500), r.IntN(100), r.IntN(30000), 1+r.IntN(5), c/64)
		out[i] = Message{Key: Key{Kind: kinds[c%len(kinds)], System: obj}, Text: text}
	}
	return out
}

// BenchmarkRunFull clusters 100,000 exceptions in one full run; it reports
// the groups found and the megabytes the run allocated, an upper bound on
// its peak heap.
func BenchmarkRunFull(b *testing.B) {
	msgs := syntheticExceptions(100_000)
	var groups []Group
	var alloc uint64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		groups = Run(msgs, DefaultConfig())
		runtime.ReadMemStats(&after)
		alloc = max(alloc, after.TotalAlloc-before.TotalAlloc)
	}
	b.ReportMetric(float64(len(groups)), "groups")
	b.ReportMetric(float64(alloc)/(1<<20), "MB-allocated")
}

// BenchmarkAssign places one new exception in the clusters of 100,000.
func BenchmarkAssign(b *testing.B) {
	msgs := syntheticExceptions(100_000)
	a := NewAssigner(Run(msgs, DefaultConfig()), DefaultConfig().MergeSimilarity)
	fresh := syntheticExceptions(1000)
	i := 0
	for b.Loop() {
		a.Assign(fresh[i%len(fresh)])
		i++
	}
}
