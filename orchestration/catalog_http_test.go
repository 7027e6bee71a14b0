package orchestration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/omnitriage/omnitriage/internal/auth"
	"github.com/omnitriage/omnitriage/internal/web"
)

// catalogServer serves the orchestration API on a fresh database and returns
// it with an admin and a support key.
func catalogServer(t *testing.T) (svc *Service, srv http.Handler, admin, support string) {
	t.Helper()
	svc, pool := seedService(t)
	keys := auth.NewStore(pool, time.Minute, nil)
	ctx := context.Background()
	_, admin, err := keys.Create(ctx, "test-admin", auth.Admin)
	if err != nil {
		t.Fatal(err)
	}
	_, support, err = keys.Create(ctx, "test-support", auth.Support)
	if err != nil {
		t.Fatal(err)
	}
	errs := web.Errors{}
	h := NewHandlers(svc, errs, auth.Middleware{Auth: keys, Render: errs.Render}, 1<<16)
	r := chi.NewRouter()
	r.Route("/v1", h.Register)
	return svc, r, admin, support
}

// catalogCall is one request and what it should answer.
type catalogCall struct {
	name         string
	method, path string
	key          string // "admin", "support" or "" for none
	body         string
	wantStatus   int
	want         map[string]any // top-level fields of the JSON answer, compared as %v
	wantFields   []string       // fields a problem document names
	wantLen      map[string]int // lengths of top-level lists
	wantLocation string
}

func (c catalogCall) run(t *testing.T, srv http.Handler, keys map[string]string) map[string]any {
	t.Helper()
	req := httptest.NewRequest(c.method, c.path, strings.NewReader(c.body))
	if c.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+keys[c.key])
	}
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	what := fmt.Sprintf("%s: %s %s", c.name, c.method, c.path)
	if rec.Code != c.wantStatus {
		t.Errorf("%s = %d %s, want %d", what, rec.Code, rec.Body, c.wantStatus)
		return nil
	}
	wantType := "application/json"
	if c.wantStatus >= 400 {
		wantType = "application/problem+json"
	}
	if ct := rec.Header().Get("Content-Type"); ct != wantType {
		t.Errorf("%s Content-Type = %q, want %q", what, ct, wantType)
	}
	if loc := rec.Header().Get("Location"); loc != c.wantLocation {
		t.Errorf("%s Location = %q, want %q", what, loc, c.wantLocation)
	}
	var got map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatalf("%s: answer %q is not a JSON object: %v", what, rec.Body, err)
	}
	for k, v := range c.want {
		if fmt.Sprint(got[k]) != fmt.Sprint(v) {
			t.Errorf("%s: %s = %v, want %v", what, k, got[k], v)
		}
	}
	for k, n := range c.wantLen {
		if l, _ := got[k].([]any); len(l) != n {
			t.Errorf("%s: len(%s) = %d, want %d", what, k, len(l), n)
		}
	}
	if c.wantFields != nil {
		var fields []string
		fs, _ := got["fields"].([]any)
		for _, f := range fs {
			fields = append(fields, fmt.Sprint(f.(map[string]any)["field"]))
		}
		if !slices.Equal(fields, c.wantFields) {
			t.Errorf("%s: problem fields = %v, want %v", what, fields, c.wantFields)
		}
	}
	return got
}

func TestCatalogHTTP(t *testing.T) {
	t.Parallel()
	_, srv, admin, support := catalogServer(t)
	keys := map[string]string{"admin": admin, "support": support}
	const (
		store = `{"code":"nyc-store-01","name":"Larkspur Midtown","kind":"store","region":"us-northeast","lat":40.75,"lon":-73.98,` +
			`"timezone":"America/New_York","can_pickup":true,"daily_capacity":120,"handling_cost":2.5,"handling_hours":3,"cutoff":"18:00","priority":3}`
		sku = `{"code":"SKU-000001","name":"Classic Kettle, Sage","price":39.99,"cost":18.5,"weight_kg":1.2}`
	)
	// The calls run in order: later ones see what earlier ones stored.
	for _, c := range []catalogCall{
		{name: "no key", method: "GET", path: "/v1/channels", wantStatus: 401},
		{name: "empty list", method: "GET", path: "/v1/channels", key: "support", wantStatus: 200, wantLen: map[string]int{"channels": 0}},
		{name: "create channel", method: "POST", path: "/v1/channels", key: "admin", body: `{"code":"web","name":"Web","kind":"web"}`,
			wantStatus: 201, want: map[string]any{"code": "web", "name": "Web", "active": true}},
		{name: "replace channel", method: "POST", path: "/v1/channels", key: "admin", body: `{"code":"web","name":"Web shop","kind":"web","active":false}`,
			wantStatus: 200, want: map[string]any{"code": "web", "name": "Web shop", "active": false}},
		{name: "support may not write", method: "POST", path: "/v1/channels", key: "support", body: `{"code":"app","name":"App","kind":"mobile"}`,
			wantStatus: 403},
		{name: "bad channel", method: "POST", path: "/v1/channels", key: "admin", body: `{"code":"Web Shop","name":" ","kind":"fax"}`,
			wantStatus: 422, wantFields: []string{"code", "name", "kind"}},
		{name: "unknown field", method: "POST", path: "/v1/channels", key: "admin", body: `{"code":"app","name":"App","kind":"mobile","colour":"red"}`,
			wantStatus: 422, wantFields: []string{"colour"}},
		{name: "wrong type", method: "POST", path: "/v1/channels", key: "admin", body: `{"code":"app","name":"App","kind":"mobile","active":"yes"}`,
			wantStatus: 422, wantFields: []string{"active"}},
		{name: "list channels", method: "GET", path: "/v1/channels", key: "support", wantStatus: 200, wantLen: map[string]int{"channels": 1}},

		{name: "create location", method: "POST", path: "/v1/locations", key: "admin", body: store,
			wantStatus: 201, wantLocation: "/v1/locations/nyc-store-01",
			want: map[string]any{"code": "nyc-store-01", "can_pickup": true, "can_ship": false, "active": true, "cutoff": "18:00"}},
		{name: "replace location", method: "POST", path: "/v1/locations", key: "admin", body: strings.Replace(store, `"daily_capacity":120`, `"daily_capacity":150`, 1),
			wantStatus: 200, want: map[string]any{"daily_capacity": 150}},
		{name: "location defaults", method: "POST", path: "/v1/locations", key: "admin",
			body:       `{"code":"chi-wh-01","name":"Joliet DC","kind":"warehouse","region":"us-midwest","lat":41.5,"lon":-88.1,"can_ship":true}`,
			wantStatus: 201, wantLocation: "/v1/locations/chi-wh-01", want: map[string]any{"timezone": "UTC", "cutoff": "15:00"}},
		{name: "bad location", method: "POST", path: "/v1/locations", key: "admin",
			body:       `{"code":"x","name":"X","kind":"store","region":"r","lat":91,"lon":0,"timezone":"Mars/Olympus","cutoff":"25:00"}`,
			wantStatus: 422, wantFields: []string{"lat", "timezone", "cutoff"}},
		{name: "get location", method: "GET", path: "/v1/locations/nyc-store-01", key: "support", wantStatus: 200,
			want: map[string]any{"code": "nyc-store-01", "timezone": "America/New_York", "daily_capacity": 150}},
		{name: "unknown location", method: "GET", path: "/v1/locations/nope", key: "support", wantStatus: 404,
			want: map[string]any{"status": 404}},
		{name: "list locations", method: "GET", path: "/v1/locations", key: "support", wantStatus: 200, wantLen: map[string]int{"locations": 2}},

		{name: "create SKU", method: "POST", path: "/v1/skus", key: "admin", body: sku,
			wantStatus: 201, wantLocation: "/v1/skus/SKU-000001", want: map[string]any{"code": "SKU-000001", "price": 39.99, "substitutes": []any{}}},
		{name: "replace SKU", method: "POST", path: "/v1/skus", key: "admin", body: strings.Replace(sku, `}`, `,"substitutes":["SKU-000002"]}`, 1),
			wantStatus: 200, want: map[string]any{"substitutes": []any{"SKU-000002"}}},
		{name: "bad SKU", method: "POST", path: "/v1/skus", key: "admin", body: `{"code":"SKU 1","name":"X","price":-1,"cost":1,"substitutes":["SKU 1"]}`,
			wantStatus: 422, wantFields: []string{"code", "price", "substitutes[0]"}},
		{name: "malformed body", method: "POST", path: "/v1/skus", key: "admin", body: `{"code":`, wantStatus: 422},
		{name: "get SKU", method: "GET", path: "/v1/skus/SKU-000001", key: "support", wantStatus: 200, want: map[string]any{"name": "Classic Kettle, Sage"}},
		{name: "unknown SKU", method: "GET", path: "/v1/skus/SKU-999999", key: "support", wantStatus: 404},
	} {
		c.run(t, srv, keys)
	}
}

func TestCatalogHTTPListSKUs(t *testing.T) {
	t.Parallel()
	svc, srv, admin, support := catalogServer(t)
	keys := map[string]string{"admin": admin, "support": support}
	ctx := context.Background()
	var codes []string
	for i := 1; i <= 5; i++ {
		k, err := svc.CreateSKU(ctx, SKU{Code: fmt.Sprintf("SKU-%06d", i), Name: "Item", Price: 10, Cost: 5, Active: true})
		if err != nil {
			t.Fatal(err)
		}
		codes = append(codes, k.Code)
	}

	// Page through two at a time until next is null.
	var seen []string
	path := "/v1/skus?limit=2"
	for pages := 0; path != ""; pages++ {
		if pages > 5 {
			t.Fatalf("paging did not end; seen %v", seen)
		}
		got := catalogCall{name: "page", method: "GET", path: path, key: "support", wantStatus: 200}.run(t, srv, keys)
		if got == nil {
			return
		}
		list, _ := got["skus"].([]any)
		for _, k := range list {
			seen = append(seen, fmt.Sprint(k.(map[string]any)["code"]))
		}
		next, ok := got["next"]
		if !ok {
			t.Fatalf("GET %s has no next field", path)
		}
		path = ""
		if next != nil {
			path = "/v1/skus?limit=2&after=" + fmt.Sprint(next)
		}
	}
	if !slices.Equal(seen, codes) {
		t.Errorf("paged SKUs = %v, want %v", seen, codes)
	}

	for _, c := range []catalogCall{
		{name: "default limit", method: "GET", path: "/v1/skus", key: "support", wantStatus: 200,
			wantLen: map[string]int{"skus": 5}, want: map[string]any{"next": nil}},
		{name: "after the last", method: "GET", path: "/v1/skus?after=SKU-000005", key: "support", wantStatus: 200,
			wantLen: map[string]int{"skus": 0}, want: map[string]any{"next": nil}},
		{name: "full page has next", method: "GET", path: "/v1/skus?limit=5", key: "support", wantStatus: 200,
			wantLen: map[string]int{"skus": 5}, want: map[string]any{"next": "SKU-000005"}},
		{name: "limit zero", method: "GET", path: "/v1/skus?limit=0", key: "support", wantStatus: 422, wantFields: []string{"limit"}},
		{name: "limit too big", method: "GET", path: "/v1/skus?limit=1001", key: "support", wantStatus: 422, wantFields: []string{"limit"}},
		{name: "limit not a number", method: "GET", path: "/v1/skus?limit=ten", key: "support", wantStatus: 422, wantFields: []string{"limit"}},
		{name: "after too long", method: "GET", path: "/v1/skus?after=" + strings.Repeat("A", 65), key: "support", wantStatus: 422, wantFields: []string{"after"}},
	} {
		c.run(t, srv, keys)
	}
}
