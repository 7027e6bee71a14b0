package review_test

import (
	"net/http"
	"testing"

	"github.com/omnitriage/omnitriage/review"
	"github.com/omnitriage/omnitriage/review/reviewtest"
)

// BenchmarkSignedInPage is one signed-in page request through the whole
// shell: cross-origin check, session load, the user's lookup, render.
func BenchmarkSignedInPage(b *testing.B) {
	srv := reviewtest.NewServer(b, reviewtest.Options{})
	pw := reviewtest.CreateUser(b, srv.Review.People(), "bench@example.com", review.Support)
	c := reviewtest.NewClient(b, srv.URL)
	c.Login("bench@example.com", pw)
	b.ResetTimer()
	for b.Loop() {
		if resp, _ := c.Get("/review"); resp.StatusCode != http.StatusOK {
			b.Fatalf("GET /review = %d", resp.StatusCode)
		}
	}
}
