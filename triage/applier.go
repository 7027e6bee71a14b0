package triage

import (
	"context"

	"github.com/google/uuid"

	"github.com/omnitriage/omnitriage/orchestration"
)

// CoreApplier carries out triage's fixes through the orchestration core's
// commands; the mapping from a fix to its command is orchestration's
// (orchestration.FixCommand). Triage's command id (stable per case) is the
// core command's id, so a retried or doubled apply changes the order once.
// It is an Applier, a Validator and a StateValidator.
type CoreApplier struct {
	Orch *orchestration.Service
}

// fix is cmd as the core takes it.
func fix(cmd Command) orchestration.Fix {
	return orchestration.Fix{ID: cmd.ID, OrderID: cmd.OrderID, Action: cmd.Action, Params: cmd.Params, Reason: cmd.Reason}
}

// Apply maps the fix to a core command and applies it. A fix the core has no
// command for is an error, so the case stays with a person.
func (c CoreApplier) Apply(ctx context.Context, cmd Command) (Result, error) {
	oc, refund, err := orchestration.FixCommand(fix(cmd))
	if err != nil {
		return Result{}, err
	}
	if refund != uuid.Nil {
		r, err := c.Orch.ApproveRefund(ctx, cmd.Actor, refund)
		if err != nil {
			return Result{}, err
		}
		return Result{Message: "refund approved", Data: map[string]any{"return_id": r.ID, "status": r.Status}}, nil
	}
	res, err := c.Orch.Apply(ctx, cmd.Actor, oc)
	if err != nil {
		return Result{}, err
	}
	return Result{Message: res.Summary, Data: map[string]any{"command_id": res.CommandID, "replayed": res.Replayed}}, nil
}

// Validate says, without applying anything, why the core would refuse the
// fix outright: no order to act on, no core command for the action, or
// parameters it cannot take. Triage asks before deciding to apply a fix
// automatically, so such a case goes to a person with that reason.
func (c CoreApplier) Validate(cmd Command) error {
	_, _, err := orchestration.FixCommand(fix(cmd))
	return err
}

// ValidateState says whether the core would accept the fix in the order's
// current state (a retry of a step the order is no longer in, a reroute of
// a shipped order are refused), by running the core command in a
// transaction that is rolled back. A refund is checked as far as Validate
// checks it.
func (c CoreApplier) ValidateState(ctx context.Context, cmd Command) error {
	oc, refund, err := orchestration.FixCommand(fix(cmd))
	if err != nil || refund != uuid.Nil {
		return err
	}
	oc.ID = "whatif:" + uuid.NewString()
	return c.Orch.CheckCommand(ctx, cmd.Actor, oc)
}
