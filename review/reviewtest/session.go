package reviewtest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Session opens a new browser context (its own cookies and storage, like a
// second person's browser) in the Chromium that browser runs in: tests of
// two people share one Chromium instead of starting two. It is closed when
// t ends.
func Session(t testing.TB, browser context.Context) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("opening a browser session: %v", err)
	}
	return ctx
}

// WaitPath waits up to 10 seconds for the page's path to satisfy ok and
// returns the URL it ended on.
func WaitPath(ctx context.Context, ok func(path string) bool) (string, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		loc, err := chromedp.Run(ctx, chromedp.Location())
		if err != nil {
			return loc, err
		}
		path := loc
		if i := strings.Index(loc, "://"); i >= 0 {
			if j := strings.Index(loc[i+3:], "/"); j >= 0 {
				path = loc[i+3+j:]
			}
		}
		if ok(path) {
			return loc, nil
		}
		if time.Now().After(deadline) {
			return loc, fmt.Errorf("still at %s after 10s", loc)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
