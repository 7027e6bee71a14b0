package triage

import (
	"testing"

	"github.com/omnitriage/omnitriage/orchestration/adapter"
	"github.com/omnitriage/omnitriage/rules"
)

// Every notification the cause library recommends names a template the core
// accepts, so a notify fix is never refused for its template.
func TestLibraryTemplatesAreKnownToTheCore(t *testing.T) {
	for _, c := range Library() {
		if p, ok := c.Params[rules.ActionNotify]; ok {
			if name, _ := p["template"].(string); !adapter.KnownTemplate(name) {
				t.Errorf("cause %s: notify template %q is not one the core accepts", c.Code, name)
			}
		}
	}
	if !adapter.KnownTemplate("exception_update") {
		t.Errorf("triage's default template exception_update is not known to the core")
	}
}
