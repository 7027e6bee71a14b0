package triage

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/omnitriage/omnitriage/internal/derrors"
)

// ClaimTTL is how long a claim lasts unless renewed: the case page renews
// it while it is open, and it lapses by itself once the reviewer leaves.
const ClaimTTL = 5 * time.Minute

// Claim is who holds a case and until when.
type Claim struct {
	// By holds the claim; "" when nobody holds a live one.
	By    string
	Until time.Time
	// Mine is set when the reviewer who asked holds it.
	Mine bool
}

// ClaimCase claims a case waiting for a person for reviewer until ClaimTTL
// from now, or renews the reviewer's claim. A case another reviewer holds
// is not taken: the answer names the holder, with Mine false. A case that
// no longer waits for a person is a conflict.
func (s *Service) ClaimCase(ctx context.Context, caseID uuid.UUID, reviewer string) (_ Claim, err error) {
	defer derrors.Wrap(&err, "ClaimCase(%s, %q)", caseID, reviewer)
	if reviewer == "" {
		return Claim{}, fmt.Errorf("no reviewer: %w", derrors.Invalid)
	}
	now := s.now()
	var c Claim
	var status string
	// One statement: the update takes the claim when it is free, lapsed or
	// the reviewer's own; the select reads the row as it was otherwise.
	// An update that waited for another reviewer's claim to commit finds
	// the row taken, but the select still reads the statement's snapshot,
	// from before that commit, where it looked free: that answer ("nobody
	// holds it") is stale, and the statement runs again with a new snapshot.
	for attempt := 0; ; attempt++ {
		err = s.claimOnce(ctx, caseID, reviewer, now, &c, &status)
		if err != nil || status != StatusQueued || c.By != "" || attempt == 4 {
			break
		}
	}
	if isNoRows(err) {
		return Claim{}, fmt.Errorf("no case %s: %w", caseID, derrors.NotFound)
	}
	if err != nil {
		return Claim{}, err
	}
	if status != StatusQueued {
		return Claim{}, fmt.Errorf("case %s is %s, not waiting for a person: %w", caseID, status, derrors.Conflict)
	}
	if c.By == "" {
		return Claim{}, fmt.Errorf("case %s: the claim could not be read after 5 tries, try again", caseID)
	}
	c.Mine = c.By == reviewer
	return c, nil
}

// claimOnce is ClaimCase's statement.
func (s *Service) claimOnce(ctx context.Context, caseID uuid.UUID, reviewer string, now time.Time, c *Claim, status *string) error {
	return s.pool.QueryRow(ctx, `
		WITH u AS (
			UPDATE cases SET claimed_by = $2, claimed_until = $3,
				claimed_at = CASE WHEN claimed_by = $2 AND claimed_until > $4 THEN claimed_at ELSE $4 END
			WHERE id = $1 AND status = 'queued_for_review'
				AND (claimed_by = '' OR claimed_by = $2 OR claimed_until IS NULL OR claimed_until <= $4)
			RETURNING claimed_by, claimed_until, status)
		SELECT claimed_by, claimed_until, status FROM u
		UNION ALL
		SELECT CASE WHEN claimed_until > $4 THEN claimed_by ELSE '' END, coalesce(claimed_until, $4), status
		FROM cases WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM u)`,
		caseID, reviewer, now.Add(ClaimTTL), now).Scan(&c.By, &c.Until, status)
}

// ReleaseClaim gives up reviewer's claim on a case, if they hold it.
func (s *Service) ReleaseClaim(ctx context.Context, caseID uuid.UUID, reviewer string) (err error) {
	defer derrors.Wrap(&err, "ReleaseClaim(%s, %q)", caseID, reviewer)
	_, err = s.pool.Exec(ctx, `UPDATE cases SET claimed_by = '', claimed_until = NULL WHERE id = $1 AND claimed_by = $2`,
		caseID, reviewer)
	return err
}

// CaseClaim returns the live claim on a case, as reviewer sees it.
func (s *Service) CaseClaim(ctx context.Context, caseID uuid.UUID, reviewer string) (_ Claim, err error) {
	defer derrors.Wrap(&err, "CaseClaim(%s)", caseID)
	return s.claimOf(ctx, s.pool, caseID, reviewer)
}

func (s *Service) claimOf(ctx context.Context, q querier, caseID uuid.UUID, reviewer string) (Claim, error) {
	var c Claim
	var until *time.Time
	err := q.QueryRow(ctx, `SELECT claimed_by, claimed_until FROM cases WHERE id = $1`, caseID).Scan(&c.By, &until)
	if isNoRows(err) {
		return Claim{}, fmt.Errorf("no case %s: %w", caseID, derrors.NotFound)
	}
	if err != nil {
		return Claim{}, err
	}
	if until == nil || !until.After(s.now()) {
		return Claim{}, nil
	}
	c.Until = *until
	c.Mine = c.By == reviewer
	return c, nil
}

// ClaimedError is the conflict Decide answers when another reviewer holds a
// live claim on the case.
type ClaimedError struct {
	By    string
	Until time.Time
}

func (e *ClaimedError) Error() string {
	return fmt.Sprintf("claimed by %s until %s", e.By, e.Until.UTC().Format(time.RFC3339))
}

// Unwrap makes the error a conflict.
func (e *ClaimedError) Unwrap() error { return derrors.Conflict }

// DecidedError is the conflict Decide answers when the case was decided
// already, differently: who decided what, and when.
type DecidedError struct {
	Decision CaseDecision
}

func (e *DecidedError) Error() string {
	return fmt.Sprintf("decided already (%s by %s at %s)", e.Decision.Decision, e.Decision.By,
		e.Decision.At.UTC().Format(time.RFC3339))
}

// Unwrap makes the error a conflict.
func (e *DecidedError) Unwrap() error { return derrors.Conflict }
