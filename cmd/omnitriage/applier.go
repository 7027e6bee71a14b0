package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/omnitriage/omnitriage/internal/derrors"
	"github.com/omnitriage/omnitriage/orchestration"
	"github.com/omnitriage/omnitriage/rules"
	"github.com/omnitriage/omnitriage/triage"
)

// coreApplier carries out triage's fixes through the orchestration core's
// commands. Triage's command id (stable per case) is the core command's id, so
// a retried or doubled apply changes the order once.
type coreApplier struct {
	orch *orchestration.Service
}

// Apply maps the fix to a core command and applies it. A fix the core has no
// command for is an error, so the case stays with a person.
func (c coreApplier) Apply(ctx context.Context, cmd triage.Command) (triage.Result, error) {
	oc, refund, err := coreCommand(cmd)
	if err != nil {
		return triage.Result{}, err
	}
	if refund != uuid.Nil {
		return c.approveRefund(ctx, cmd, refund)
	}
	res, err := c.orch.Apply(ctx, cmd.Actor, oc)
	if err != nil {
		return triage.Result{}, err
	}
	return triage.Result{Message: res.Summary, Data: map[string]any{"command_id": res.CommandID, "replayed": res.Replayed}}, nil
}

// Validate says, without applying anything, why the core would refuse the
// fix outright: no order to act on, no core command for the action, or
// parameters it cannot take. Triage asks before deciding to apply a fix
// automatically, so such a case goes to a person with that reason.
func (c coreApplier) Validate(cmd triage.Command) error {
	_, _, err := coreCommand(cmd)
	return err
}

// ValidateState says whether the core would accept the fix in the order's
// current state (a retry of a step the order is no longer in, a reroute of
// a shipped order are refused), by running the core command in a
// transaction that is rolled back. A refund is checked as far as Validate
// checks it.
func (c coreApplier) ValidateState(ctx context.Context, cmd triage.Command) error {
	oc, refund, err := coreCommand(cmd)
	if err != nil || refund != uuid.Nil {
		return err
	}
	oc.ID = "whatif:" + uuid.NewString()
	return c.orch.CheckCommand(ctx, cmd.Actor, oc)
}

// coreCommand maps a fix to the core command that carries it out, or, for
// a refund, to the return whose refund is approved.
func coreCommand(cmd triage.Command) (_ orchestration.Command, refund uuid.UUID, _ error) {
	fail := func(err error) (orchestration.Command, uuid.UUID, error) {
		return orchestration.Command{}, uuid.Nil, err
	}
	if cmd.OrderID == nil {
		return fail(fmt.Errorf("%s needs an order; this exception has none: %w", cmd.Action, derrors.Invalid))
	}
	oc := orchestration.Command{ID: cmd.ID, OrderID: *cmd.OrderID, Reason: cmd.Reason, Lines: intList(cmd.Params["lines"])}
	str := func(k string) string { s, _ := cmd.Params[k].(string); return s }
	switch cmd.Action {
	case rules.ActionReroute:
		oc.Kind, oc.Location = orchestration.CmdReroute, str("to_location")
	case rules.ActionSplit:
		oc.Kind = orchestration.CmdSplit
	case rules.ActionSubstitute:
		oc.Kind, oc.SKU = orchestration.CmdSubstitute, str("substitute")
		if len(oc.Lines) > 1 {
			oc.Lines = oc.Lines[:1]
		}
	case rules.ActionHold:
		oc.Kind = orchestration.CmdHold
	case rules.ActionRelease:
		oc.Kind = orchestration.CmdReleaseHold
	case rules.ActionNotify:
		oc.Kind, oc.Template = orchestration.CmdNotify, str("template")
		if d, ok := cmd.Params["data"].(map[string]any); ok {
			oc.Data = d
		}
	case rules.ActionCompensate:
		oc.Kind, oc.Credit = orchestration.CmdCompensate, str("kind")
		if oc.Credit == "" {
			oc.Credit = "credit"
		}
		oc.Amount, _ = cmd.Params["amount"].(float64)
	case rules.ActionCancelLines:
		oc.Kind = orchestration.CmdCancelLines
	case rules.ActionCancelOrder:
		oc.Kind, oc.Lines = orchestration.CmdCancelLines, nil
	case rules.ActionRetry:
		oc.Kind = orchestration.CmdRetry
		step := strings.ToLower(str("step"))
		switch {
		case strings.Contains(step, "auth") || strings.Contains(step, "payment") || strings.Contains(step, "fraud") || strings.Contains(step, "address"):
			oc.Step = "checks"
		case strings.Contains(step, "erp") || strings.Contains(step, "post"):
			oc.Step = "post"
		case strings.Contains(step, "carrier") || strings.Contains(step, "ship") || strings.Contains(step, "book"):
			oc.Step = "ship"
		case strings.Contains(step, "notif"):
			oc.Step = "notify"
		case strings.Contains(step, "release") || strings.Contains(step, "wms") || strings.Contains(step, "fulfil"):
			oc.Step = "release"
		default:
			return fail(fmt.Errorf("no core step to retry for %q: %w", step, derrors.Invalid))
		}
	case rules.ActionRefund:
		s, _ := cmd.Params["return_id"].(string)
		if s == "" {
			return fail(fmt.Errorf("refund needs the return it is for: %w", derrors.Invalid))
		}
		id, err := uuid.Parse(s)
		if err != nil || id == uuid.Nil {
			return fail(fmt.Errorf("return id %q: %w", s, derrors.Invalid))
		}
		return orchestration.Command{}, id, nil
	default:
		return fail(fmt.Errorf("the core has no command for %q: %w", cmd.Action, derrors.Invalid))
	}
	return oc, uuid.Nil, nil
}

func (c coreApplier) approveRefund(ctx context.Context, cmd triage.Command, id uuid.UUID) (triage.Result, error) {
	r, err := c.orch.ApproveRefund(ctx, cmd.Actor, id)
	if err != nil {
		return triage.Result{}, err
	}
	return triage.Result{Message: "refund approved", Data: map[string]any{"return_id": r.ID, "status": r.Status}}, nil
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
