package triage

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/omnitriage/omnitriage/internal/auth"
)

// TestReportDedupeHTTP reports one problem 20 times at once on POST
// /v1/exceptions, each report with its own id and tracking number: one
// exception and one case answer all of them, counting them; the first is
// 201, the repeats 200 with the count.
func TestReportDedupeHTTP(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	a := newAPI(t, f)
	f.network(t, map[string][3]int{"SKU-1": {5, 0, 0}}, nil)
	o := f.order(t, "W-1", "SKU-1", 1, "standard")
	body := func(i int) string {
		return fmt.Sprintf(`{"exception":{"id":%q,"kind":"carrier_delay","severity":"high","carrier":"ups","code":"WEATHER",
			"order_id":%q,"message":"UPS: Severe weather conditions have delayed delivery. Tracking 1Z999AA1%08d, Omaha hub closed"}}`,
			uuid.New(), o.ID, i)
	}
	const n = 20
	type answer struct {
		status   int
		location string
		body     string
	}
	got := make([]answer, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, err := http.NewRequest("POST", a.url+"/v1/exceptions", strings.NewReader(body(i)))
			if err != nil {
				t.Error(err)
				return
			}
			req.Header.Set("Authorization", "Bearer "+a.keys[auth.Orchestrator])
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			got[i] = answer{resp.StatusCode, resp.Header.Get("Location"), string(b)}
		}()
	}
	wg.Wait()
	cases := f.count(t, `SELECT count(*) FROM cases WHERE order_id = $1`, o.ID)
	excs := f.count(t, `SELECT count(*) FROM exceptions WHERE order_id = $1`, o.ID)
	if cases != 1 || excs != 1 {
		t.Fatalf("%d cases and %d exceptions for %d reports of one problem, want 1 and 1", cases, excs, n)
	}
	var statuses []int
	for i, g := range got {
		statuses = append(statuses, g.status)
		if g.location != got[0].location || g.location == "" {
			t.Errorf("report %d: Location %q, report 0 %q", i, g.location, got[0].location)
		}
		if g.status == http.StatusOK && !strings.Contains(g.body, `"occurrences":`) {
			t.Errorf("repeat %d answered without occurrences: %s", i, g.body)
		}
	}
	slices.Sort(statuses)
	if statuses[0] != http.StatusOK || statuses[n-2] != http.StatusOK || statuses[n-1] != http.StatusCreated {
		t.Errorf("statuses %v, want one 201 and %d 200", statuses, n-1)
	}
	caseID := strings.TrimPrefix(got[0].location, "/v1/cases/")
	if occ := f.count(t, `SELECT occurrences FROM cases WHERE id = $1`, caseID); occ != n {
		t.Errorf("occurrences %d, want %d", occ, n)
	}
	if c := f.count(t, `SELECT count(*) FROM case_reports WHERE case_id = $1`, caseID); c != n-1 {
		t.Errorf("%d linked repeat reports, want %d", c, n-1)
	}
	// Another problem of the same order is a case of its own.
	other := strings.Replace(body(99), "Omaha", "Denver", 1)
	if r := a.do(t, auth.Orchestrator, "POST", "/v1/exceptions", other); r.status != http.StatusCreated ||
		r.header.Get("Location") == got[0].location {
		t.Errorf("another hub's closure: %d %s, want 201 and a case of its own", r.status, r.header.Get("Location"))
	}
}

// TestExceptionRequestShape sends the one exception request shape to both
// routes: POST /v1/exceptions takes {"exception", "context"} as POST
// /v1/recommendations does, names bad fields alike, and still takes its
// legacy flat form.
func TestExceptionRequestShape(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	a := newAPI(t, f)
	nested := `{"exception":{"kind":"integration_error","severity":"medium","code":"ETIMEDOUT","endpoint":"wms.release",
		"message":"Read timed out (read timeout=15) on GET https://wms.internal/api/v1/orders/88120/status"},
		"context":{"order_value":120,"currency":"USD"}}`
	flat := `{"kind":"payment_failed","severity":"high","code":"51","message":"Card declined: insufficient funds (51)",
		"context":{"order_value":80,"currency":"USD"}}`
	tests := []struct {
		name   string
		path   string
		body   string
		status int
		fields []string
	}{
		{"nested report", "/v1/exceptions", nested, 201, nil},
		{"legacy flat report", "/v1/exceptions", flat, 201, nil},
		{"nested bad fields", "/v1/exceptions", `{"exception":{"kind":"weather","severity":"urgent","message":" "},"context":{"currency":"eur"}}`,
			422, []string{"context.currency", "exception.kind", "exception.message", "exception.severity"}},
		{"nested bad fields, recommendation", "/v1/recommendations",
			`{"exception":{"kind":"weather","severity":"urgent","message":" "},"context":{"currency":"eur"}}`,
			422, []string{"context.currency", "exception.kind", "exception.message", "exception.severity"}},
		{"nested wrong type", "/v1/exceptions", `{"exception":{"kind":"stockout","severity":"low","message":"x","line_ids":"l1"}}`,
			422, []string{"exception.line_ids"}},
		{"nested wrong type, recommendation", "/v1/recommendations",
			`{"exception":{"kind":"stockout","severity":"low","message":"x","line_ids":"l1"}}`, 422, []string{"exception.line_ids"}},
		{"nested unknown field", "/v1/exceptions", `{"exception":{"kind":"stockout","severity":"low","message":"x"},"mode":"dry_run"}`,
			422, []string{"mode"}},
		{"legacy flat bad fields", "/v1/exceptions", `{"kind":"weather","severity":"urgent","message":" "}`,
			422, []string{"kind", "message", "severity"}},
	}
	for _, tt := range tests {
		r := a.do(t, auth.Orchestrator, "POST", tt.path, tt.body)
		if r.status != tt.status {
			t.Errorf("%s: status %d (%s), want %d", tt.name, r.status, r.body, tt.status)
			continue
		}
		if tt.status == 422 {
			if got := problemFields(t, r); !slices.Equal(got, tt.fields) {
				t.Errorf("%s: fields %v, want %v", tt.name, got, tt.fields)
			}
		}
	}
	if n := f.count(t, `SELECT count(*) FROM cases WHERE context->>'order_value' IN ('120', '80')`); n != 2 {
		t.Errorf("%d cases kept the context of the two reports, want 2", n)
	}
}
