package review_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/omnitriage/omnitriage/review"
	"github.com/omnitriage/omnitriage/review/reviewtest"
)

// TestBrowserScreenshotClusterFixed signs in as an engineer in Chromium,
// opens the top cluster from /clusters by keyboard, and marks it fixed
// with the form; the charts are drawn by uPlot. A support person opening
// the same page gets the 403 page. It saves /clusters and the cluster's
// page for `make screenshots`.
func TestBrowserScreenshotClusterFixed(t *testing.T) {
	t.Parallel()
	srv := reviewtest.NewServer(t, reviewtest.Options{})
	clusterDemo(t, srv)
	pw := reviewtest.CreateUser(t, srv.Review.People(), "eve@example.com", review.Engineer)
	ctx := reviewtest.Browser(t)
	if err := reviewtest.Login(ctx, srv.URL, "eve@example.com", pw); err != nil {
		t.Fatal(err)
	}
	dir := reviewtest.ScreenshotDir(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/clusters"), chromedp.WaitVisible(chromedp.CSS("table.clusters")),
		chromedp.WaitReady(chromedp.CSS(".spark canvas"))); err != nil {
		t.Fatal(err)
	}
	reviewtest.Screenshot(t, ctx, filepath.Join(dir, "clusters.png"))
	top, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("table.clusters a").getAttribute("href")`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.RunResponse(ctx, chromedp.KeyEvent("o")); err != nil {
		t.Fatal(err)
	}
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	if loc != srv.URL+top {
		t.Fatalf("o opened %s, want the top cluster %s", loc, top)
	}
	if err := chromedp.Do(ctx, chromedp.WaitReady(chromedp.CSS(".chart canvas"))); err != nil {
		t.Fatalf("the trend chart was not drawn: %v", err)
	}
	if hidden, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`getComputedStyle(document.querySelector(".chart-table")).display === "none"`)); !hidden {
		t.Error("with the chart drawn, the table of the same numbers still shows")
	}
	reviewtest.Screenshot(t, ctx, filepath.Join(dir, "cluster.png"))

	day := time.Now().UTC().Format(time.DateOnly)
	if err := chromedp.Do(ctx,
		chromedp.SetValue(chromedp.ID("status"), "fixed"),
		chromedp.SetValue(chromedp.ID("fixed_at"), day),
		chromedp.SendKeys(chromedp.ID("owner"), "eve"),
		chromedp.SendKeys(chromedp.ID("notes"), "Tracking timeout raised to 60 s"),
	); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.ID("save"))); err != nil {
		t.Fatal(err)
	}
	flash, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.querySelector(".flash") || {}).textContent || ""`))
	if !strings.Contains(flash, "saved") {
		t.Errorf("after saving, the flash says %q", flash)
	}
	var status, owner, fixed string
	id := strings.TrimPrefix(strings.SplitN(top, "?", 2)[0], "/clusters/")
	if err := srv.Pool.QueryRow(context.Background(), `SELECT status, owner, coalesce(to_char(fixed_at, 'YYYY-MM-DD'), '') FROM clusters WHERE id = $1`, id).
		Scan(&status, &owner, &fixed); err != nil {
		t.Fatal(err)
	}
	if status != "fixed" || owner != "eve" || fixed != day {
		t.Errorf("cluster %s = %s, owner %q, fixed %q; want fixed by eve on %s", id, status, owner, fixed, day)
	}

	spw := reviewtest.CreateUser(t, srv.Review.People(), "sam@example.com", review.Support)
	sctx := reviewtest.Browser(t)
	if err := reviewtest.Login(sctx, srv.URL, "sam@example.com", spw); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(sctx, chromedp.Navigate(srv.URL+top)); err != nil {
		t.Fatal(err)
	}
	text, _ := chromedp.Run(sctx, chromedp.Evaluate[string](`document.querySelector("main").textContent`))
	if !strings.Contains(text, "Not allowed") || strings.Contains(text, "Tracking") {
		t.Errorf("support opening %s sees %q, want the 403 page", top, strings.Join(strings.Fields(text), " "))
	}
	if n, _ := chromedp.Run(sctx, chromedp.Evaluate[int](`document.querySelectorAll("#save").length`)); n != 0 {
		t.Error(fmt.Sprintf("support sees %d save buttons", n))
	}
}
