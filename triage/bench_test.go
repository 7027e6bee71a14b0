package triage

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/omnitriage/omnitriage/orchestration"
)

// BenchmarkRecommend measures POST /v1/recommendations' work without HTTP:
// store the exception and its case, embed it with the local embedder,
// search the seeded library in pgvector, score the risks, rank the fixes,
// apply the policy and write the decision. "new" is a fresh exception per
// call; "keyed" the same with a fresh idempotency key each; "replay"
// answers a repeated idempotency key from the stored bytes.
func BenchmarkRecommend(b *testing.B) {
	f := newFixture(b, fixtureOptions{})
	ctx := context.Background()
	kinds := []struct{ kind, code, format string }{
		{orchestration.KindPaymentFailed, "51", "REFUSED: NOT SUFFICIENT FUNDS (51) merchantRef WEB-%d amount EUR %d,90"},
		{orchestration.KindCarrierDelay, "WEATHER", "UPS: Severe weather conditions have delayed delivery. Tracking 1Z999AA1%08d, hub %d closed"},
		{orchestration.KindIntegrationError, "ETIMEDOUT", "POST https://onlinetools.ups.com/api/shipments/v%d/ship timed out after %d ms"},
		{orchestration.KindERPPostingFailed, "F5201", "Posting period %03d 2025 is not open (company code 1000); invoice 9000%d not posted"},
	}
	request := func(i int) RecommendRequest {
		k := kinds[i%len(kinds)]
		return RecommendRequest{ExceptionRequest: ExceptionRequest{Exception: orchestration.Exception{Kind: k.kind, Severity: orchestration.SeverityMedium, Code: k.code,
			Carrier: "ups", Message: fmt.Sprintf(k.format, 100000+i, i%997)}}}
	}
	b.Run("new", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if _, err := f.svc.Recommend(ctx, "bench", nil, request(i)); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("keyed", func(b *testing.B) {
		i := 0
		for b.Loop() {
			req := request(1000000 + i)
			body, _ := json.Marshal(req)
			idem := &Idempotency{Scope: "bench", Key: fmt.Sprint("keyed-", i), Body: body}
			if _, err := f.svc.Recommend(ctx, "bench", idem, req); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("replay", func(b *testing.B) {
		req := request(1)
		body, _ := json.Marshal(req)
		idem := &Idempotency{Scope: "bench", Key: "replay", Body: body}
		if _, err := f.svc.Recommend(ctx, "bench", idem, req); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			res, err := f.svc.Recommend(ctx, "bench", idem, req)
			if err != nil || !res.Replayed {
				b.Fatal(err)
			}
		}
	})
}
