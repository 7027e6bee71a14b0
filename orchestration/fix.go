package orchestration

import (
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/omnitriage/omnitriage/internal/derrors"
	"github.com/omnitriage/omnitriage/orchestration/adapter"
	"github.com/omnitriage/omnitriage/rules"
)

// RetryStep is a step of the lifecycle a retry command runs again.
type RetryStep string

// The steps a retry runs again.
const (
	StepChecks  RetryStep = "checks"  // payment authorisation, fraud screening, address and tax
	StepRelease RetryStep = "release" // release to the fulfilling location
	StepShip    RetryStep = "ship"    // the carrier booking
	StepPost    RetryStep = "post"    // the ERP postings that were rejected
	StepNotify  RetryStep = "notify"  // the customer notifications that failed
)

// RetrySteps lists every RetryStep.
func RetrySteps() []RetryStep {
	return []RetryStep{StepChecks, StepRelease, StepShip, StepPost, StepNotify}
}

// stepTerms names, word by word, what a fix's "step" may say (an adapter
// system or operation as in an exception's endpoint "payment/authorize", an
// exception kind's words, a library cause's step such as "erp_post") and the
// step that word stands for. A word not here stands for nothing.
var stepTerms = map[string]RetryStep{
	"checks": StepChecks, adapter.SystemPayment: StepChecks, adapter.SystemFraud: StepChecks,
	adapter.OpAuthorize: StepChecks, "auth": StepChecks, "authorization": StepChecks, "authorisation": StepChecks,
	"address": StepChecks,

	"release": StepRelease, adapter.SystemFulfillment: StepRelease, "fulfilment": StepRelease, "fulfil": StepRelease,
	"fulfill": StepRelease, "wms": StepRelease,

	"ship": StepShip, adapter.SystemCarrier: StepShip, adapter.OpBook: StepShip, "booking": StepShip,
	"shipment": StepShip, "shipping": StepShip,

	"post": StepPost, adapter.SystemERP: StepPost, "posting": StepPost,

	adapter.SystemNotify: StepNotify, "notification": StepNotify, "notifications": StepNotify,
}

// ParseRetryStep reads the step a fix names: the words of s (split at
// "/", ".", "_", "-" and spaces, case ignored) are looked up in order and
// the first that names a step decides, so "carrier.ship", "payment/authorize",
// "erp/post_payment_capture" and "erp_post" name ship, checks, post and post.
// A step naming none is Invalid.
func ParseRetryStep(s string) (RetryStep, error) {
	words := strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return r == '/' || r == '.' || r == '_' || r == '-' || r == ' '
	})
	for _, w := range words {
		if st, ok := stepTerms[w]; ok {
			return st, nil
		}
	}
	return "", fmt.Errorf("no core step to retry for %q (want one naming %s): %w", s, strings.Join(stepNames(), ", "), derrors.Invalid)
}

func stepNames() []string {
	var out []string
	for _, s := range RetrySteps() {
		out = append(out, string(s))
	}
	return out
}

// Fix is a fix chosen by triage (or a person) for an order, as the core
// carries it out: Action is one of rules.Actions(), Params its parameters as
// decoded from JSON. ID is the command's idempotency key.
type Fix struct {
	ID      string
	OrderID *uuid.UUID
	Action  string
	Params  map[string]any
	Reason  string
}

// str is the string parameter k, "" when absent or of another type.
func (f Fix) str(k string) string { s, _ := f.Params[k].(string); return s }

// fixBuilder fills in c, which has the fix's id, order, reason and lines,
// for one action.
type fixBuilder func(c *Command, f Fix) error

// fixCommands is the table from a fix's action to the core command that
// carries it out. rules.ActionRefund is not here: it approves a return's
// refund (FixCommand).
var fixCommands = map[string]fixBuilder{
	rules.ActionReroute: func(c *Command, f Fix) error {
		c.Kind, c.Location = CmdReroute, f.str("to_location")
		return nil
	},
	rules.ActionSplit: func(c *Command, f Fix) error { c.Kind = CmdSplit; return nil },
	rules.ActionSubstitute: func(c *Command, f Fix) error {
		c.Kind, c.SKU = CmdSubstitute, f.str("substitute")
		if len(c.Lines) > 1 {
			c.Lines = c.Lines[:1]
		}
		return nil
	},
	rules.ActionHold:    func(c *Command, f Fix) error { c.Kind = CmdHold; return nil },
	rules.ActionRelease: func(c *Command, f Fix) error { c.Kind = CmdReleaseHold; return nil },
	rules.ActionNotify: func(c *Command, f Fix) error {
		c.Kind, c.Template = CmdNotify, f.str("template")
		if d, ok := f.Params["data"].(map[string]any); ok {
			c.Data = d
		}
		return nil
	},
	rules.ActionCompensate: func(c *Command, f Fix) error {
		c.Kind, c.Credit = CmdCompensate, f.str("kind")
		if c.Credit == "" {
			c.Credit = "credit"
		}
		c.Amount, _ = f.Params["amount"].(float64)
		return nil
	},
	rules.ActionCancelLines: func(c *Command, f Fix) error { c.Kind = CmdCancelLines; return nil },
	rules.ActionCancelOrder: func(c *Command, f Fix) error {
		c.Kind, c.Lines = CmdCancelLines, nil
		return nil
	},
	rules.ActionRetry: func(c *Command, f Fix) error {
		step, err := ParseRetryStep(f.str("step"))
		c.Kind, c.Step = CmdRetry, step
		return err
	},
}

// FixActions lists the actions FixCommand carries out, sorted.
func FixActions() []string {
	out := []string{rules.ActionRefund}
	for a := range fixCommands {
		out = append(out, a)
	}
	slices.Sort(out)
	return out
}

// FixCommand maps a fix to the core command that carries it out or, for a
// refund, to the return whose refund is to be approved (refund is then set
// and the command zero). A fix with no order, an action the core has no
// command for, or parameters it cannot take is Invalid, saying which.
func FixCommand(f Fix) (_ Command, refund uuid.UUID, _ error) {
	if f.OrderID == nil {
		return Command{}, uuid.Nil, fmt.Errorf("%s needs an order; this exception has none: %w", f.Action, derrors.Invalid)
	}
	if f.Action == rules.ActionRefund {
		s := f.str("return_id")
		if s == "" {
			return Command{}, uuid.Nil, fmt.Errorf("refund needs the return it is for: %w", derrors.Invalid)
		}
		id, err := uuid.Parse(s)
		if err != nil || id == uuid.Nil {
			return Command{}, uuid.Nil, fmt.Errorf("return id %q: %w", s, derrors.Invalid)
		}
		return Command{}, id, nil
	}
	build, ok := fixCommands[f.Action]
	if !ok {
		return Command{}, uuid.Nil, fmt.Errorf("the core has no command for %q (it carries out %s): %w",
			f.Action, strings.Join(FixActions(), ", "), derrors.Invalid)
	}
	c := Command{ID: f.ID, OrderID: *f.OrderID, Reason: f.Reason, Lines: intList(f.Params["lines"])}
	if err := build(&c, f); err != nil {
		return Command{}, uuid.Nil, err
	}
	return c, uuid.Nil, nil
}

// intList reads line numbers from a JSON-decoded parameter.
func intList(v any) []int {
	var out []int
	switch xs := v.(type) {
	case []int:
		return xs
	case []any:
		for _, x := range xs {
			switch n := x.(type) {
			case float64:
				out = append(out, int(n))
			case int:
				out = append(out, n)
			}
		}
	}
	return out
}
