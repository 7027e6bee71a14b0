package triage

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/omnitriage/omnitriage/internal/derrors"
)

// TriageOpen triages up to limit open cases whose next attempt is due,
// oldest first, and returns how many it triaged. Failures are recorded on
// their cases and retried later with backoff.
func (s *Service) TriageOpen(ctx context.Context, limit int) (n int, err error) {
	defer derrors.Wrap(&err, "TriageOpen(%d)", limit)
	rows, err := s.pool.Query(ctx, `SELECT exception_id FROM cases
		WHERE status = 'open' AND (next_attempt_at IS NULL OR next_attempt_at <= $1)
		ORDER BY created_at LIMIT $2`, s.now(), limit)
	if err != nil {
		return 0, err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return 0, err
	}
	for _, id := range ids {
		if _, err := s.Intake(ctx, id); err != nil {
			if ctx.Err() != nil {
				return n, ctx.Err()
			}
			s.log.Warn("triage failed; will retry", "exception", id, "err", err)
			continue
		}
		n++
	}
	return n, nil
}

// EmbedExceptions embeds, with the service's model, up to limit triaged
// exceptions that have no vector for it (their cases keep the text that
// was embedded), and returns how many it embedded. Run calls it, so
// switching the embedding model re-embeds the history in the background.
func (s *Service) EmbedExceptions(ctx context.Context, limit int) (n int, err error) {
	model := s.emb.Model()
	defer derrors.Wrap(&err, "EmbedExceptions(%q, %d)", model, limit)
	rows, err := s.pool.Query(ctx, `
		SELECT c.exception_id, c.inputs->>'text' FROM cases c
		WHERE c.inputs ? 'text' AND NOT EXISTS (
			SELECT 1 FROM exception_embeddings x WHERE x.exception_id = c.exception_id AND x.model = $1)
		ORDER BY c.created_at DESC LIMIT $2`, model, limit)
	if err != nil {
		return 0, err
	}
	type pending struct {
		id   uuid.UUID
		text string
	}
	todo, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (pending, error) {
		var p pending
		err := r.Scan(&p.id, &p.text)
		return p, err
	})
	if err != nil || len(todo) == 0 {
		return 0, err
	}
	texts := make([]string, len(todo))
	for i, p := range todo {
		texts[i] = p.text
	}
	vecs, err := s.emb.Embed(ctx, texts)
	if err != nil {
		return 0, err
	}
	if err := s.ensureIndex(ctx, tableExceptionVectors); err != nil {
		return 0, err
	}
	b := &pgx.Batch{}
	for i, p := range todo {
		if len(vecs[i]) != s.emb.Dim() {
			return 0, fmt.Errorf("exception %s: embedder returned %d dimensions, want %d", p.id, len(vecs[i]), s.emb.Dim())
		}
		queueExceptionVector(b, p.id, model, vecs[i])
	}
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return 0, err
	}
	return len(todo), nil
}

// retrainEvery is how often Run checks whether reviews added examples
// since the calibration in force was fitted.
const retrainEvery = 10 * time.Minute

// Run does triage's background work until ctx ends: every interval it
// triages the open cases that are due and embeds history the model has no
// vectors for; every ten minutes it refits the calibration when reviews
// have added examples.
func (s *Service) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	lastFit := s.now()
	for {
		for {
			n, err := s.TriageOpen(ctx, 100)
			if err != nil && ctx.Err() == nil {
				s.log.Error("triaging open cases", "err", err)
			}
			if n < 100 {
				break
			}
		}
		if _, err := s.EmbedExceptions(ctx, 500); err != nil && ctx.Err() == nil {
			s.log.Error("embedding exceptions", "err", err)
		}
		if s.now().Sub(lastFit) >= retrainEvery {
			lastFit = s.now()
			if err := s.refit(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("refitting the classifier's calibration", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// refit fits the calibration again when no stored calibration was fitted
// on the model's examples as they are now (reviews added some, a seed
// changed), and loads the newest one when another process fitted it.
func (s *Service) refit(ctx context.Context) error {
	var version string
	err := s.pool.QueryRow(ctx, `
		WITH now AS (SELECT count(*) AS n, coalesce(max(example_id), 0) AS last FROM example_embeddings WHERE model = $1)
		SELECT coalesce((SELECT version FROM classifier_calibrations k, now
			WHERE k.model = $1 AND k.examples = now.n AND k.last_example = now.last ORDER BY k.id DESC LIMIT 1), '')`,
		s.emb.Model()).Scan(&version)
	switch {
	case err != nil:
		return err
	case version == s.ClassifierVersion():
		return nil
	case version != "":
		_, err := s.LoadClassifier(ctx)
		return err
	}
	rep, err := s.TrainClassifier(ctx)
	if err == nil {
		s.log.Info("refitted the classifier's calibration", "version", rep.Version, "examples", rep.Examples, "cv_accuracy", rep.CVAccuracy)
	}
	return err
}
