package review

import (
	"bytes"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/omnitriage/omnitriage/models"
	"github.com/omnitriage/omnitriage/orchestration"
	"github.com/omnitriage/omnitriage/triage"
)

// TestCaseTemplateRendersEveryPart executes case.html with each optional
// part present (risk factors, timeline, stock, similar cases, banner), so a
// field the template names that the page model lacks fails here and not as
// a 500 on a real case. The demo's first case with risk factors did.
func TestCaseTemplateRendersEveryPart(t *testing.T) {
	s := &Server{now: time.Now}
	static, err := fs.Sub(files, "static")
	if err != nil {
		t.Fatal(err)
	}
	if s.assets, err = loadAssets(static); err != nil {
		t.Fatal(err)
	}
	pages, err := s.parseTemplates()
	if err != nil {
		t.Fatal(err)
	}
	conf := 0.5
	factor := []models.Factor{{Name: "cover_days", Description: "only 2 days of cover left", Contribution: 0.7}}
	p := casePage{
		Page: Page{Title: "Case"},
		CaseDetail: triage.CaseDetail{
			Case: triage.Case{ID: uuid.New(), Action: "reroute", Confidence: &conf,
				Risks: triage.Risks{Stockout: triage.Risk{Probability: 0.4, Factors: factor},
					Delivery: triage.Risk{Probability: 0.2, Factors: factor}}},
			Exception: orchestration.Exception{Kind: "stockout", Code: "OOS", Message: "out of stock <b>x</b>"},
			Timeline:  &orchestration.Timeline{},
			Stock:     []triage.StockRow{{}},
			Similar:   []triage.SimilarCase{{}},
			DueAt:     time.Now(),
			Locations: []string{"nyc-wh-01"},
			Templates: []string{"delay"},
		},
		ID: "x", CanDecide: true, Banner: "already decided", BannerKind: "warn",
		Reasons: []struct{ Code, Label string }{{"wrong_cause", "Wrong cause"}},
		Actions: []string{"reroute", "notify"},
	}
	var buf bytes.Buffer
	if err := pages["case.html"].ExecuteTemplate(&buf, "base.html", p); err != nil {
		t.Fatalf("case.html: %v", err)
	}
	for _, want := range []string{"only 2 days of cover left", "out of stock &lt;b&gt;x&lt;/b&gt;"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("case page lacks %q", want)
		}
	}
}
