package main

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/omnitriage/omnitriage/internal/auth"
)

// hostileTexts are strings no field, path segment or query value may carry,
// each as it travels in a JSON string and percent-encoded in a URL.
var hostileTexts = []struct{ name, json, url string }{
	{"NUL", `a\u0000b`, "a%00b"},
	{"C0 control", `a\u0007b`, "a%07b"},
	{"escape", `a\u001bb`, "a%1Bb"},
	{"DEL", `a\u007fb`, "a%7Fb"},
	{"C1 control", `a\u0085b`, "a%C2%85b"},
	{"lone surrogate", `a\ud800b`, "a%ED%A0%80b"},
	{"RTL override", `a\u202eb`, "a%E2%80%AEb"},
	{"invalid UTF-8", "a\xffb", "a%FFb"},
	{"overlong UTF-8", "a\xc0\xafb", "a%C0%AFb"},
}

var routeParam = regexp.MustCompile(`\{[^}]+\}`)

// TestHostileTextOnEveryRoute walks the router, so a route added later is
// covered without a change here: every /v1 route with a body is sent each
// hostile string as a value and as a key, every route gets it in each path
// parameter and as a query value, and each answer must be a 4xx
// problem document (never a 5xx), with nothing written to the database.
func TestHostileTextOnEveryRoute(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	ctx := context.Background()
	_, key, err := ts.app.keys.Create(ctx, "hostile", auth.Admin)
	if err != nil {
		t.Fatal(err)
	}
	count := func() string {
		var s string
		err := ts.app.pool.QueryRow(ctx, `SELECT concat_ws(',',
			(SELECT count(*) FROM orders), (SELECT count(*) FROM exceptions), (SELECT count(*) FROM cases),
			(SELECT count(*) FROM stock_ledger), (SELECT count(*) FROM reservations), (SELECT count(*) FROM api_keys))`).Scan(&s)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	before := count()
	type route struct{ method, path string }
	var routes []route
	err = chi.Walk(ts.app.router, func(method, path string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		path = strings.ReplaceAll(path, "/*/", "/")
		if strings.HasPrefix(path, "/v1/") {
			routes = append(routes, route{method, path})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(routes) < 30 {
		t.Fatalf("walked %d /v1 routes, want the whole API", len(routes))
	}
	check := func(what, method, url, body string) {
		t.Helper()
		var rd *strings.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, err := http.NewRequest(method, url, nil)
		if rd != nil {
			req, err = http.NewRequest(method, url, rd)
			req.Header.Set("Content-Type", "application/json")
		}
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		defer resp.Body.Close()
		var p struct {
			Status int `json:"status"`
		}
		ct := resp.Header.Get("Content-Type")
		if resp.StatusCode < 400 || resp.StatusCode >= 500 {
			t.Errorf("%s answered %d, want a 4xx", what, resp.StatusCode)
			return
		}
		if !strings.HasPrefix(ct, "application/problem+json") {
			t.Errorf("%s answered %s, want application/problem+json", what, ct)
			return
		}
		if err := json.NewDecoder(resp.Body).Decode(&p); err != nil || p.Status != resp.StatusCode {
			t.Errorf("%s: problem document %+v (%v) does not carry status %d", what, p, err, resp.StatusCode)
		}
	}
	for _, rt := range routes {
		plain := routeParam.ReplaceAllString(rt.path, "00000000-0000-0000-0000-000000000000")
		for _, h := range hostileTexts {
			// In each path parameter.
			for _, m := range routeParam.FindAllStringIndex(rt.path, -1) {
				p := routeParam.ReplaceAllString(rt.path[:m[0]], "00000000-0000-0000-0000-000000000000") + h.url +
					routeParam.ReplaceAllString(rt.path[m[1]:], "00000000-0000-0000-0000-000000000000")
				check(rt.method+" "+rt.path+" with "+h.name+" in a path parameter", rt.method, ts.url+p, bodyFor(rt.method, `{}`))
			}
			// As a query value.
			check(rt.method+" "+rt.path+" with "+h.name+" in the query", rt.method, ts.url+plain+"?limit="+h.url, bodyFor(rt.method, `{}`))
			if rt.method == http.MethodPost || rt.method == http.MethodPatch || rt.method == http.MethodPut {
				check(rt.method+" "+rt.path+" with "+h.name+" in a value", rt.method, ts.url+plain, `{"id":"`+h.json+`","note":{"x":["`+h.json+`"]}}`)
				check(rt.method+" "+rt.path+" with "+h.name+" in a key", rt.method, ts.url+plain, `{"`+h.json+`":1}`)
			}
		}
	}
	if after := count(); after != before {
		t.Errorf("rows (orders, exceptions, cases, ledger, reservations, keys) went from %s to %s", before, after)
	}
}

func bodyFor(method, body string) string {
	if method == http.MethodPost || method == http.MethodPatch || method == http.MethodPut {
		return body
	}
	return ""
}
