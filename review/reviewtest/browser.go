// Package reviewtest is the harness for tests of the review pages: a review
// server over a fresh database, people to sign in as, an HTTP client that
// behaves like a browser's forms, and headless Chromium driven by chromedp.
//
// Browser tests need Chromium: $CHROMIUM, else chromium (or
// chromium-browser, google-chrome) on PATH. `make test` installs the
// distribution's package when it is missing and sets CHROMIUM. Without it a
// browser test skips, unless CI is set, when it fails: CI must never pass by
// skipping the browser.
package reviewtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Chromium returns the path of the Chromium to drive, skipping t (or
// failing it under CI) when there is none.
func Chromium(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("CHROMIUM"); p != "" {
		if _, err := exec.LookPath(p); err != nil {
			t.Fatalf("CHROMIUM=%s: %v", p, err)
		}
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no Chromium: CI must run the browser tests; `make test` installs the chromium package, or set CHROMIUM")
	}
	t.Skip("no Chromium: run `make test` (it installs the chromium package) or set CHROMIUM")
	return ""
}

// Width and Height are the browser window's size: a common laptop screen.
const (
	Width  = 1366
	Height = 768
)

// Browser starts headless Chromium with a fresh profile and returns the
// context to run chromedp actions in; it is closed when t ends. Each call
// is a separate browser: two calls are two people at two desks.
func Browser(t testing.TB) context.Context {
	t.Helper()
	path := Chromium(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true), // containers have a small /dev/shm
		chromedp.Flag("password-store", "basic"),
		chromedp.Flag("mute-audio", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(Width, Height),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	// A bound on the whole test's browsing, so a wait that never ends fails
	// the test instead of hanging it.
	ctx, cancelTime := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelTime(); cancelTab(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting Chromium (%s): %v", path, err)
	}
	return ctx
}

// Login signs in through the real form: it opens baseURL/login, types the
// email and password, submits, and waits for the next page. It fails when
// the browser is still on the sign-in page afterwards.
func Login(ctx context.Context, baseURL, email, password string) error {
	if err := chromedp.Do(ctx,
		chromedp.Navigate(baseURL+"/login"),
		chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), email),
		chromedp.SendKeys(chromedp.ID("password"), password),
	); err != nil {
		return fmt.Errorf("filling the sign-in form: %w", err)
	}
	if _, err := chromedp.RunResponse(ctx, chromedp.Submit(chromedp.ID("password"))); err != nil {
		return fmt.Errorf("submitting the sign-in form: %w", err)
	}
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		return err
	}
	if strings.Contains(loc, "/login") {
		msg, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.querySelector("[role=alert]") || {}).textContent || ""`))
		return fmt.Errorf("still on the sign-in page (%s): %s", loc, strings.TrimSpace(msg))
	}
	return nil
}

// Screenshot saves the whole page as a PNG at path, creating its folder.
func Screenshot(t testing.TB, ctx context.Context, path string) {
	t.Helper()
	save(t, ctx, chromedp.FullScreenshot(100), path)
}

// ScreenshotViewport saves what is on screen (the browser's 1366×768 window,
// as a person at a laptop sees the page before scrolling) as a PNG at path.
func ScreenshotViewport(t testing.TB, ctx context.Context, path string) {
	t.Helper()
	save(t, ctx, chromedp.CaptureScreenshot(), path)
}

func save(t testing.TB, ctx context.Context, shot chromedp.Action[[]byte], path string) {
	t.Helper()
	png, err := chromedp.Run(ctx, shot)
	if err != nil {
		t.Fatalf("screenshot %s: %v", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// ScreenshotDir is where screenshots go: $SCREENSHOTS (set by `make
// screenshots`), else a temporary folder of t's.
func ScreenshotDir(t testing.TB) string {
	if d := os.Getenv("SCREENSHOTS"); d != "" {
		return d
	}
	return t.TempDir()
}
