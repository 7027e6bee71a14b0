package review_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/omnitriage/omnitriage/orchestration"
	"github.com/omnitriage/omnitriage/review"
	"github.com/omnitriage/omnitriage/review/reviewtest"
	"github.com/omnitriage/omnitriage/triage"
)

// BenchmarkReviewPages times the queue page over REVIEW_BENCH_CASES (default
// 10,000) open cases, made through triage's intake, and the case page with
// its similar-cases search, and reports p50 and p99 of each request's time
// as the client sees it on loopback:
//
//	go test -run '^$' -bench ReviewPages -benchtime 200x ./review/
func BenchmarkReviewPages(b *testing.B) {
	n := 10000
	if v, err := strconv.Atoi(os.Getenv("REVIEW_BENCH_CASES")); err == nil && v > 0 {
		n = v
	}
	srv := reviewtest.NewServer(b, reviewtest.Options{})
	ctx := context.Background()
	if err := srv.Triage.Prepare(ctx); err != nil {
		b.Fatal(err)
	}
	msgs := []string{"Pickup window expired for order #S-%d after %d days and 3 reminders; items to be restocked",
		"POST https://onlinetools.ups.com/api/shipments/v2409/ship timed out after %d000ms (%d)",
		"Address validation failed for order %d: street number %d not found"}
	kinds := []string{orchestration.KindPickupNotCollected, orchestration.KindIntegrationError, orchestration.KindAddressInvalid}
	sevs := []string{orchestration.SeverityLow, orchestration.SeverityMedium, orchestration.SeverityHigh, orchestration.SeverityCritical}
	var wg sync.WaitGroup
	var first error
	var mu sync.Mutex
	for w := range 4 {
		wg.Go(func() {
			for i := w; i < n; i += 4 {
				k := i % len(msgs)
				_, err := srv.Triage.Report(ctx, "bench", orchestration.Exception{Kind: kinds[k], Severity: sevs[i%len(sevs)],
					Code: fmt.Sprintf("E%d", k), Message: fmt.Sprintf(msgs[k], 70000+i, i%30)}, nil)
				if err != nil {
					mu.Lock()
					first = err
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	if first != nil {
		b.Fatal(first)
	}
	if _, err := srv.Triage.StoreVectors(ctx, n); err != nil {
		b.Fatal(err)
	}
	// Some decided cases for the similar-cases search to find.
	page, err := srv.Triage.Queue(ctx, reviewTestFilter())
	if err != nil || len(page.Items) == 0 {
		b.Fatal(err)
	}
	for _, it := range page.Items[1:] {
		if _, err := srv.Triage.Decide(ctx, it.CaseID, "bench", triage.DecisionRequest{Decision: triage.DecisionReject}); err != nil {
			b.Fatal(err)
		}
	}
	cl := reviewtest.NewClient(b, srv.URL)
	cl.Login("bench@example.com", reviewtest.CreateUser(b, srv.Review.People(), "bench@example.com", review.Engineer))
	for _, path := range []string{"/review", "/review/cases/" + page.Items[0].CaseID.String()} {
		b.Run(path[:min(len(path), 14)], func(b *testing.B) {
			var times []time.Duration
			for b.Loop() {
				t0 := time.Now()
				resp, _ := cl.Get(path)
				times = append(times, time.Since(t0))
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("GET %s = %d", path, resp.StatusCode)
				}
			}
			slices.Sort(times)
			b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(times[len(times)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}

func reviewTestFilter() triage.QueueFilter { return triage.QueueFilter{Limit: 5} }
