package review_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/omnitriage/omnitriage/review"
	"github.com/omnitriage/omnitriage/review/reviewtest"
)

// TestShortcutFramework checks app.js in Chromium: "?" opens the list of
// shortcuts with the page's own, a marked element is clicked on its key,
// keys typed in a text field are left alone, and Esc closes the list.
func TestShortcutFramework(t *testing.T) {
	t.Parallel()
	srv := reviewtest.NewServer(t, reviewtest.Options{})
	pw := reviewtest.CreateUser(t, srv.Review.People(), "val@example.com", review.Support)
	ctx := reviewtest.Browser(t)
	if err := reviewtest.Login(ctx, srv.URL, "val@example.com", pw); err != nil {
		t.Fatal(err)
	}
	// A page's shortcut, as a page would mark it, and a text field.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => {
		const b = document.createElement("button");
		b.type = "button"; b.id = "approve"; b.dataset.shortcut = "a"; b.dataset.shortcutLabel = "Approve";
		b.textContent = "Approve"; window.clicks = 0; b.addEventListener("click", () => window.clicks++);
		const i = document.createElement("input"); i.id = "note"; i.type = "text";
		document.querySelector("main").append(b, i);
		return true;
	})()`)); err != nil {
		t.Fatal(err)
	}
	clicks := func() int {
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`window.clicks`))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	open := func() bool {
		v, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("shortcuts").open`))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}

	if err := chromedp.Do(ctx, chromedp.KeyEvent("a")); err != nil {
		t.Fatal(err)
	}
	if n := clicks(); n != 1 {
		t.Errorf("after a: %d clicks on the marked button, want 1", n)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("note")), chromedp.KeyEvent("a")); err != nil {
		t.Fatal(err)
	}
	if n := clicks(); n != 1 {
		t.Errorf("typing a in a text field clicked the button (%d clicks)", n)
	}
	if err := chromedp.Do(ctx, chromedp.KeyEvent("\x1b"), chromedp.KeyEvent("?")); err != nil { // Esc leaves the field
		t.Fatal(err)
	}
	if !open() {
		t.Fatal("? did not open the shortcuts list")
	}
	list, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("shortcut-list")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(list, "Approve") || !strings.Contains(list, "Show or hide this list") {
		t.Errorf("the shortcuts list does not show the page's shortcut:\n%s", list)
	}
	reviewtest.Screenshot(t, ctx, filepath.Join(reviewtest.ScreenshotDir(t), "shortcuts.png"))
	if err := chromedp.Do(ctx, chromedp.KeyEvent("\x1b")); err != nil {
		t.Fatal(err)
	}
	if open() {
		t.Error("Esc did not close the shortcuts list")
	}
}

// TestLayoutWidths loads a page at laptop and tablet widths and checks
// nothing is wider than the window (no sideways scrolling) and the nav and
// sign-out stay reachable.
func TestLayoutWidths(t *testing.T) {
	t.Parallel()
	srv := reviewtest.NewServer(t, reviewtest.Options{})
	pw := reviewtest.CreateUser(t, srv.Review.People(), "a-rather-long-address.for-layout@example.com", review.Admin)
	ctx := reviewtest.Browser(t)
	if err := reviewtest.Login(ctx, srv.URL, "a-rather-long-address.for-layout@example.com", pw); err != nil {
		t.Fatal(err)
	}
	for _, w := range []struct {
		name string
		w, h int64
	}{{"laptop", 1366, 768}, {"tablet", 768, 1024}, {"tablet-landscape", 1024, 768}} {
		for _, path := range []string{"/admin/users", "/review"} {
			cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			err := chromedp.Do(cctx, chromedp.EmulateViewport(w.w, w.h), chromedp.Navigate(srv.URL+path))
			if err != nil {
				cancel()
				t.Fatal(err)
			}
			over, err := chromedp.Run(cctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth - window.innerWidth`))
			if err != nil {
				cancel()
				t.Fatal(err)
			}
			if over > 0 {
				t.Errorf("%s %s: the page is %d px wider than the window", w.name, path, over)
			}
			visible, err := chromedp.Run(cctx, chromedp.Evaluate[bool](`(() => {
				const r = document.querySelector(".user-menu summary").getBoundingClientRect();
				const n = document.querySelector(".nav a").getBoundingClientRect();
				return r.right <= window.innerWidth && r.width > 0 && n.width > 0;
			})()`))
			cancel()
			if err != nil {
				t.Fatal(err)
			}
			if !visible {
				t.Errorf("%s %s: the nav or the user menu is off screen", w.name, path)
			}
			if path == "/admin/users" {
				reviewtest.Screenshot(t, ctx, filepath.Join(reviewtest.ScreenshotDir(t), w.name+".png"))
			}
		}
	}
}
