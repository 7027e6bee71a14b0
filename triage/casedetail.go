package triage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/pgvector/pgvector-go"

	"github.com/omnitriage/omnitriage/internal/derrors"
	"github.com/omnitriage/omnitriage/orchestration"
	"github.com/omnitriage/omnitriage/rules"
)

// SimilarEfSearch is hnsw.ef_search for the similar-cases search over
// exception vectors: the README's recall measurements (IndexSQL) call for
// 200 with the current graph.
const SimilarEfSearch = 200

// similarShown is how many similar past cases the case page shows.
const similarShown = 5

// SimilarCase is a past decided case near a case's exception, with what
// was decided and how it turned out.
type SimilarCase struct {
	CaseID     uuid.UUID
	Kind       string
	Cause      string
	Code       string
	Message    string
	Similarity float64
	Decision   string
	Action     string
	By         string
	At         time.Time
	// Applied is what the applier answered, "" when nothing was applied.
	Applied string
	// Recurred counts exceptions the same order raised after the decision:
	// zero means the fix held.
	Recurred int
}

// StockRow is a SKU's stock at a location, with whether it covers what the
// order needs of that SKU.
type StockRow struct {
	orchestration.Stock
	Needed int
	Covers bool
}

// CaseDetail is everything the case page shows: the case, the exception
// as sent, the order with its timeline, stock of its SKUs, similar past
// cases, the live claim and what a modify may choose from.
type CaseDetail struct {
	Case      Case
	Exception orchestration.Exception
	// Timeline is the order's, nil when the exception names no order.
	Timeline *orchestration.Timeline
	Stock    []StockRow
	Similar  []SimilarCase
	// SimilarNote says why no similar cases are shown, when none are.
	SimilarNote string
	Claim       Claim
	DueAt       time.Time
	Overdue     bool
	// Locations are where a reroute may send the order's lines: those with
	// stock of its SKUs, best covered first.
	Locations []string
	// Templates are the notification templates the cause library knows.
	Templates []string
	// CompensationLimit is the most compensation the customer's tier
	// allows on one order.
	CompensationLimit float64
	// Causes are the active causes of the exception's kind, for a
	// corrected cause.
	Causes []Cause
}

// CaseDetail gathers a case's page for reviewer.
func (s *Service) CaseDetail(ctx context.Context, caseID uuid.UUID, reviewer string) (_ CaseDetail, err error) {
	defer derrors.Wrap(&err, "CaseDetail(%s)", caseID)
	c, err := s.GetCase(ctx, caseID)
	if err != nil {
		return CaseDetail{}, err
	}
	d := CaseDetail{Case: c}
	if d.Exception, err = loadException(ctx, s.pool, c.ExceptionID); err != nil {
		return CaseDetail{}, err
	}
	if d.Claim, err = s.claimOf(ctx, s.pool, caseID, reviewer); err != nil {
		return CaseDetail{}, err
	}
	queued := c.CreatedAt
	if c.TriagedAt != nil {
		queued = *c.TriagedAt
	}
	pol := s.policy()
	target, ok := pol.SLA.FirstResponse(c.Severity)
	if !ok {
		target = 24 * time.Hour
	}
	d.DueAt = queued.Add(target)
	d.Overdue = c.Status == StatusQueued && d.DueAt.Before(s.now())

	tier := ""
	if c.OrderID != nil {
		tl, err := s.core.OrderTimeline(ctx, *c.OrderID)
		if err != nil && !errors.Is(err, derrors.NotFound) {
			return CaseDetail{}, err
		}
		if err == nil {
			d.Timeline = &tl
			tier = tl.Order.Customer.Tier
		}
	}
	if d.Stock, d.Locations, err = s.caseStock(ctx, d.Timeline, d.Exception, c); err != nil {
		return CaseDetail{}, err
	}
	d.CompensationLimit = pol.Limits.CompensationLimit(tier)
	causes, err := s.Causes(ctx)
	if err != nil {
		return CaseDetail{}, err
	}
	seen := map[string]bool{}
	for _, k := range causes {
		if k.Kind == c.Kind {
			d.Causes = append(d.Causes, k)
		}
		if t, ok := k.Params[rules.ActionNotify]["template"].(string); ok && !seen[t] {
			seen[t] = true
			d.Templates = append(d.Templates, t)
		}
	}
	slices.Sort(d.Templates)
	if d.Similar, d.SimilarNote, err = s.SimilarCases(ctx, c); err != nil {
		return CaseDetail{}, err
	}
	return d, nil
}

// caseStock reads the stock of the order's SKUs (or the exception's SKU) at
// every location holding any, and the locations a reroute may choose.
func (s *Service) caseStock(ctx context.Context, tl *orchestration.Timeline, exc orchestration.Exception, c Case) ([]StockRow, []string, error) {
	need := map[string]int{}
	var skus []string
	if tl != nil {
		for _, l := range tl.Order.Lines {
			if l.Status == orchestration.LineCancelled {
				continue
			}
			if _, ok := need[l.SKU]; !ok {
				skus = append(skus, l.SKU)
			}
			need[l.SKU] += l.Qty
		}
	}
	if len(skus) == 0 && exc.SKU != "" {
		skus, need[exc.SKU] = []string{exc.SKU}, 1
	}
	var out []StockRow
	covered := map[string]int{} // location → SKUs it covers
	for _, sku := range skus {
		st, err := s.core.StockOf(ctx, sku, "")
		if err != nil {
			return nil, nil, err
		}
		for _, r := range st {
			row := StockRow{Stock: r, Needed: need[sku], Covers: r.Available >= need[sku]}
			if row.Covers {
				covered[r.Location]++
			}
			out = append(out, row)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].SKU != out[j].SKU {
			return out[i].SKU < out[j].SKU
		}
		return out[i].Available > out[j].Available
	})
	var locs []string
	for l := range covered {
		locs = append(locs, l)
	}
	sort.Slice(locs, func(i, j int) bool {
		if covered[locs[i]] != covered[locs[j]] {
			return covered[locs[i]] > covered[locs[j]]
		}
		return locs[i] < locs[j]
	})
	// The recommended reroute's target comes first, whatever the stock says.
	for _, cand := range append([]Candidate{{Action: c.Action, Params: c.Params}}, c.Alternatives...) {
		if t, ok := cand.Params["to_location"].(string); ok && cand.Action == rules.ActionReroute && t != "" {
			locs = slices.DeleteFunc(locs, func(l string) bool { return l == t })
			locs = append([]string{t}, locs...)
		}
	}
	if len(skus) > 0 && len(locs) > 40 {
		locs = locs[:40]
	}
	return out, locs, nil
}

// SimilarCases finds the five decided cases whose exceptions are nearest to
// c's, through the HNSW index of exception vectors at SimilarEfSearch with
// an iterative scan (so the index keeps searching until it finds decided
// ones). The note says why there are none, when there are none.
func (s *Service) SimilarCases(ctx context.Context, c Case) (_ []SimilarCase, note string, err error) {
	defer derrors.Wrap(&err, "SimilarCases(%s)", c.ID)
	vec, err := s.caseVector(ctx, c)
	if err != nil {
		return nil, "", err
	}
	if vec == nil {
		return nil, "the exception has no text to compare yet", nil
	}
	if err := s.ensureIndex(ctx, tableExceptionVectors); err != nil {
		return nil, "", err
	}
	q, err := s.similarSQL()
	if err != nil {
		return nil, "", err
	}
	b := &pgx.Batch{}
	b.Queue(`BEGIN READ ONLY`)
	for _, set := range similarSettings() {
		b.Queue(set)
	}
	b.Queue(q, pgvector.NewVector(vec), c.ID, similarShown)
	b.Queue(`COMMIT`)
	br := s.pool.SendBatch(ctx, b)
	defer br.Close()
	for range len(similarSettings()) + 1 {
		if _, err := br.Exec(); err != nil {
			return nil, "", err
		}
	}
	rows, err := br.Query()
	if err != nil {
		return nil, "", err
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (SimilarCase, error) {
		var sc SimilarCase
		var d float64
		var at *time.Time
		err := r.Scan(&sc.CaseID, &sc.Kind, &sc.Cause, &sc.Code, &sc.Message, &d, &sc.Decision, &sc.Action, &sc.By, &at,
			&sc.Applied, &sc.Recurred)
		sc.Similarity = 1 - d
		if at != nil {
			sc.At = *at
		}
		return sc, err
	})
	if err != nil {
		return nil, "", err
	}
	if _, err := br.Exec(); err != nil {
		return nil, "", err
	}
	if len(out) == 0 {
		note = "no decided case has a similar exception yet"
	}
	return out, note, br.Close()
}

// similarSettings are the SET LOCALs the similar-cases search runs in its
// transaction: a custom plan (the HNSW index is only used when the planner
// sees the query vector), the README's ef_search and an iterative scan, so
// the index keeps walking the graph while the decided-case filter rejects
// its hits.
func similarSettings() []string {
	return []string{`SET LOCAL plan_cache_mode = force_custom_plan`,
		fmt.Sprintf(`SET LOCAL hnsw.ef_search = %d`, SimilarEfSearch),
		`SET LOCAL hnsw.iterative_scan = relaxed_order`}
}

// similarSQL is the similar-cases query: $1 the vector, $2 the case itself
// (left out), $3 how many. The model and dimension are literals so the
// planner matches the partial HNSW index of exception_vectors.
func (s *Service) similarSQL() (string, error) {
	lit, err := quoteLiteral(s.emb.Model())
	if err != nil {
		return "", err
	}
	dist := fmt.Sprintf("v.embedding::vector(%d) <=> $1", s.emb.Dim())
	return fmt.Sprintf(`
		WITH hits AS MATERIALIZED (
			SELECT v.vector_hash, (%[1]s)::float8 AS distance FROM exception_vectors v
			WHERE v.model = %[2]s AND EXISTS (
				SELECT 1 FROM exception_embeddings x JOIN cases c ON c.exception_id = x.exception_id
				WHERE x.model = %[2]s AND x.vector_hash = v.vector_hash AND c.status = 'decided' AND c.id <> $2)
			ORDER BY %[1]s LIMIT $3)
		SELECT c.id, c.kind, coalesce(c.cause, ''), e.code, e.message, h.distance, c.decision, coalesce(c.decided_action, ''),
			c.decided_by, c.decided_at, coalesce(c.result->>'message', ''),
			(SELECT count(*)::int FROM core_exceptions r WHERE r.order_id = c.order_id AND r.created_at > c.decided_at)
		FROM hits h CROSS JOIN LATERAL (
			SELECT c.* FROM exception_embeddings x JOIN cases c ON c.exception_id = x.exception_id
			WHERE x.model = %[2]s AND x.vector_hash = h.vector_hash AND c.status = 'decided' AND c.id <> $2
			ORDER BY c.decided_at DESC LIMIT $3) c
		JOIN core_exceptions e ON e.id = c.exception_id
		ORDER BY h.distance, c.decided_at DESC, c.id LIMIT $3`, dist, lit), nil
}

// caseVector is the stored vector of c's exception under the service's
// model, or the embedding of the text its triage kept when the worker has
// not stored it yet; nil when there is no text.
func (s *Service) caseVector(ctx context.Context, c Case) ([]float32, error) {
	var v pgvector.Vector
	err := s.pool.QueryRow(ctx, `
		SELECT v.embedding FROM exception_embeddings x
		JOIN exception_vectors v ON v.model = x.model AND v.vector_hash = x.vector_hash
		WHERE x.exception_id = $1 AND x.model = $2`, c.ExceptionID, s.emb.Model()).Scan(&v)
	if err == nil {
		return v.Slice(), nil
	}
	if !isNoRows(err) {
		return nil, err
	}
	var in struct {
		Text string `json:"text"`
	}
	if len(c.Inputs) > 0 {
		if err := json.Unmarshal(c.Inputs, &in); err != nil {
			return nil, fmt.Errorf("case inputs: %w", err)
		}
	}
	if in.Text == "" {
		return nil, nil
	}
	vecs, err := s.emb.Embed(ctx, []string{in.Text})
	if err != nil {
		return nil, fmt.Errorf("embedding the case's text: %w", err)
	}
	if len(vecs) != 1 || s.checkVector(vecs[0]) != nil {
		return nil, nil
	}
	return vecs[0], nil
}
