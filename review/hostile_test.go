package review_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/omnitriage/omnitriage/review"
	"github.com/omnitriage/omnitriage/review/reviewtest"
)

// hostileText is text no page may store or echo: each must be refused with
// a 422 naming its field, before a handler reads it.
var hostileText = []struct{ name, s string }{
	{"NUL", "a\x00b"},
	{"invalid UTF-8", "a\xffb"},
	{"encoded surrogate", "a\xed\xa0\x80b"},
	{"C1 control", "a\u0085b"},
	{"DEL", "a\x7fb"},
	{"bidi override", "a\u202eb"},
	{"noncharacter", "a\uffffb"},
}

// TestHostileTextOnEveryPage sends each hostile string as a query
// parameter of every page, as a path segment, and as a form field of every
// form post, signed in as an admin (who may reach every page), and wants a
// 422 page naming the field each time.
func TestHostileTextOnEveryPage(t *testing.T) {
	t.Parallel()
	srv := reviewtest.NewServer(t, reviewtest.Options{})
	pw := reviewtest.CreateUser(t, srv.Review.People(), "admin@example.com", review.Admin)
	c := reviewtest.NewClient(t, srv.URL)
	c.Login("admin@example.com", pw)

	r := chi.NewRouter()
	srv.Review.Routes(r)
	type route struct{ method, path string }
	var routes []route
	err := chi.Walk(r, func(method, pattern string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		if strings.HasPrefix(pattern, "/static/") || pattern == "/" || pattern == "/logout" {
			return nil // files, a redirect, and the sign-out (checked below)
		}
		routes = append(routes, route{method, pattern})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(routes) < 5 {
		t.Fatalf("walked only %d page routes: %v", len(routes), routes)
	}
	id := uuid.NewString()
	fill := func(pattern, seg string) string {
		var b strings.Builder
		for _, part := range strings.Split(pattern, "/") {
			if strings.HasPrefix(part, "{") {
				part = seg
			}
			b.WriteString(part + "/")
		}
		return strings.TrimSuffix(b.String(), "/")
	}
	want422 := func(t *testing.T, what string, resp *http.Response, body, field string) {
		t.Helper()
		if resp.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("%s: status %d, want 422", what, resp.StatusCode)
			return
		}
		if !strings.Contains(body, field) {
			t.Errorf("%s: the 422 page does not name the field %q", what, field)
		}
	}
	for _, rt := range routes {
		for _, h := range hostileText {
			switch rt.method {
			case http.MethodGet:
				what := rt.method + " " + rt.path + " query, " + h.name
				resp, body := c.Get(fill(rt.path, id) + "?filter=" + url.QueryEscape(h.s))
				want422(t, what, resp, body, "filter")
				if strings.Contains(rt.path, "{") {
					what := rt.method + " " + rt.path + " path, " + h.name
					resp, body := c.Get(fill(rt.path, url.PathEscape(h.s)))
					if resp.StatusCode != http.StatusUnprocessableEntity && resp.StatusCode != http.StatusNotFound {
						t.Errorf("%s: status %d, want 422 or 404\n%s", what, resp.StatusCode, body)
					}
				}
			case http.MethodPost:
				what := rt.method + " " + rt.path + " form, " + h.name
				resp, body := c.PostForm(fill(rt.path, id), url.Values{"note": {h.s}, "email": {"x@example.com"}})
				want422(t, what, resp, body, "note")
			}
		}
	}
	// Sign-in takes the same rules before it records a failed attempt.
	anon := reviewtest.NewClient(t, srv.URL)
	for _, h := range hostileText {
		resp, body := anon.PostForm("/login", url.Values{"email": {"ana" + h.s + "@example.com"}, "password": {"x"}})
		want422(t, "POST /login email, "+h.name, resp, body, "email")
	}
	// Nothing was stored on the way: the admin is the only person.
	var people int
	if err := srv.Pool.QueryRow(t.Context(), `SELECT count(*) FROM users`).Scan(&people); err != nil {
		t.Fatal(err)
	}
	if people != 1 {
		t.Errorf("%d people after the hostile posts, want 1", people)
	}
}
