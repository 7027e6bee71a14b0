package review_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/omnitriage/omnitriage/review"
	"github.com/omnitriage/omnitriage/review/reviewtest"
)

// TestBrowserLogin signs in through the real form in Chromium and lands on
// the queue, then signs out through the user menu's form.
func TestBrowserLogin(t *testing.T) {
	t.Parallel()
	srv := reviewtest.NewServer(t, reviewtest.Options{})
	pw := reviewtest.CreateUser(t, srv.Review.People(), "ana@example.com", review.Support)
	ctx := reviewtest.Browser(t)

	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/review")); err != nil {
		t.Fatal(err)
	}
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(loc, srv.URL+"/login?next=%2Freview") {
		t.Fatalf("without a session /review went to %s, want the sign-in page", loc)
	}
	reviewtest.Screenshot(t, ctx, filepath.Join(reviewtest.ScreenshotDir(t), "login.png"))

	if err := reviewtest.Login(ctx, srv.URL, "ana@example.com", pw); err != nil {
		t.Fatal(err)
	}
	loc, err = chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	if loc != srv.URL+"/review" {
		t.Fatalf("after signing in: at %s, want %s/review", loc, srv.URL)
	}
	who, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(".user-menu .who")))
	if err != nil {
		t.Fatal(err)
	}
	if who != "ana@example.com" {
		t.Errorf("header names %q, want ana@example.com", who)
	}
	reviewtest.Screenshot(t, ctx, filepath.Join(reviewtest.ScreenshotDir(t), "shell.png"))

	// Sign out: open the user menu, press its button.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(".user-menu summary"))); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.ID("logout"))); err != nil {
		t.Fatal(err)
	}
	flash, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(".flash")))
	if err != nil {
		t.Fatal(err)
	}
	if flash != "You are signed out." {
		t.Errorf("after signing out the page says %q", flash)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/review")); err != nil {
		t.Fatal(err)
	}
	if loc, _ = chromedp.Run(ctx, chromedp.Location()); !strings.Contains(loc, "/login") {
		t.Errorf("after signing out /review is at %s, want the sign-in page", loc)
	}
}
