package triage

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/pgvector/pgvector-go"

	"github.com/omnitriage/omnitriage/orchestration"
)

// TestSimilarCasesUseTheHNSWIndex checks, over 8,000 distinct exception
// vectors (enough that the planner prefers the index to a scan and sort),
// that the similar-cases query as SimilarCases issues it, with its
// settings in its transaction, walks the HNSW index of exception_vectors.
func TestSimilarCasesUseTheHNSWIndex(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	ctx := context.Background()
	n := 8000
	rng := rand.New(rand.NewPCG(1, 2))
	kinds := orchestration.ExceptionKinds()
	past := make([]orchestration.PastException, n)
	ids := make([]uuid.UUID, n)
	vecs := make([][]float32, n)
	at := time.Now().Add(-48 * time.Hour)
	dim := f.svc.emb.Dim()
	for i := range past {
		ids[i] = uuid.New()
		past[i] = orchestration.PastException{Exception: orchestration.Exception{ID: ids[i], Kind: kinds[i%len(kinds)],
			Severity: orchestration.SeverityMedium, Source: "test", Code: "X", Message: fmt.Sprintf("m %d", i),
			OccurredAt: at.Add(time.Duration(i) * time.Second)}, ResolvedAt: at.Add(time.Duration(i)*time.Second + time.Minute)}
		v := make([]float32, dim)
		var s float64
		for j := range v {
			v[j] = float32(rng.NormFloat64())
			s += float64(v[j]) * float64(v[j])
		}
		for j := range v {
			v[j] /= float32(math.Sqrt(s))
		}
		vecs[i] = v
	}
	err := pgx.BeginFunc(ctx, f.pool, func(tx pgx.Tx) error {
		if err := f.core.CopyPastExceptionsTx(ctx, tx, past); err != nil {
			return err
		}
		return CopyVectorsTx(ctx, tx, f.svc.emb.Model(), dim, ids, vecs, map[string]bool{})
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := GenerateCaseHistory(ctx, f.pool); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.ensureIndex(ctx, tableExceptionVectors); err != nil {
		t.Fatal(err)
	}
	if _, err := f.pool.Exec(ctx, `ANALYZE exception_vectors; ANALYZE exception_embeddings; ANALYZE cases`); err != nil {
		t.Fatal(err)
	}
	c, err := f.svc.CaseOfException(ctx, ids[5])
	if err != nil {
		t.Fatal(err)
	}
	q, err := f.svc.similarSQL()
	if err != nil {
		t.Fatal(err)
	}
	tx, err := f.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	for _, s := range similarSettings() {
		if _, err := tx.Exec(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := tx.Query(ctx, `EXPLAIN (COSTS OFF) `+q, pgvector.NewVector(vecs[5]), c.ID, 5)
	if err != nil {
		t.Fatal(err)
	}
	var plan strings.Builder
	for rows.Next() {
		var line string
		_ = rows.Scan(&line)
		plan.WriteString(line + "\n")
	}
	rows.Close()
	name := IndexName(tableExceptionVectors, f.svc.Model())
	if !strings.Contains(plan.String(), "Index Scan using "+name+" on exception_vectors") {
		t.Errorf("similar-cases plan does not use %s:\n%.3000s", name, plan.String())
	}
	got, _, err := f.svc.SimilarCases(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != similarShown {
		t.Errorf("SimilarCases found %d, want %d", len(got), similarShown)
	}
}
