package triage

import (
	"strings"
	"testing"

	"github.com/omnitriage/omnitriage/orchestration"
	"github.com/omnitriage/omnitriage/rules"
)

// Every action's expected effect reads as a sentence: no Go zero values or
// format verbs, whichever params the policy gave.
func TestExpectedEffectHasNoGoValues(t *testing.T) {
	order := &orchestration.Order{Status: orchestration.StatusCaptured, Currency: "USD", Total: 40,
		Lines: []orchestration.Line{{LineNo: 1, SKU: "A-1", Qty: 1, Status: orchestration.LineAllocated}}}
	for _, action := range rules.Actions() {
		for _, o := range []*orchestration.Order{nil, order} {
			for _, params := range []map[string]any{{}, {"reason": nil, "step": nil, "template": nil}} {
				cc := &caseContext{exc: orchestration.Exception{Kind: orchestration.KindStockout}, order: o}
				if o != nil {
					cc.lines = o.Lines
				}
				c := &Candidate{Action: action, Params: params, Feasible: true}
				checkOrderAction(cc, c)
				for _, bad := range []string{"<nil>", "%!", "map[", "()"} {
					if strings.Contains(c.ExpectedEffect, bad) {
						t.Errorf("%s with params %v (order %t): expected effect %q contains %q", action, params, o != nil, c.ExpectedEffect, bad)
					}
				}
			}
		}
	}
}
