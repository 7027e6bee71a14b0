package rules

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
)

// Actions triage may recommend. Policy names are checked against this list so that a
// misspelt action fails at load instead of silently never matching.
const (
	ActionReroute     = "reroute"
	ActionSplit       = "split"
	ActionSubstitute  = "substitute"
	ActionNotify      = "notify"
	ActionCompensate  = "compensate"
	ActionHold        = "hold"
	ActionRetry       = "retry"
	ActionRefund      = "refund"
	ActionRelease     = "release"
	ActionCancelLines = "cancel_lines"
	ActionCancelOrder = "cancel_order"
)

// Actions lists the actions a policy may name.
func Actions() []string {
	return []string{ActionReroute, ActionSplit, ActionSubstitute, ActionNotify, ActionCompensate, ActionHold,
		ActionRetry, ActionRefund, ActionRelease, ActionCancelLines, ActionCancelOrder}
}

// DecisionPolicy is the decision section: when a recommendation may be applied without
// a person.
type DecisionPolicy struct {
	// DefaultThreshold is the confidence needed when neither the cause nor the action
	// has its own threshold.
	DefaultThreshold float64 `json:"default_threshold" yaml:"default_threshold"`
	// Actions maps an action to its confidence threshold.
	Actions map[string]float64 `json:"actions" yaml:"actions"`
	// Causes maps a classified cause to its threshold; it overrides the action's.
	Causes map[string]float64 `json:"causes" yaml:"causes"`
	// NeverAuto lists actions that always go to a person.
	NeverAuto []string `json:"never_auto" yaml:"never_auto"`
	// Guards must all hold for a decision to be applied automatically.
	Guards []Guard `json:"guards" yaml:"guards"`
}

// Guard is a named boolean expression over a GuardEnv that must hold for automatic
// application. It applies to the listed actions and causes; empty lists mean all.
type Guard struct {
	Name    string   `json:"name" yaml:"name"`
	Require string   `json:"require" yaml:"require"`
	Actions []string `json:"actions,omitempty" yaml:"actions"`
	Causes  []string `json:"causes,omitempty" yaml:"causes"`
}

// applies reports whether the guard concerns action and cause.
func (g Guard) applies(action, cause string) bool {
	return (len(g.Actions) == 0 || slices.Contains(g.Actions, action)) &&
		(len(g.Causes) == 0 || slices.Contains(g.Causes, cause))
}

// GuardEnv is what a guard expression can see. Field names in expressions are the expr
// tags, for example "order_value <= 2500 && customer_tier != \"vip\"".
type GuardEnv struct {
	Action             string  `expr:"action"`
	Cause              string  `expr:"cause"`
	Kind               string  `expr:"kind"`
	Channel            string  `expr:"channel"`
	CustomerTier       string  `expr:"customer_tier"`
	Confidence         float64 `expr:"confidence"`
	OrderValue         float64 `expr:"order_value"`
	RefundAmount       float64 `expr:"refund_amount"`
	CompensationAmount float64 `expr:"compensation_amount"`
	StockoutRisk       float64 `expr:"stockout_risk"`
	DeliveryRisk       float64 `expr:"delivery_risk"`
	FraudScore         float64 `expr:"fraud_score"`
	// FraudBand is the screening's band of the score: accept, review,
	// escalate or cancel (limits.fraud), or unknown for a fraud review
	// whose score was not reported.
	FraudBand string `expr:"fraud_band"`
	// RefundLimit is limits.refund.auto_approve_max.
	RefundLimit float64 `expr:"refund_limit"`
	// CompensationLimit is the compensation limit for the customer's tier.
	CompensationLimit float64 `expr:"compensation_limit"`
}

// DecisionInput describes a recommendation about to be applied or queued.
type DecisionInput struct {
	Action             string
	Cause              string
	Kind               string // exception kind, e.g. "carrier_delay"
	Channel            string
	CustomerTier       string
	Confidence         float64
	OrderValue         float64
	RefundAmount       float64
	CompensationAmount float64
	StockoutRisk       float64
	DeliveryRisk       float64
	FraudScore         float64
	// FraudBand is the screening's verdict for the score; when empty it is
	// the policy's band of FraudScore.
	FraudBand string
}

// Decision is the policy's answer for one DecisionInput.
type Decision struct {
	// Auto is true when the action may be applied without a person.
	Auto bool
	// Reason explains the outcome in one sentence, for the case page and the audit trail.
	Reason string
	// Threshold is the confidence threshold that applied (0 for never-automatic actions).
	Threshold float64
	// GuardsFailed names the guards that objected; a guard that errors counts as objecting.
	GuardsFailed []string
}

type compiledGuard struct {
	guard   Guard
	program *vm.Program
}

// Threshold returns the confidence threshold for action and cause and where it came
// from ("cause", "action" or "default").
func (d DecisionPolicy) Threshold(action, cause string) (float64, string) {
	if t, ok := d.Causes[cause]; ok && cause != "" {
		return t, "cause " + cause
	}
	if t, ok := d.Actions[action]; ok {
		return t, "action " + action
	}
	return d.DefaultThreshold, "default"
}

// Evaluate decides whether the recommended action in may be applied automatically:
// the action must not be never-automatic, its confidence must reach the threshold (the
// cause's, else the action's, else the default) and every applicable guard must hold.
func (p *Policy) Evaluate(in DecisionInput) Decision {
	if slices.Contains(p.Decision.NeverAuto, in.Action) {
		return Decision{Reason: fmt.Sprintf("action %s is never applied automatically", in.Action)}
	}
	threshold, source := p.Decision.Threshold(in.Action, in.Cause)
	env := p.guardEnv(in)
	var failed []string
	for _, g := range p.guards {
		if !g.guard.applies(in.Action, in.Cause) {
			continue
		}
		out, err := expr.Run(g.program, env)
		if err != nil {
			failed = append(failed, fmt.Sprintf("%s (error: %v)", g.guard.Name, err))
			continue
		}
		if ok, _ := out.(bool); !ok {
			failed = append(failed, g.guard.Name)
		}
	}
	d := Decision{Threshold: threshold, GuardsFailed: failed}
	switch {
	case in.Confidence < threshold:
		d.Reason = fmt.Sprintf("confidence %.2f below threshold %.2f (%s)", in.Confidence, threshold, source)
	case len(failed) > 0:
		d.Reason = fmt.Sprintf("guard failed: %s", strings.Join(failed, ", "))
	default:
		d.Auto = true
		d.Reason = fmt.Sprintf("confidence %.2f meets threshold %.2f (%s) and all guards hold", in.Confidence, threshold, source)
	}
	return d
}

func (p *Policy) guardEnv(in DecisionInput) GuardEnv {
	return GuardEnv{
		Action:             in.Action,
		Cause:              in.Cause,
		Kind:               in.Kind,
		Channel:            in.Channel,
		CustomerTier:       in.CustomerTier,
		Confidence:         in.Confidence,
		OrderValue:         in.OrderValue,
		RefundAmount:       in.RefundAmount,
		CompensationAmount: in.CompensationAmount,
		StockoutRisk:       in.StockoutRisk,
		DeliveryRisk:       in.DeliveryRisk,
		FraudScore:         in.FraudScore,
		FraudBand:          cmp.Or(in.FraudBand, p.Limits.Fraud.Verdict(in.FraudScore)),
		RefundLimit:        p.Limits.Refund.AutoApproveMax,
		CompensationLimit:  p.Limits.CompensationLimit(in.CustomerTier),
	}
}

// isIdentifier reports whether s is lower snake case, the shape of cause and guard names.
func isIdentifier(s string) bool {
	for i, r := range s {
		switch {
		case r >= 'a' && r <= 'z':
		case i > 0 && (r == '_' || r >= '0' && r <= '9'):
		default:
			return false
		}
	}
	return s != ""
}

// check validates the section and compiles its guards.
func (d *DecisionPolicy) check(c *checker) []compiledGuard {
	const path = "decision"
	if d.DefaultThreshold <= 0 || d.DefaultThreshold > 1 {
		c.errorf(path+".default_threshold", "must be set and in (0, 1], got %g", d.DefaultThreshold)
	}
	for _, a := range sortedKeys(d.Actions) {
		p := path + ".actions." + a
		c.oneOf(p, "action", a, Actions())
		c.fraction(p, d.Actions[a])
	}
	for _, cause := range sortedKeys(d.Causes) {
		p := path + ".causes." + cause
		if !isIdentifier(cause) {
			c.errorf(p, "cause %q is not a lower_snake_case name", cause)
		}
		c.fraction(p, d.Causes[cause])
	}
	for i, a := range d.NeverAuto {
		c.oneOf(fmt.Sprintf("%s.never_auto[%d]", path, i), "action", a, Actions())
	}
	var out []compiledGuard
	names := map[string]bool{}
	for i, g := range d.Guards {
		p := fmt.Sprintf("%s.guards[%d]", path, i)
		if !isIdentifier(g.Name) {
			c.errorf(p+".name", "guard name %q is not a lower_snake_case name", g.Name)
		} else if names[g.Name] {
			c.errorf(p+".name", "duplicate guard name %q", g.Name)
		}
		names[g.Name] = true
		for j, a := range g.Actions {
			c.oneOf(fmt.Sprintf("%s.actions[%d]", p, j), "action", a, Actions())
		}
		if strings.TrimSpace(g.Require) == "" {
			c.errorf(p+".require", "a guard needs a require expression")
			continue
		}
		prog, err := expr.Compile(g.Require, expr.Env(GuardEnv{}), expr.AsBool())
		if err != nil {
			c.errorf(p+".require", "%s", exprMessage(err))
			continue
		}
		out = append(out, compiledGuard{guard: g, program: prog})
	}
	return out
}

// exprMessage shortens an expr compile error to one line with its column.
func exprMessage(err error) string {
	var fe *file.Error
	if errors.As(err, &fe) {
		return fmt.Sprintf("invalid expression: %s (column %d)", fe.Message, fe.Column+1)
	}
	return "invalid expression: " + err.Error()
}
