package triage

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/pgvector/pgvector-go"

	"github.com/omnitriage/omnitriage/internal/derrors"
)

// SeedReport says what SeedCauses changed.
type SeedReport struct {
	Model           string `json:"model"`
	Causes          int    `json:"causes"`
	ExamplesAdded   int    `json:"examples_added"`
	ExamplesRemoved int    `json:"examples_removed"`
	Embedded        int    `json:"embedded"`
}

// minSeedExamples is the fewest examples a seeded cause has after masking
// has merged those that differ only in ids and numbers.
const minSeedExamples = 5

// SeedCauses writes the cause library (Config.Library, else the embedded
// Library) and its examples, and
// embeds every example the embedder's model has no vector for. It is
// idempotent: causes are updated in place, examples are keyed by their
// text, and seed examples no longer in the library are removed (examples
// from reviews and imports are never touched). Call TrainClassifier after
// it, or use Prepare.
func (s *Service) SeedCauses(ctx context.Context) (_ SeedReport, err error) {
	defer derrors.Wrap(&err, "SeedCauses")
	lib := s.library
	if lib == nil {
		lib = Library()
	}
	rep := SeedReport{Model: s.emb.Model(), Causes: len(lib)}
	var causes []string
	var hashes [][]byte
	b := &pgx.Batch{}
	// The causes first, then the examples, so the batch's statement index
	// says which inserts were examples.
	for _, c := range lib {
		if err := c.Validate(); err != nil {
			return rep, fmt.Errorf("cause %s: %w", c.Code, err)
		}
		params, err := json.Marshal(c.Params)
		if err != nil {
			return rep, err
		}
		b.Queue(`INSERT INTO causes (code, kind, title, description, default_action, actions, params, source)
			VALUES ($1, $2, $3, $4, $5, $6, $7, 'seed')
			ON CONFLICT (code) DO UPDATE SET kind = EXCLUDED.kind, title = EXCLUDED.title,
				description = EXCLUDED.description, default_action = EXCLUDED.default_action,
				actions = EXCLUDED.actions, params = EXCLUDED.params, active = true, updated_at = now()
			WHERE (causes.kind, causes.title, causes.description, causes.default_action, causes.actions, causes.params, causes.active)
				IS DISTINCT FROM (EXCLUDED.kind, EXCLUDED.title, EXCLUDED.description, EXCLUDED.default_action,
				EXCLUDED.actions, EXCLUDED.params, true)`,
			c.Code, c.Kind, c.Title, c.Description, c.DefaultAction, c.Actions, params)
	}
	for _, c := range lib {
		distinct := map[string]bool{}
		for _, e := range c.Examples {
			text := ExceptionText(c.Kind, e.Code, e.Message)
			distinct[text] = true
			h := sha256.Sum256([]byte(text))
			causes, hashes = append(causes, c.Code), append(hashes, h[:])
			b.Queue(`INSERT INTO cause_examples (cause, code, message, text, text_hash, source, created_by)
				VALUES ($1, $2, $3, $4, $5, 'seed', 'seed') ON CONFLICT (cause, text_hash) DO NOTHING`,
				c.Code, e.Code, e.Message, text, h[:])
		}
		if len(distinct) < minSeedExamples {
			return rep, fmt.Errorf("cause %s has %d distinct examples after masking, want at least %d", c.Code, len(distinct), minSeedExamples)
		}
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// One seeder at a time: two processes starting together would
		// otherwise race on the same rows for nothing.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(7217001)`); err != nil {
			return err
		}
		br := tx.SendBatch(ctx, b)
		for i := range b.Len() {
			tag, err := br.Exec()
			if err != nil {
				br.Close()
				return fmt.Errorf("statement %d: %w", i, err)
			}
			if i >= len(lib) {
				rep.ExamplesAdded += int(tag.RowsAffected())
			}
		}
		if err := br.Close(); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `
			DELETE FROM cause_examples e WHERE source = 'seed' AND NOT EXISTS (
				SELECT 1 FROM unnest($1::text[], $2::bytea[]) AS k(cause, h) WHERE k.cause = e.cause AND k.h = e.text_hash)`,
			causes, hashes)
		rep.ExamplesRemoved = int(tag.RowsAffected())
		return err
	})
	if err != nil {
		return rep, err
	}
	s.mu.Lock()
	s.causes = nil // reload on next use
	s.mu.Unlock()
	if rep.Embedded, err = s.EmbedExamples(ctx); err != nil {
		return rep, err
	}
	// The history's index exists before the first vector arrives, so the
	// worker's inserts go through it rather than build it mid-traffic.
	if err := s.ensureIndex(ctx, tableExceptionVectors); err != nil {
		return rep, err
	}
	return rep, nil
}

// EmbedExamples embeds, with the service's model, every labelled example
// that has no vector for it yet, and returns how many it embedded. It is
// how a new embedding model gets its examples: no schema change, and the
// model's HNSW index is created on first use.
func (s *Service) EmbedExamples(ctx context.Context) (n int, err error) {
	model, dim := s.emb.Model(), s.emb.Dim()
	defer derrors.Wrap(&err, "EmbedExamples(%q)", model)
	if err := s.ensureIndex(ctx, tableExampleEmbeddings); err != nil {
		return 0, err
	}
	type pending struct {
		id                int64
		cause, kind, text string
	}
	const batch = 256
	for {
		rows, err := s.pool.Query(ctx, `
			SELECT e.id, e.cause, c.kind, e.text FROM cause_examples e JOIN causes c ON c.code = e.cause
			WHERE NOT EXISTS (SELECT 1 FROM example_embeddings x WHERE x.example_id = e.id AND x.model = $1)
			ORDER BY e.id LIMIT $2`, model, batch)
		if err != nil {
			return n, err
		}
		todo, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (pending, error) {
			var p pending
			err := r.Scan(&p.id, &p.cause, &p.kind, &p.text)
			return p, err
		})
		if err != nil {
			return n, err
		}
		if len(todo) == 0 {
			return n, nil
		}
		texts := make([]string, len(todo))
		for i, p := range todo {
			texts[i] = p.text
		}
		vecs, err := s.emb.Embed(ctx, texts)
		if err != nil {
			return n, err
		}
		b := &pgx.Batch{}
		for i, p := range todo {
			if len(vecs[i]) != dim {
				return n, fmt.Errorf("example %d: embedder returned %d dimensions, want %d", p.id, len(vecs[i]), dim)
			}
			b.Queue(`INSERT INTO example_embeddings (example_id, model, dim, cause, kind, embedding)
				VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (example_id, model) DO NOTHING`,
				p.id, model, dim, p.cause, p.kind, pgvector.NewVector(vecs[i]))
		}
		if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
			return n, err
		}
		n += len(todo)
	}
}

// Prepare readies the service at startup: it seeds the cause library,
// embeds the examples for the embedder's model, puts in force the
// classifier's calibration (fitting it when none was fitted on the
// examples as they are) and loads the trained risk models.
func (s *Service) Prepare(ctx context.Context) (err error) {
	defer derrors.Wrap(&err, "triage.Prepare")
	if _, err := s.SeedCauses(ctx); err != nil {
		return err
	}
	if err := s.refit(ctx); err != nil {
		return err
	}
	return s.LoadRiskModels(ctx)
}
