package orchestration

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/omnitriage/omnitriage/internal/derrors"
)

// errWhatIf rolls back the transaction of a what-if command.
var errWhatIf = errors.New("what-if command: rolled back")

// CheckCommand says whether the core would accept cmd in the order's
// current state, without applying it: the command runs as Apply runs it,
// in a transaction that is always rolled back (its events, jobs and
// exceptions with it). It returns nil when the command would be accepted,
// else the refusal Apply would give (Conflict for a state that does not
// allow it, Invalid, NotFound). A rebook is checked up to its carrier call,
// which cannot be taken back: the order must exist. cmd.ID must be new (a
// stored command id would answer its stored result).
func (s *Service) CheckCommand(ctx context.Context, actor string, cmd Command) (err error) {
	defer derrors.Wrap(&err, "checking %s", cmd.Kind)
	if err := cmd.Validate(); err != nil {
		return err
	}
	if cmd.Kind == CmdRebook {
		_, err := s.GetOrder(ctx, cmd.OrderID)
		return err
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		o, err := lockOrder(ctx, tx, cmd.OrderID)
		if err != nil {
			return err
		}
		if _, err := s.applyTx(ctx, tx, actor, o, cmd, nil); err != nil {
			return err
		}
		return errWhatIf
	})
	if errors.Is(err, errWhatIf) {
		return nil
	}
	return err
}
