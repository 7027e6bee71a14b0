package review_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/omnitriage/omnitriage/review"
	"github.com/omnitriage/omnitriage/review/reviewtest"
)

// TestPurge deletes expired sessions and failures older than the window,
// and keeps the rest.
func TestPurge(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: time.Now()}
	srv := reviewtest.NewServer(t, reviewtest.Options{Clock: clock.Now, Limits: review.LoginLimits{Window: 10 * time.Minute}})
	pw := reviewtest.CreateUser(t, srv.Review.People(), "wen@example.com", review.Support)
	c := reviewtest.NewClient(t, srv.URL)
	c.Login("wen@example.com", pw)
	c.PostForm("/login", url.Values{"email": {"old@example.com"}, "password": {"x"}})
	clock.Add(11 * time.Minute)
	c.PostForm("/login", url.Values{"email": {"new@example.com"}, "password": {"x"}})
	ctx := context.Background()
	if _, err := srv.Pool.Exec(ctx, `INSERT INTO sessions (token, data, expiry) VALUES ('gone', '\x00', now() - interval '1 second')`); err != nil {
		t.Fatal(err)
	}
	sessions, failures, err := srv.Review.Purge(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if sessions != 1 || failures != 1 {
		t.Errorf("Purge = %d sessions, %d failures; want 1, 1", sessions, failures)
	}
	if r, _ := c.Get("/review"); r.StatusCode != 200 {
		t.Errorf("the live session was purged: /review = %d", r.StatusCode)
	}
}
