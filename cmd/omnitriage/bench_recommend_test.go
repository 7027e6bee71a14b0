package main

import (
	"strings"
	"testing"
	"time"

	"github.com/omnitriage/omnitriage/orchestration"
	"github.com/omnitriage/omnitriage/triage"
)

// TestExceptionGen checks the bench's history looks like traffic: every
// exception is valid, phrasings repeat with other ids (so many texts mask
// alike, as real history does) but not all collapse into the library's
// own texts, and a seed gives the same stream.
func TestExceptionGen(t *testing.T) {
	lib := triage.Library()
	locs := []orchestration.Location{{Code: "nj-wh", Kind: "warehouse"}, {Code: "nyc-store", Kind: "store"}}
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	g := newExceptionGen(lib, []string{"SKU-1", "SKU-2"}, locs, 1, streamHistory, now)
	const n = 20000
	messages, texts := map[string]bool{}, map[string]bool{}
	libTexts := map[string]bool{}
	for _, c := range lib {
		for _, ex := range c.Examples {
			libTexts[triage.ExceptionText(c.Kind, ex.Code, ex.Message)] = true
		}
	}
	novel := 0
	for i := 0; i < n; i++ {
		e := g.next()
		x := orchestration.Exception{Kind: e.kind, Severity: e.severity, Code: e.code, Message: e.message, SKU: e.sku, Location: e.location}
		if err := x.Validate(); err != nil {
			t.Fatalf("next() = %+v: %v", e, err)
		}
		if e.at.After(now) || e.at.Before(now.AddDate(-1, 0, -1)) {
			t.Errorf("next().at = %v, want within the year before %v", e.at, now)
		}
		messages[e.message] = true
		tx := e.text()
		texts[tx] = true
		if !libTexts[triage.ExceptionText(e.kind, e.code, e.message)] {
			novel++
		}
	}
	t.Logf("%d exceptions: %d distinct messages, %d distinct embedded texts, %d unlike any library text", n, len(messages), len(texts), novel)
	if len(messages) < n*95/100 {
		t.Errorf("%d distinct messages of %d, want nearly all distinct", len(messages), n)
	}
	if len(texts) < 1000 || len(texts) > n/2 {
		t.Errorf("%d distinct embedded texts of %d, want between 1000 and %d", len(texts), n, n/2)
	}
	a := newExceptionGen(lib, nil, nil, 7, streamQueries, now).next()
	b := newExceptionGen(lib, nil, nil, 7, streamQueries, now).next()
	if a != b {
		t.Errorf("same seed and stream gave %+v and %+v", a, b)
	}
}

func TestExceptionGenVary(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	g := newExceptionGen(triage.Library(), nil, nil, 3, streamHistory, now)
	for _, tc := range []struct{ msg, code string }{
		{"REFUSED: EXPIRED CARD (54) merchantRef WEB-882731 amount EUR 129,90", "54"},
		{"Your card has expired. Charge ch_3PqL2xKz9aB1 for order #A-10482 ($84.20) was declined.", "expired_card"},
		{"FedEx: Delay - Weather. Memphis hub operations suspended due to ice storm; new estimated delivery 2024-01-19", "DLY_WX"},
	} {
		got := g.vary(tc.msg, tc.code)
		if got == tc.msg {
			t.Errorf("vary(%q) changed nothing", tc.msg)
		}
		for _, keep := range []string{"REFUSED:", "(54)", "Charge ch_3", "order #A-", "FedEx: Delay - Weather.", "hub operations"} {
			if strings.Contains(tc.msg, keep) && !strings.Contains(got, keep) {
				t.Errorf("vary(%q) = %q, lost %q", tc.msg, got, keep)
			}
		}
		t.Logf("%s\n  -> %s", tc.msg, got)
	}
}
