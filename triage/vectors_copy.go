package triage

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/pgvector/pgvector-go"
)

// CopyVectorsTx copies, in the caller's transaction tx and in bulk (COPY),
// the vectors vecs of the exceptions ids under model as the vector worker
// stores them: each distinct vector once into exception_vectors (seen holds
// the hashes copied before, and gains those copied now) and each
// exception's link to its vector into exception_embeddings. It is for a
// benchmark's history (omnitriage bench recommend).
func CopyVectorsTx(ctx context.Context, tx pgx.Tx, model string, dim int, ids []uuid.UUID, vecs [][]float32, seen map[string]bool) error {
	if len(ids) != len(vecs) {
		return fmt.Errorf("CopyVectorsTx: %d ids and %d vectors", len(ids), len(vecs))
	}
	links := make([][]any, len(ids))
	var rows [][]any
	for i, v := range vecs {
		h := VectorHash(v)
		if !seen[string(h)] {
			seen[string(h)] = true
			rows = append(rows, []any{model, h, dim, pgvector.NewVector(v)})
		}
		links[i] = []any{ids[i], model, h}
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"exception_vectors"}, []string{"model", "vector_hash", "dim", "embedding"},
		pgx.CopyFromRows(rows)); err != nil {
		return fmt.Errorf("copying exception_vectors: %w", err)
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"exception_embeddings"}, []string{"exception_id", "model", "vector_hash"},
		pgx.CopyFromRows(links)); err != nil {
		return fmt.Errorf("copying exception_embeddings: %w", err)
	}
	return nil
}
