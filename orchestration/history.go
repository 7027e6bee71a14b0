package orchestration

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// PastException is an exception of the past that was resolved, for a
// benchmark's history.
type PastException struct {
	Exception
	ResolvedAt time.Time
}

// CopyPastExceptionsTx copies resolved past exceptions into the caller's
// transaction tx in bulk (COPY), with their ids, kinds, texts and times as
// given and created when they occurred: the history a recommend benchmark
// searches (omnitriage bench recommend). Nothing is checked and the
// exception hook is not told; it is not a way to report exceptions.
func (s *Service) CopyPastExceptionsTx(ctx context.Context, tx pgx.Tx, excs []PastException) error {
	rows := make([][]any, len(excs))
	for i, e := range excs {
		rows[i] = []any{e.ID, e.Kind, e.Severity, ExceptionResolved, e.Source, e.SKU, e.Location, e.Carrier,
			e.Code, e.Message, e.OccurredAt, e.OccurredAt, e.ResolvedAt}
	}
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"exceptions"}, []string{"id", "kind", "severity", "status", "source",
		"sku", "location", "carrier", "code", "message", "occurred_at", "created_at", "resolved_at"}, pgx.CopyFromRows(rows))
	if err != nil {
		return fmt.Errorf("copying exceptions: %w", err)
	}
	return nil
}
