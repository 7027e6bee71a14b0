package triage

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/omnitriage/omnitriage/internal/derrors"
	"github.com/omnitriage/omnitriage/orchestration"
	"github.com/omnitriage/omnitriage/rules"
)

// Cause is one reason an exception of a given kind can have, with the fix
// triage recommends for it. Causes are what the classifier predicts; their
// labelled examples are what it predicts from.
type Cause struct {
	// Code names the cause in lower_snake_case; policies key thresholds by it.
	Code string `json:"code"`
	// Kind is the exception kind the cause belongs to (orchestration.Kind…).
	Kind        string `json:"kind"`
	Title       string `json:"title"`
	Description string `json:"description"`
	// DefaultAction is the fix recommended first, one of rules.Actions().
	DefaultAction string `json:"default_action"`
	// Actions are the candidate fixes, best first; DefaultAction is first.
	Actions []string `json:"actions"`
	// Params are default parameters of the actions (a notification
	// template, a retry's backoff), keyed by action.
	Params map[string]map[string]any `json:"params,omitempty"`
}

var causeCodeRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// Validate names each bad field.
func (c Cause) Validate() error {
	v := &derrors.ValidationError{}
	if !causeCodeRE.MatchString(c.Code) {
		v.Add("code", "want lower_snake_case")
	}
	if !slices.Contains(orchestration.ExceptionKinds(), c.Kind) {
		v.Add("kind", "want one of %s", strings.Join(orchestration.ExceptionKinds(), ", "))
	}
	if strings.TrimSpace(c.Title) == "" {
		v.Add("title", "required")
	}
	if !slices.Contains(rules.Actions(), c.DefaultAction) {
		v.Add("default_action", "want one of %s", strings.Join(rules.Actions(), ", "))
	}
	if len(c.Actions) == 0 || c.Actions[0] != c.DefaultAction {
		v.Add("actions", "must start with the default action")
	}
	for i, a := range c.Actions {
		if !slices.Contains(rules.Actions(), a) {
			v.Add(fmt.Sprintf("actions[%d]", i), "want one of %s", strings.Join(rules.Actions(), ", "))
		} else if slices.Index(c.Actions, a) != i {
			v.Add(fmt.Sprintf("actions[%d]", i), "duplicate action %s", a)
		}
	}
	for a := range c.Params {
		if !slices.Contains(c.Actions, a) {
			v.Add("params."+a, "parameters for an action the cause does not list")
		}
	}
	return v.Err()
}
