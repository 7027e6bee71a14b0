package triage

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/omnitriage/omnitriage/internal/derrors"
)

// ReviewerStats is one reviewer's day, for the team panel.
type ReviewerStats struct {
	Reviewer string
	// Decided counts the decisions since the start of the day (UTC).
	Decided int
	// MedianTime is the median time from claiming a case to deciding it,
	// over the decided cases the reviewer had claimed (bulk approvals have
	// no claim and are not counted); 0 when there are none.
	MedianTime time.Duration
	// Agreement is the share of decisions that approved the recommendation
	// as it was.
	Agreement float64
	Approved  int
	Modified  int
	Rejected  int
}

// TeamStats returns every reviewer's figures for today, busiest first.
func (s *Service) TeamStats(ctx context.Context) (_ []ReviewerStats, err error) {
	defer derrors.Wrap(&err, "TeamStats")
	now := s.now().UTC()
	day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	rows, err := s.pool.Query(ctx, `
		SELECT decided_by, count(*)::int,
			coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM decided_at - claimed_at))
				FILTER (WHERE claimed_at IS NOT NULL AND claimed_at <= decided_at), 0)::float8,
			count(*) FILTER (WHERE decision = 'approve')::int, count(*) FILTER (WHERE decision = 'modify')::int,
			count(*) FILTER (WHERE decision = 'reject')::int
		FROM cases WHERE status = 'decided' AND decided_at >= $1 AND decided_at < $2 AND decided_by <> ''
		GROUP BY decided_by ORDER BY 2 DESC, 1`, day, day.Add(24*time.Hour))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ReviewerStats
	for rows.Next() {
		var r ReviewerStats
		var secs float64
		if err := rows.Scan(&r.Reviewer, &r.Decided, &secs, &r.Approved, &r.Modified, &r.Rejected); err != nil {
			return nil, err
		}
		r.MedianTime = time.Duration(secs * float64(time.Second)).Round(time.Second)
		if r.Decided > 0 {
			r.Agreement = float64(r.Approved) / float64(r.Decided)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// BulkResult is what became of one case of a bulk approval.
type BulkResult struct {
	CaseID  uuid.UUID
	Applied bool
	// Err is why the case was not approved: a claim, a decision taken
	// meanwhile, an action the policy keeps for one-by-one review, a
	// failure to apply.
	Err error
}

// MaxBulk is the most cases one bulk approval takes.
const MaxBulk = 100

// BulkApprove approves each case's recommendation through Decide, one by
// one, so each is applied exactly once and audited on its own; one
// failing leaves the others decided. Actions the policy never applies
// automatically (rules' never_auto) are refused here too: they need a look
// at the case itself.
func (s *Service) BulkApprove(ctx context.Context, actor string, ids []uuid.UUID, note string) (_ []BulkResult, err error) {
	defer derrors.Wrap(&err, "BulkApprove(%d cases)", len(ids))
	if len(ids) == 0 || len(ids) > MaxBulk {
		ve := &derrors.ValidationError{}
		ve.Add("cases", "select from 1 to %d cases", MaxBulk)
		return nil, ve
	}
	never := s.policy().Decision.NeverAuto
	out := make([]BulkResult, 0, len(ids))
	for _, id := range ids {
		r := BulkResult{CaseID: id}
		c, err := s.GetCase(ctx, id)
		switch {
		case err != nil:
			r.Err = err
		case slices.Contains(never, c.Action):
			r.Err = fmt.Errorf("%s is never approved in bulk; open the case: %w", c.Action, derrors.Conflict)
		default:
			var res DecideResult
			res, r.Err = s.Decide(ctx, id, actor, DecisionRequest{Decision: DecisionApprove, Note: note})
			r.Applied = r.Err == nil && !res.Replayed
		}
		if r.Err != nil && ctx.Err() != nil {
			return out, errors.Join(r.Err, ctx.Err())
		}
		out = append(out, r)
	}
	return out, nil
}
