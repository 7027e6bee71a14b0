package review_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/omnitriage/omnitriage/review/reviewtest"
)

func TestStaticAssets(t *testing.T) {
	t.Parallel()
	srv := reviewtest.NewServer(t, reviewtest.Options{})
	c := reviewtest.NewClient(t, srv.URL)
	resp, page := c.Get("/login")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /login = %d", resp.StatusCode)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("Content-Security-Policy = %q", csp)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("page Cache-Control = %q, want no-store", cc)
	}
	for _, tc := range []struct{ name, ctype string }{
		{"app.css", "text/css; charset=utf-8"},
		{"app.js", "text/javascript; charset=utf-8"},
	} {
		base, ext, _ := strings.Cut(tc.name, ".")
		m := regexp.MustCompile(`/static/` + base + `\.[0-9a-f]{8}\.` + ext).FindString(page)
		if m == "" {
			t.Errorf("the page links no hashed %s", tc.name)
			continue
		}
		resp, body := c.Get(m)
		if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" ||
			resp.Header.Get("Content-Type") != tc.ctype || len(body) < 100 {
			t.Errorf("GET %s = %d, Cache-Control %q, Content-Type %q, %d bytes", m, resp.StatusCode,
				resp.Header.Get("Cache-Control"), resp.Header.Get("Content-Type"), len(body))
		}
		// The plain name is served too, but must be revalidated.
		resp, _ = c.Get("/static/" + tc.name)
		if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "no-cache" {
			t.Errorf("GET /static/%s = %d, Cache-Control %q", tc.name, resp.StatusCode, resp.Header.Get("Cache-Control"))
		}
	}
	for _, p := range []string{"/static/app.00000000.css", "/static/nothing.js", "/static/../server.go"} {
		if resp, _ := c.Get(p); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", p, resp.StatusCode)
		}
	}
}
