package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/omnitriage/omnitriage/internal/database/dbtest"
	"github.com/omnitriage/omnitriage/orchestration"
	"github.com/omnitriage/omnitriage/review"
	"github.com/omnitriage/omnitriage/review/reviewtest"
)

// TestReviewMounted checks serve's router carries the review pages beside
// the API: the sign-in page, its assets, and the queue behind sign-in.
func TestReviewMounted(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	c := reviewtest.NewClient(t, ts.url)
	if resp, body := c.Get("/login"); resp.StatusCode != http.StatusOK || !strings.Contains(body, `action="/login"`) {
		t.Fatalf("GET /login = %d", resp.StatusCode)
	}
	if resp, _ := c.Get("/review"); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login?next=%2Freview" {
		t.Errorf("the queue without a session = %d to %q, want 303 to sign in and back", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, _ := c.Get("/v1/whoami"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the API answers %d without a key, want 401", resp.StatusCode)
	}
}

// TestBrowserLoginServe signs in through the real form in Chromium, on the
// router `omnitriage serve` builds, as a demo person `omnitriage seed` made.
func TestBrowserLoginServe(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	var out bytes.Buffer
	logins, err := seedPeople(context.Background(), &out, ts.app.pool, "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(logins) != 3 || !strings.Contains(out.String(), "support@omnitriage.example") {
		t.Fatalf("seedPeople made %d logins and printed:\n%s", len(logins), out.String())
	}
	if again, err := seedPeople(context.Background(), &out, ts.app.pool, "", time.Now()); err != nil || again != nil {
		t.Errorf("a second seedPeople = %v, %v; want nothing made", again, err)
	}
	ctx := reviewtest.Browser(t)
	if err := reviewtest.Login(ctx, ts.url, logins[0].email, logins[0].password); err != nil {
		t.Fatal(err)
	}
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	if loc != ts.url+"/review" {
		t.Errorf("after signing in at %s, want %s/review", loc, ts.url)
	}
}

// TestScreenshots saves the shell's pages as PNGs in $SCREENSHOTS, over the
// seeded demo (`make screenshots`).
func TestScreenshots(t *testing.T) {
	dir := os.Getenv("SCREENSHOTS")
	if dir == "" {
		t.Skip("SCREENSHOTS is not set; `make screenshots` sets it")
	}
	ts := startServer(t, nil)
	ctx := context.Background()
	if _, err := ts.app.orch.SeedDemo(ctx, orchestration.SeedOptions{Seed: 1, SKUs: 200, Locations: 12}, nil); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	logins, err := seedPeople(ctx, &out, ts.app.pool, "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	b := reviewtest.Browser(t)
	if err := chromedp.Do(b, chromedp.Navigate(ts.url+"/login")); err != nil {
		t.Fatal(err)
	}
	reviewtest.Screenshot(t, b, filepath.Join(dir, "login.png"))
	for _, l := range logins {
		if l.role == review.Admin {
			if err := reviewtest.Login(b, ts.url, l.email, l.password); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := chromedp.Do(b, chromedp.Navigate(ts.url+"/admin/users")); err != nil {
		t.Fatal(err)
	}
	reviewtest.Screenshot(t, b, filepath.Join(dir, "people.png"))
}

func TestUserCommand(t *testing.T) {
	t.Parallel()
	url := dbtest.NewURL(t)
	run1 := func(stdin string, args ...string) (string, error) {
		var out, errb bytes.Buffer
		env := &environment{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb, getenv: func(k string) string {
			if k == "DATABASE_URL" {
				return url
			}
			return ""
		}}
		err := run(context.Background(), env, append([]string{"user"}, args...))
		return out.String() + errb.String(), err
	}
	for _, tc := range []struct {
		name, stdin string
		args        []string
		want        string // in the output, or the error
		usage       bool
	}{
		{"create", "correct horse battery\n", []string{"create", "--email", "Tess@Example.com", "--role", "support"}, "created tess@example.com (support)", false},
		{"duplicate", "correct horse battery\n", []string{"create", "--email", "tess@example.com", "--role", "admin"}, "a user tess@example.com already exists", false},
		{"short password", "short\n", []string{"create", "--email", "uma@example.com", "--role", "support"}, "use at least 12", true},
		{"no password", "", []string{"create", "--email", "uma@example.com", "--role", "support"}, "no password", true},
		{"password as argument", "", []string{"create", "--email", "uma@example.com", "--role", "support", "hunter2hunter2"}, "nothing else", true},
		{"bad role", "correct horse battery\n", []string{"create", "--email", "uma@example.com", "--role", "boss"}, `--role "boss"`, true},
		{"bad email", "correct horse battery\n", []string{"create", "--email", "uma", "--role", "support"}, "not an address", true},
		{"list", "", []string{"list"}, "tess@example.com  support", false},
		{"reset", "another long password\n", []string{"reset-password", "--email", "tess@example.com"}, "set a new password for tess@example.com", false},
		{"disable", "", []string{"disable", "tess@example.com"}, "disabled tess@example.com", false},
		{"disable nobody", "", []string{"disable", "--email", "nobody@example.com"}, "no user nobody@example.com", false},
	} {
		out, err := run1(tc.stdin, tc.args...)
		got := out
		if err != nil {
			got += err.Error()
		}
		if !strings.Contains(got, tc.want) {
			t.Errorf("%s: output and error %q, want %q", tc.name, got, tc.want)
		}
		if tc.usage != (exitCode(err) == 2) {
			t.Errorf("%s: exit code %d, want usage error %v", tc.name, exitCode(err), tc.usage)
		}
	}
	out, _ := run1("", "list")
	if !strings.Contains(out, "tess@example.com") || strings.Contains(out, "uma@example.com") {
		t.Errorf("list after the bad creates:\n%s", out)
	}
}
