package orchestration

import (
	"context"
	"testing"
	"time"

	"github.com/omnitriage/omnitriage/internal/rollup"
	"github.com/omnitriage/omnitriage/rules"
)

// figure finds the headline figure key, failing the test when it is absent.
func figure(t *testing.T, figs []Figure, key string) Figure {
	t.Helper()
	for _, f := range figs {
		if f.Key == key {
			return f
		}
	}
	t.Fatalf("no figure %q", key)
	return Figure{}
}

func val(p *float64) float64 {
	if p == nil {
		return -1
	}
	return *p
}

// TestProcessFigures checks the rollup's figures on the small history of
// TestProcessMetrics, with known answers, whole and narrowed to a channel.
func TestProcessFigures(t *testing.T) {
	t.Parallel()
	pool := newProcessPool(t)
	ctx := context.Background()
	f := metricsFixture{t: t, pool: pool}
	if err := pool.QueryRow(ctx, `SELECT id FROM locations WHERE code = 'nj-wh'`).Scan(&f.loc); err != nil {
		t.Fatal(err)
	}
	at := func(tm time.Time) *time.Time { return &tm }
	// Delivered events come 5 minutes after the carrier's time: cycle times
	// are 48 h 5 min, 24 h 5 min and 72 h 5 min.
	w1 := f.order("web", "W1", march(1, 10, 0), StatusCaptured, at(march(3, 8, 0)), at(march(3, 10, 0)))
	f.order("web", "W2", march(1, 12, 0), StatusCaptured, at(march(1, 23, 0)), at(march(2, 12, 0)))
	f.order("web", "W3", march(2, 0, 0), StatusBackordered, nil, nil)
	f.order("amazon", "A1", march(1, 0, 0), StatusCaptured, at(march(5, 0, 0)), at(march(4, 0, 0)))
	f.order("amazon", "A2", march(1, 0, 0), StatusRejected, nil, nil)
	f.exception(KindStockout, "", march(1, 1, 0))
	f.exception(KindStockout, "", march(1, 23, 59))
	f.exception(KindCarrierDelay, "", march(1, 5, 0))
	f.refund(w1, "W1-R1", march(5, 10, 0), at(march(5, 12, 0))) // 2 h
	f.refund(w1, "W1-R2", march(6, 0, 0), at(march(6, 6, 0)))   // 6 h
	f.posting(w1, "invoice:1", "invoice", "acknowledged", march(3, 0, 0), 60*time.Second)
	f.posting(w1, "invoice:2", "invoice", "acknowledged", march(3, 0, 0), 180*time.Second)
	f.posting(w1, "invoice:3", "invoice", "rejected", march(3, 0, 0), 0)
	f.posting(w1, "credit_memo:1", "credit_memo", "acknowledged", march(3, 0, 0), 30*time.Second)
	f.exec(`INSERT INTO integration_calls (bucket, system, op, calls, transient, failed) VALUES ($1, 'payment', 'authorize', 4, 1, 1)`, march(2, 3, 0))

	pol := testPolicy(t)
	now := march(10, 0, 0)
	svc, err := NewService(pool, Config{Policy: func() *rules.Policy { return pol }, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.RefreshRollup(ctx); err != nil {
		t.Fatal(err)
	}
	p := rollup.LastDays(now, 10) // 1 to 10 March
	cycle := (48*time.Hour + 5*time.Minute).Seconds()
	for _, tc := range []struct {
		name   string
		filter Filter
		want   map[string]float64
		n      map[string]int64
	}{
		{"all", Filter{}, map[string]float64{MetricCycleTime: cycle, MetricAllocation: 0.6, MetricExceptions: 3,
			MetricRefundTime: 4 * 3600, MetricAPI: 0.5, MetricManualTouch: 0, MetricERPLag: 90},
			map[string]int64{MetricCycleTime: 3, MetricAllocation: 5, MetricRefundTime: 2, MetricAPI: 4, MetricManualTouch: 4, MetricERPLag: 4}},
		{"web", Filter{Channel: "web"}, map[string]float64{MetricCycleTime: (36*time.Hour + 5*time.Minute).Seconds(), MetricAllocation: 2.0 / 3,
			MetricRefundTime: 4 * 3600, MetricAPI: 0.5, MetricERPLag: 90},
			map[string]int64{MetricCycleTime: 2, MetricAllocation: 3, MetricAPI: 4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			figs, err := svc.ProcessFigures(ctx, p, tc.filter)
			if err != nil {
				t.Fatal(err)
			}
			for k, want := range tc.want {
				if got := val(figure(t, figs.Headline, k).Value); !sameFloat(got, want) {
					t.Errorf("%s = %v, want %v", k, got, want)
				}
				if got := figure(t, figs.Headline, k).Previous; got != nil && k != MetricExceptions {
					t.Errorf("%s previous = %v, want none", k, *got)
				}
			}
			for k, want := range tc.n {
				if got := figure(t, figs.Headline, k).N; got != want {
					t.Errorf("%s N = %d, want %d", k, got, want)
				}
			}
			if len(figs.Days) != 10 || len(figure(t, figs.Headline, MetricCycleTime).Daily) != 10 {
				t.Errorf("days = %v, want 10", figs.Days)
			}
		})
	}
	figs, err := svc.ProcessFigures(ctx, p, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	// Cycle time by day: delivered on 2, 3 and 4 March.
	daily := figure(t, figs.Headline, MetricCycleTime).Daily
	for i, want := range []float64{-1, (24*time.Hour + 5*time.Minute).Seconds(), cycle, (72*time.Hour + 5*time.Minute).Seconds(), -1} {
		if got := val(daily[i]); !sameFloat(got, want) {
			t.Errorf("cycle time on day %d = %v, want %v", i+1, got, want)
		}
	}
	// The median of 48 h 5 min is read from its histogram bucket: within 19%.
	if p50 := val(figure(t, figs.Headline, MetricCycleTime).P50); p50 < cycle*0.81 || p50 > cycle*1.19 {
		t.Errorf("cycle p50 = %v, want about %v", p50, cycle)
	}
	if len(figs.Exceptions) != 2 || figs.Exceptions[0].Dim != KindStockout || val(figs.Exceptions[0].Value) != 2 {
		t.Errorf("exceptions by kind = %+v, want stockout 2 first", figs.Exceptions)
	}
	// Stall now: W3 is backordered, counted in the snapshot.
	var back int64
	for _, st := range figs.Stalls {
		if st.Journey == "order" && st.State == StatusBackordered && st.Node == rollup.All {
			back = st.Now
		}
	}
	if back != 1 {
		t.Errorf("backordered now = %d, want 1 (stalls %+v)", back, figs.Stalls)
	}
	// A second refresh recomputes, it does not add.
	if err := svc.RefreshRollup(ctx); err != nil {
		t.Fatal(err)
	}
	again, err := svc.ProcessFigures(ctx, p, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if got := figure(t, again.Headline, MetricAllocation).N; got != 5 {
		t.Errorf("allocation N after a second refresh = %d, want 5", got)
	}
}
