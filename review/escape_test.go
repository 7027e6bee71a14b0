package review_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/omnitriage/omnitriage/review/reviewtest"
)

// TestOutputIsEscaped puts markup in the fields of the sign-in page a
// visitor controls (the return path and the email typed) and checks, in
// Chromium, that it shows as text and never runs.
func TestOutputIsEscaped(t *testing.T) {
	t.Parallel()
	srv := reviewtest.NewServer(t, reviewtest.Options{})
	ctx := reviewtest.Browser(t)
	const next = `/review"><script>window.pwned=1</script><img src=x onerror="window.pwned=2">`
	const email = `<script>window.pwned=3</script>@example.com`
	if err := chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/login?next="+url.QueryEscape(next)),
		chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), email),
		chromedp.SendKeys(chromedp.ID("password"), "wrong password here"),
	); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.RunResponse(ctx, chromedp.Submit(chromedp.ID("password"))); err != nil {
		t.Fatal(err)
	}
	type dom struct {
		Pwned   bool   `json:"pwned"`
		Scripts int    `json:"scripts"`
		Images  int    `json:"images"`
		Next    string `json:"next"`
		Email   string `json:"email"`
	}
	got, err := chromedp.Run(ctx, chromedp.Evaluate[dom](`({
		pwned: window.pwned !== undefined,
		scripts: [...document.scripts].filter(s => !s.src).length,
		images: document.images.length,
		next: document.querySelector("input[name=next]").value,
		email: document.getElementById("email").value,
	})`))
	if err != nil {
		t.Fatal(err)
	}
	if got.Pwned || got.Scripts != 0 || got.Images != 0 {
		t.Errorf("injected markup ran or became elements: %+v", got)
	}
	if got.Next != next || got.Email != strings.ToLower(email) {
		t.Errorf("the fields lost their text: next %q, email %q", got.Next, got.Email)
	}
}
