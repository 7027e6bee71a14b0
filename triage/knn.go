package triage

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/pgvector/pgvector-go"

	"github.com/omnitriage/omnitriage/internal/derrors"
	"github.com/omnitriage/omnitriage/models"
)

// Tables with an untyped vector column and a model tag, indexed per model.
const (
	tableExceptionVectors  = "exception_vectors"
	tableExampleEmbeddings = "example_embeddings"
)

// VectorHash is a vector's key in exception_vectors: SHA-256 of its
// float32 values, little-endian. Equal vectors share one row and one place
// in the HNSW graph.
func VectorHash(v []float32) []byte {
	buf := make([]byte, 4*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(f))
	}
	sum := sha256.Sum256(buf)
	return sum[:]
}

// maxHNSWDim is the most dimensions pgvector's HNSW index takes for the
// vector type; larger models are searched exactly.
const maxHNSWDim = 2000

// ExceptionText is the text triage embeds for an exception: its kind, its
// code, its message and the salient context, masked so that ids, amounts,
// dates and numbers become typed placeholders. Labelled examples are
// embedded through the same function, so both sides look alike.
func ExceptionText(kind, code, message string, context ...string) string {
	var b strings.Builder
	b.WriteString(strings.ReplaceAll(kind, "_", " "))
	if code != "" {
		b.WriteString(" code ")
		b.WriteString(code)
	}
	b.WriteString(": ")
	b.WriteString(message)
	for _, c := range context {
		if c != "" {
			b.WriteString("; ")
			b.WriteString(c)
		}
	}
	return models.Mask(b.String())
}

// IndexName is the name of the partial HNSW index of table for model: the
// table and a hash of the model, so any model name gives a valid, short,
// stable identifier.
func IndexName(table, model string) string {
	sum := sha256.Sum256([]byte(model))
	return table + "_hnsw_" + hex.EncodeToString(sum[:8])
}

// quoteLiteral quotes s as an SQL string literal. Model names end up in
// index predicates and in the kNN query as literals (a partial index is
// only used when the planner sees the literal), so quoting must be exact:
// quotes are doubled and, when s holds a backslash, the E” form is used so
// the literal means the same whatever standard_conforming_strings says.
func quoteLiteral(s string) (string, error) {
	if strings.ContainsRune(s, 0) || !utf8.ValidString(s) {
		return "", fmt.Errorf("model name %q: not valid UTF-8 text: %w", s, derrors.Invalid)
	}
	q := strings.ReplaceAll(s, "'", "''")
	if strings.Contains(q, `\`) {
		return `E'` + strings.ReplaceAll(q, `\`, `\\`) + `'`, nil
	}
	return "'" + q + "'", nil
}

// IndexSQL is the statement that builds the HNSW index of one model's
// vectors in table; lit is the model name as a quoted SQL literal.
//
// m = 16 with ef_construction = 200. Linking a new vector into the graph
// is most of what storing a new exception vector costs, and it grows with
// m more than with ef_construction. Over the recommend bench's ~27,000
// distinct exception vectors (600 single-row inserts per build), m = 32
// with ef_construction = 200 took 7.9 ms of database CPU per insert and
// m = 16 with 100 took 3.2 ms; m = 16 with 200 took about 1.5 times the
// latter's statement time. In `omnitriage bench-recommend` m = 16 with 100
// gave recall@10 of only 0.94-0.98 at ef_search 200 from build to build;
// with 200, over eight runs, 0.975-1.000 at ef_search 200 and 0.91-0.99
// at 100, so searches of these vectors should use ef_search 200.
func IndexSQL(table, model string, dim int, lit string) string {
	return fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %s ON %s USING hnsw ((embedding::vector(%d)) vector_cosine_ops) WITH (m = 16, ef_construction = 200) WHERE model = %s`,
		pgx.Identifier{IndexName(table, model)}.Sanitize(), pgx.Identifier{table}.Sanitize(), dim, lit)
}

// ensureIndex creates the partial HNSW index of table for the embedder's
// model the first time the model is used with the table. Creation is
// serialised by an advisory lock so that two processes do not race on
// the index name.
func (s *Service) ensureIndex(ctx context.Context, table string) (err error) {
	model, dim := s.emb.Model(), s.emb.Dim()
	key := table + " " + model
	s.mu.RLock()
	done := s.indexed[key]
	s.mu.RUnlock()
	if done {
		return nil
	}
	defer derrors.Wrap(&err, "ensureIndex(%s, %q)", table, model)
	if table != tableExceptionVectors && table != tableExampleEmbeddings {
		return fmt.Errorf("no vector table %q", table)
	}
	lit, err := quoteLiteral(model)
	if err != nil {
		return err
	}
	if dim > 0 && dim <= maxHNSWDim {
		h := fnv.New64a()
		h.Write([]byte(key))
		stmt := IndexSQL(table, model, dim, lit)
		err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(h.Sum64())); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, stmt)
			return err
		})
		if err != nil {
			return err
		}
	}
	s.mu.Lock()
	s.indexed[key] = true
	s.mu.Unlock()
	return nil
}

// Neighbour is a labelled example near an exception, as a case records it.
type Neighbour struct {
	ExampleID  int64   `json:"example_id"`
	Cause      string  `json:"cause"`
	Similarity float64 `json:"similarity"`
}

// KNNSearch says how a kNN search went, for the case's inputs.
type KNNSearch struct {
	// Method is "hnsw", or "exact" when the approximate search came back
	// short or its top hit was far and the search was repeated exactly.
	Method   string `json:"method"`
	EfSearch int    `json:"ef_search"`
	// Kind is the exception kind the examples were restricted to; "" when
	// the kind has no examples and all were searched.
	Kind string `json:"kind"`
}

// knnSQL is the kNN query over the examples of the embedder's model. The
// model and dimension are literals so the planner can match the partial
// HNSW index; the vector and kind are parameters. With iterative scans
// (pgvector 0.8) the index keeps searching until enough rows pass the kind
// filter; relaxed order needs the outer sort.
func (s *Service) knnSQL(byKind bool) (string, error) {
	lit, err := quoteLiteral(s.emb.Model())
	if err != nil {
		return "", err
	}
	where := "model = " + lit
	if byKind {
		where += " AND kind = $3"
	}
	dist := fmt.Sprintf("embedding::vector(%d) <=> $1", s.emb.Dim())
	return fmt.Sprintf(`WITH hits AS MATERIALIZED (
		SELECT example_id, cause, (%s)::float8 AS distance FROM example_embeddings
		WHERE %s ORDER BY %s LIMIT $2)
		SELECT example_id, cause, distance FROM hits ORDER BY distance, example_id`, dist, where, dist), nil
}

// neighbours finds the labelled examples nearest to vec among those of
// kind (all kinds when kind has none), nearest first. It searches the
// HNSW index first and repeats the search exactly when the index returned
// fewer than k hits or a top hit farther than the service's FarDistance.
func (s *Service) neighbours(ctx context.Context, vec []float32, kind string) (_ []Neighbour, _ KNNSearch, err error) {
	defer derrors.Wrap(&err, "neighbours(%s)", kind)
	if err := s.ensureIndex(ctx, tableExampleEmbeddings); err != nil {
		return nil, KNNSearch{}, err
	}
	k := s.vote.K
	byKind, err := s.kindHasExamples(ctx, kind)
	if err != nil {
		return nil, KNNSearch{}, err
	}
	q, err := s.knnSQL(byKind)
	if err != nil {
		return nil, KNNSearch{}, err
	}
	args := []any{pgvector.NewVector(vec), k}
	search := KNNSearch{Method: "hnsw", EfSearch: max(s.ef, k)}
	if byKind {
		args = append(args, kind)
		search.Kind = kind
	}
	if s.emb.Dim() > maxHNSWDim {
		search.Method = "exact"
	}
	out, err := s.searchOnce(ctx, q, args, search)
	if err != nil || search.Method == "exact" {
		return out, search, err
	}
	if len(out) == k && 1-out[0].Similarity <= s.far {
		return out, search, nil
	}
	// Short or far: an approximate search may have missed closer examples.
	// The labelled set is small, so exact search is cheap.
	search.Method = "exact"
	out, err = s.searchOnce(ctx, q, args, search)
	return out, search, err
}

// searchOnce runs the kNN query in one round trip: a read-only transaction
// whose SET LOCALs tune the HNSW scan, or turn index scans off for an
// exact search. A failed statement leaves the connection in a failed
// transaction, which the pool discards on release.
func (s *Service) searchOnce(ctx context.Context, q string, args []any, search KNNSearch) ([]Neighbour, error) {
	b := &pgx.Batch{}
	b.Queue(`BEGIN READ ONLY`)
	// A cached generic plan would scan the table instead of the HNSW index,
	// whose use depends on the query vector being a constant.
	b.Queue(`SET LOCAL plan_cache_mode = force_custom_plan`)
	if search.Method == "exact" {
		b.Queue(`SET LOCAL enable_indexscan = off`)
	} else {
		b.Queue(fmt.Sprintf(`SET LOCAL hnsw.ef_search = %d`, search.EfSearch))
		b.Queue(`SET LOCAL hnsw.iterative_scan = relaxed_order`)
	}
	b.Queue(q, args...)
	b.Queue(`COMMIT`)
	br := s.pool.SendBatch(ctx, b)
	defer br.Close()
	for range b.Len() - 2 {
		if _, err := br.Exec(); err != nil {
			return nil, err
		}
	}
	rows, err := br.Query()
	if err != nil {
		return nil, err
	}
	out, err := collectNeighbours(rows)
	if err != nil {
		return nil, err
	}
	if _, err := br.Exec(); err != nil {
		return nil, err
	}
	return out, br.Close()
}

// kindHasExamples reports whether the embedder's model has labelled
// examples of kind. Examples are only ever added to a kind, so a yes is
// remembered.
func (s *Service) kindHasExamples(ctx context.Context, kind string) (bool, error) {
	if kind == "" {
		return false, nil
	}
	key := s.emb.Model() + " " + kind
	if _, ok := s.kinds.Load(key); ok {
		return true, nil
	}
	var any bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM example_embeddings WHERE model = $1 AND kind = $2)`,
		s.emb.Model(), kind).Scan(&any)
	if any {
		s.kinds.Store(key, true)
	}
	return any, err
}

func collectNeighbours(rows pgx.Rows) ([]Neighbour, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Neighbour, error) {
		var n Neighbour
		var dist float64
		err := r.Scan(&n.ExampleID, &n.Cause, &dist)
		n.Similarity = 1 - dist
		return n, err
	})
}

// checkVector refuses vectors the database would store but never match.
func (s *Service) checkVector(vec []float32) error {
	if len(vec) != s.emb.Dim() {
		return fmt.Errorf("embedder %s returned %d dimensions, want %d: %w", s.emb.Model(), len(vec), s.emb.Dim(), models.ErrDimension)
	}
	for _, x := range vec {
		if x != 0 {
			return nil
		}
	}
	return errors.New("embedding is all zeros: the text has no words")
}
