package rollup

import (
	"sort"
	"sync"
)

// Units of a Figure's values.
const (
	// UnitDuration values are seconds.
	UnitDuration = "duration"
	// UnitShare values are between 0 and 1.
	UnitShare = "share"
	// UnitCount values are counts.
	UnitCount = "count"
)

// Figure is one process figure over a period, beside the period before.
type Figure struct {
	// Key names the figure ("cycle_time"); Dim narrows it (an exception
	// kind, an endpoint), "" for the headline.
	Key, Dim string
	// Label is what people call it; Definition says what it counts.
	Label, Definition string
	// Unit is UnitDuration, UnitShare or UnitCount.
	Unit string
	// Value and Previous are the figure over the period and the period
	// before; nil when there was nothing to measure.
	Value, Previous *float64
	// N and PrevN count what was measured (orders, calls, cases).
	N, PrevN int64
	// Hits counts those that pass (failed calls, late postings...).
	Hits int64
	// P50 and P90 are the median and 90th percentile of a duration.
	P50, P90 *float64
	// Daily is the value on each day of the period (Figures.Days).
	Daily []*float64
}

// Def says how a figure is read from the rollup.
type Def struct {
	// Key, Metric, Label, Unit and Definition are the figure's (see Figure)
	// and the metric it reads.
	Key, Metric, Label, Unit, Definition string
	// Value is how: "mean" duration, "rate" of hits, "count" of facts.
	Value string
}

// of is the figure's value for the sum a; nil when there is none.
func (d Def) of(a Agg) *float64 {
	var v float64
	var ok bool
	switch d.Value {
	case "mean":
		v, ok = a.Mean()
	case "rate":
		v, ok = a.Rate()
	default:
		v, ok = float64(a.N), true
	}
	if !ok {
		return nil
	}
	return &v
}

// Build reads one figure of def, for one dim, from the sums and
// quantiles of a rollup.
func Build(d Def, dim string, sums Sums, q Quantiles) Figure {
	k := Key{Metric: d.Metric, Dim: dim}
	cur, prev := sums.Current[k], sums.Previous[k]
	f := Figure{Key: d.Key, Dim: dim, Label: d.Label, Definition: d.Definition, Unit: d.Unit,
		Value: d.of(cur), Previous: d.of(prev), N: cur.N, PrevN: prev.N, Hits: cur.Hits}
	if d.Value == "count" && cur.N == 0 && prev.N == 0 {
		f.Value, f.Previous = nil, nil
	}
	if d.Unit == UnitDuration {
		if v, ok := q[QKey{Metric: d.Metric, Dim: dim, Node: All}]; ok {
			f.P50, f.P90 = &v[0], &v[1]
		}
	}
	if dim == All {
		for _, a := range sums.Daily[d.Metric] {
			f.Daily = append(f.Daily, d.of(a))
		}
		if d.Value == "count" {
			for i, a := range sums.Daily[d.Metric] {
				if a.N == 0 {
					zero := 0.0
					f.Daily[i] = &zero
				}
			}
		}
	}
	return f
}

// NewDef is a Def.
func NewDef(key, metric, label, unit, definition, value string) Def {
	return Def{Key: key, Metric: metric, Label: label, Unit: unit, Definition: definition, Value: value}
}

// Dims lists the dims of metric in sums, busiest in the period first.
func Dims(sums Sums, metric string) []string {
	n := map[string]int64{}
	for _, m := range []map[Key]Agg{sums.Current, sums.Previous} {
		for k := range m {
			if k.Metric == metric && k.Dim != All {
				n[k.Dim] = sums.Current[k].N
			}
		}
	}
	out := make([]string, 0, len(n))
	for d := range n {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool {
		if n[out[i]] != n[out[j]] {
			return n[out[i]] > n[out[j]]
		}
		return out[i] < out[j]
	})
	return out
}

// Parallel runs fns at once (each on its own pool connection when they
// query) and returns the first error, after every one has returned. The
// dashboard's reads are independent, and the two cores are better busy
// together than one after the other.
func Parallel(fns ...func() error) error {
	errs := make([]error, len(fns))
	var wg sync.WaitGroup
	for i, fn := range fns {
		wg.Go(func() { errs[i] = fn() })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
