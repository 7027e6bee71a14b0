package triage

import (
	"strings"
	"testing"

	"github.com/omnitriage/omnitriage/orchestration"
)

// TestNonsenseIsUnknown reports messages that say nothing a cause could be
// read from: each gets a low confidence or the unknown cause, and none is
// applied automatically, though every one is of a kind whose fix the policy
// would apply.
func TestNonsenseIsUnknown(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{applier: &recordingApplier{}})
	huge := `{"blob":"` + strings.Repeat("a", 1<<20) + `"}`
	tests := []struct {
		name, code, message, payload string
	}{
		{"single letter", "", "x", ""},
		{"single letter, huge payload", "", "x", huge},
		{"single letter with a known code", "ETIMEDOUT", "x", ""},
		{"emoji", "", "🔥🔥🔥 😱", ""},
		{"random characters", "", "ꙮ௵ʘ჻ᚠ⌘ꞈ\x03\x7f", ""},
		{"random letters", "", "qzxkpw vbnmlk jhgfds", ""},
		{"punctuation", "", "?!?! ... ---", ""},
		{"digits", "", "123 4567 89", ""},
		{"another domain", "", "The mitochondria is the powerhouse of the cell, producing adenosine triphosphate", ""},
		{"a recipe", "", "Whisk two eggs with flour and sugar, then bake at moderate heat until golden", ""},
		{"lorem ipsum", "", "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := orchestration.Exception{Kind: orchestration.KindIntegrationError, Severity: orchestration.SeverityMedium,
				Endpoint: "carrier.ship", Code: tt.code, Message: tt.message}
			if tt.payload != "" {
				e.Payload = []byte(tt.payload)
			}
			c := f.report(t, e)
			conf := deref(c.Confidence)
			if c.Cause != CauseUnknown && conf >= 0.3 {
				t.Errorf("%q: cause %s at confidence %.2f (%s), want unknown or below 0.30", tt.message, c.Cause, conf, c.Reason)
			}
			if c.Status == StatusAutoApplied || c.Result != nil {
				t.Errorf("%q: applied automatically (%s)", tt.message, c.Reason)
			}
			if c.Cause == CauseUnknown && (c.Action != "" || !strings.Contains(c.Reason, "unknown cause")) {
				t.Errorf("%q: unknown cause with action %q, reason %q; want no action and the reason", tt.message, c.Action, c.Reason)
			}
		})
	}
	// A real message of the same kind still is what it was.
	c := f.report(t, timeoutException())
	if c.Cause == CauseUnknown || c.Status != StatusAutoApplied || deref(c.Confidence) < 0.65 {
		t.Errorf("a real timeout: %s %s at %.2f (%s), want applied", c.Status, c.Cause, deref(c.Confidence), c.Reason)
	}
}
