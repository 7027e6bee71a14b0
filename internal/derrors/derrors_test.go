package derrors

import (
	"fmt"
	"testing"
)

func TestPlain(t *testing.T) {
	revoke := func() (err error) {
		defer Wrap(&err, "auth.Revoke(%d)", 5)
		return fmt.Errorf("no active key with id 5: %w", NotFound)
	}
	bare := func() (err error) {
		defer Wrap(&err, "GetThing(%q)", "x")
		return Conflict
	}
	ve := &ValidationError{}
	ve.Add("lines[0].qty", "must be a whole number")
	tests := []struct {
		err       error
		plain     string
		logsKeeps string
	}{
		{revoke(), "no active key with id 5", "auth.Revoke(5): no active key with id 5: not found"},
		{fmt.Errorf("POLICY_FILE: %w", Frame(fmt.Errorf("line 3: bad guard"), "rules.LoadFile(%q)", "p.yaml")),
			"POLICY_FILE: line 3: bad guard", `POLICY_FILE: rules.LoadFile("p.yaml"): line 3: bad guard`},
		{bare(), "conflict", `GetThing("x"): conflict`},
		{Frame(ve, "Capture()"), "invalid lines[0].qty: must be a whole number", "Capture(): invalid lines[0].qty: must be a whole number"},
		{fmt.Errorf("plain"), "plain", "plain"},
	}
	for _, tt := range tests {
		if got := Plain(tt.err); got != tt.plain {
			t.Errorf("Plain(%q) = %q, want %q", tt.err, got, tt.plain)
		}
		if got := tt.err.Error(); got != tt.logsKeeps {
			t.Errorf("Error() = %q, want the full chain %q for logs", got, tt.logsKeeps)
		}
	}
}
