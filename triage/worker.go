package triage

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/pgvector/pgvector-go"

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

// StoreVectors stores, with the service's model, the vectors of up to
// limit cases that triage marked (vector_pending), oldest first, and
// returns how many cases it took. Triage leaves this to the vector job so that
// no request waits while a new vector is linked into the HNSW graph; the
// case keeps the text that was embedded, and the local embedder gives the
// same vector again.
func (s *Service) StoreVectors(ctx context.Context, limit int) (n int, err error) {
	return s.storePending(ctx, limit, paceBacklog)
}

// Pauses between new-vector inserts, as multiples of the insert's own time.
// Linking a vector into the HNSW graph takes a few ms of database CPU; a
// worker keeping up with the requests spends at most about a quarter of a
// core on it, spread out, and one with a backlog (a full batch waiting, a
// new model's history) half.
const (
	paceSteady  = 3
	paceBacklog = 1
)

// storePending is StoreVectors with the pause between new-vector inserts
// pace times each insert's duration.
func (s *Service) storePending(ctx context.Context, limit, pace int) (n int, err error) {
	defer derrors.Wrap(&err, "StoreVectors(%q, %d)", s.emb.Model(), limit)
	rows, err := s.pool.Query(ctx, `
		SELECT id, exception_id, coalesce(inputs->>'text', '') FROM cases
		WHERE vector_pending ORDER BY triaged_at LIMIT $1`, limit)
	if err != nil {
		return 0, err
	}
	var caseIDs, excIDs []uuid.UUID
	var texts []string
	var c, e uuid.UUID
	var text string
	_, err = pgx.ForEachRow(rows, []any{&c, &e, &text}, func() error {
		caseIDs, excIDs, texts = append(caseIDs, c), append(excIDs, e), append(texts, text)
		return nil
	})
	if err != nil || len(caseIDs) == 0 {
		return 0, err
	}
	if err := s.storeVectors(ctx, excIDs, texts, caseIDs, pace); err != nil {
		return 0, err
	}
	return len(caseIDs), nil
}

// EmbedExceptions embeds, with the service's model, up to limit triaged
// exceptions that have no vector for it (their cases keep the text that
// was embedded), and returns how many it took. The retrain job calls it, so
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
	var excIDs []uuid.UUID
	var texts []string
	var e uuid.UUID
	var text string
	_, err = pgx.ForEachRow(rows, []any{&e, &text}, func() error {
		excIDs, texts = append(excIDs, e), append(texts, text)
		return nil
	})
	if err != nil || len(excIDs) == 0 {
		return 0, err
	}
	if err := s.storeVectors(ctx, excIDs, texts, nil, paceBacklog); err != nil {
		return 0, err
	}
	return len(excIDs), nil
}

// storeVectors embeds texts with the service's model and makes each vector
// its exception's: the vector itself once per model in exception_vectors,
// and the exception's link to it; the links are written in one transaction
// that also clears the pending mark of the given cases.
//
// Linking a new vector into the HNSW graph is the costly part (several ms
// of database CPU each), so new vectors are inserted one at a time with a
// pause of pace times the insert between them: the worker takes a steady
// share of a core instead of a burst that stalls the requests sharing the
// machine (in the recommend bench, bursts set the p99). Vectors seen
// before are only linked. Two workers may store the same vector; the
// inserts are idempotent.
func (s *Service) storeVectors(ctx context.Context, excIDs []uuid.UUID, texts []string, pendingCases []uuid.UUID, pace int) error {
	model := s.emb.Model()
	if err := s.ensureIndex(ctx, tableExceptionVectors); err != nil {
		return err
	}
	vecs, err := s.emb.Embed(ctx, texts)
	if err != nil {
		return err
	}
	if len(vecs) != len(texts) {
		return fmt.Errorf("embedder returned %d vectors for %d texts", len(vecs), len(texts))
	}
	hashes := make([][]byte, len(vecs))
	for i, v := range vecs {
		if len(v) != s.emb.Dim() {
			return fmt.Errorf("exception %s: embedder returned %d dimensions, want %d", excIDs[i], len(v), s.emb.Dim())
		}
		if texts[i] != "" && s.checkVector(v) == nil {
			hashes[i] = VectorHash(v)
		} // else nothing to store: the text has no words
	}
	known := map[string]bool{}
	rows, err := s.pool.Query(ctx, `SELECT vector_hash FROM exception_vectors WHERE model = $1 AND vector_hash = ANY($2)`, model, hashes)
	if err != nil {
		return err
	}
	var h []byte
	if _, err := pgx.ForEachRow(rows, []any{&h}, func() error { known[string(h)] = true; return nil }); err != nil {
		return err
	}
	for i, v := range vecs {
		if hashes[i] == nil || known[string(hashes[i])] {
			continue
		}
		known[string(hashes[i])] = true
		t0 := time.Now()
		_, err := s.pool.Exec(ctx, `INSERT INTO exception_vectors (model, vector_hash, dim, embedding) VALUES ($1, $2, $3, $4)
			ON CONFLICT (model, vector_hash) DO NOTHING`, model, hashes[i], len(v), pgvector.NewVector(v))
		if err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(pace) * time.Since(t0)):
		}
	}
	b := &pgx.Batch{}
	for i := range vecs {
		if hashes[i] != nil {
			b.Queue(`INSERT INTO exception_embeddings (exception_id, model, vector_hash) VALUES ($1, $2, $3)
				ON CONFLICT (exception_id, model) DO NOTHING`, excIDs[i], model, hashes[i])
		}
	}
	if len(pendingCases) > 0 {
		b.Queue(`UPDATE cases SET vector_pending = false WHERE id = ANY($1)`, pendingCases)
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return tx.SendBatch(ctx, b).Close() })
}

// retrainEvery is how often, by default, the retrain job checks whether
// reviews added examples since the calibration in force was fitted.
const retrainEvery = 10 * time.Minute

// storeAllVectors stores vectors until no case is waiting for its vector:
// at the steady pace, or the faster one while full batches are waiting.
func (s *Service) storeAllVectors(ctx context.Context) error {
	const batch = 100
	pace := paceSteady
	for ctx.Err() == nil {
		n, err := s.storePending(ctx, batch, pace)
		if err != nil || n < batch {
			return err
		}
		pace = paceBacklog
	}
	return ctx.Err()
}

// reload loads the library vocabulary again, and the newest calibration
// of the model when it is not the one in force (another process fitted it).
func (s *Service) reload(ctx context.Context) error {
	if err := s.loadVocabulary(ctx); err != nil {
		return err
	}
	var version string
	err := s.pool.QueryRow(ctx, `SELECT coalesce((SELECT version FROM classifier_calibrations WHERE model = $1 ORDER BY id DESC LIMIT 1), '')`,
		s.emb.Model()).Scan(&version)
	if err != nil || version == "" || version == s.ClassifierVersion() {
		return err
	}
	_, err = s.LoadClassifier(ctx)
	return err
}

// refit fits the calibration again when no stored calibration was fitted
// on the model's examples as they are now (reviews added some, a seed
// changed), and loads the newest one when another process fitted it.
func (s *Service) refit(ctx context.Context) error {
	if err := s.loadVocabulary(ctx); err != nil {
		return err
	}
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
