package triage

import (
	"context"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/omnitriage/omnitriage/internal/derrors"
)

// GenerateCaseHistory writes a case for every exception that has none,
// straight into triage's table, in SQL, for the dashboard's benchmark: 60%
// fixed automatically a minute after the exception, the rest decided by a
// person 5 minutes to 2 hours after being queued. Like
// orchestration.GenerateHistory, it is the trace of the pipeline, not the
// pipeline.
func GenerateCaseHistory(ctx context.Context, pool *pgxpool.Pool) (err error) {
	defer derrors.Wrap(&err, "GenerateCaseHistory")
	_, err = pool.Exec(ctx, `
		INSERT INTO cases (exception_id, status, kind, severity, order_id, triaged_at, decided_at, decided_by, decision, created_at)
		SELECT x.id, CASE WHEN r < 0.6 THEN 'auto_applied' ELSE 'decided' END, x.kind, x.severity, x.order_id,
			x.occurred_at + interval '1 minute',
			CASE WHEN r >= 0.6 THEN x.occurred_at + interval '1 minute' + make_interval(secs => 300 + (r - 0.6) * 17250) END,
			CASE WHEN r >= 0.6 THEN 'support:bench@example.com' ELSE '' END,
			CASE WHEN r >= 0.6 THEN 'approve' END,
			x.occurred_at
		FROM (SELECT e.*, (abs(hashtext(e.id::text)) % 10000) / 10000.0 AS r FROM core_exceptions e
			WHERE NOT EXISTS (SELECT 1 FROM cases c WHERE c.exception_id = e.id)) x`)
	if err != nil {
		return err
	}
	_, err = pool.Exec(ctx, `ANALYZE cases`)
	return err
}
