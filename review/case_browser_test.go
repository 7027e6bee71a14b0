package review_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/omnitriage/omnitriage/review"
	"github.com/omnitriage/omnitriage/review/reviewtest"
)

// TestBrowserScreenshotApproveByKeyboard signs in as support in Chromium,
// opens the top case from the queue, approves it with the keyboard alone
// (a, then Enter) and lands on the next case; the command is applied once.
// It saves the queue and case pages for `make screenshots`.
func TestBrowserScreenshotApproveByKeyboard(t *testing.T) {
	t.Parallel()
	applier := &countingApplier{}
	srv := reviewtest.NewServer(t, reviewtest.Options{Applier: applier})
	if err := srv.Triage.Prepare(context.Background()); err != nil {
		t.Fatal(err)
	}
	c1 := report(t, srv, `Pickup window expired for order #S-70431 after 7 days <script>window.pwned=1</script>`)
	c2 := report(t, srv, "Pickup window expired for order #S-70432 after 8 days and 3 reminders; items to be restocked")
	pw := reviewtest.CreateUser(t, srv.Review.People(), "ana@example.com", review.Support)
	ctx := reviewtest.Browser(t)
	if err := reviewtest.Login(ctx, srv.URL, "ana@example.com", pw); err != nil {
		t.Fatal(err)
	}
	dir := reviewtest.ScreenshotDir(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/review"), chromedp.WaitVisible(chromedp.CSS("table.queue"))); err != nil {
		t.Fatal(err)
	}
	reviewtest.Screenshot(t, ctx, filepath.Join(dir, "queue.png"))
	top, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("a.case-link").getAttribute("href")`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.RunResponse(ctx, chromedp.KeyEvent("o")); err != nil {
		t.Fatal(err)
	}
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	if loc != srv.URL+top {
		t.Fatalf("o opened %s, want the top case %s", loc, top)
	}
	reviewtest.Screenshot(t, ctx, filepath.Join(dir, "case.png"))
	pwned, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.pwned !== undefined`))
	if pwned {
		t.Error("the exception message's script ran")
	}
	if err := chromedp.Do(ctx, chromedp.KeyEvent("a")); err != nil {
		t.Fatal(err)
	}
	// The submit navigates (a 303 to the next case); the loop below waits for it.
	if err := chromedp.Do(ctx, chromedp.KeyEvent(kb.Enter)); err != nil {
		t.Fatal(err)
	}
	other := c2.ID.String()
	if strings.HasSuffix(top, other) {
		other = c1.ID.String()
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		loc, _ = chromedp.Run(ctx, chromedp.Location())
		if strings.HasSuffix(loc, "/review/cases/"+other) || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.HasSuffix(loc, "/review/cases/"+other) {
		t.Fatalf("after approving by keyboard at %s, want the next case %s", loc, other)
	}
	if applier.n() != 1 {
		t.Errorf("%d commands applied, want 1", applier.n())
	}
}
