// Package metricstest reads a Prometheus registry in tests as a flat map,
// so a test compares figures by name and labels.
package metricstest

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Scrape gathers g and returns each sample by its name and sorted labels,
// name{a=x,b=y}: a gauge or counter by its value, a histogram as
// name_count, name_sum and each bucket as name_bucket{…,le=…}.
func Scrape(t testing.TB, g prometheus.Gatherer) map[string]float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	out := map[string]float64{}
	key := func(name string, lp []*dto.LabelPair, extra ...string) string {
		var ls []string
		for _, l := range lp {
			ls = append(ls, l.GetName()+"="+l.GetValue())
		}
		ls = append(ls, extra...)
		sort.Strings(ls)
		return name + "{" + strings.Join(ls, ",") + "}"
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			switch {
			case m.Gauge != nil:
				out[key(mf.GetName(), m.GetLabel())] = m.GetGauge().GetValue()
			case m.Counter != nil:
				out[key(mf.GetName(), m.GetLabel())] = m.GetCounter().GetValue()
			case m.Histogram != nil:
				h := m.GetHistogram()
				out[key(mf.GetName()+"_count", m.GetLabel())] = float64(h.GetSampleCount())
				out[key(mf.GetName()+"_sum", m.GetLabel())] = h.GetSampleSum()
				for _, b := range h.GetBucket() {
					out[key(mf.GetName()+"_bucket", m.GetLabel(), fmt.Sprintf("le=%g", b.GetUpperBound()))] = float64(b.GetCumulativeCount())
				}
			}
		}
	}
	return out
}
