package triage

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/pgvector/pgvector-go"

	"github.com/omnitriage/omnitriage/internal/derrors"
	"github.com/omnitriage/omnitriage/models"
	"github.com/omnitriage/omnitriage/orchestration"
	"github.com/omnitriage/omnitriage/rules"
)

// timeoutException is an integration timeout: retry, which the default
// policy applies automatically above 0.65.
func timeoutException() orchestration.Exception {
	return orchestration.Exception{Kind: orchestration.KindIntegrationError, Severity: orchestration.SeverityMedium,
		Code: "ETIMEDOUT", Endpoint: "carrier.ship",
		Message: "POST https://onlinetools.ups.com/api/shipments/v2409/ship timed out after 30000ms"}
}

func TestAutoApply(t *testing.T) {
	t.Parallel()
	pickup := orchestration.Exception{Kind: orchestration.KindPickupNotCollected, Code: "PICKUP_EXPIRED",
		Message: "Pickup window expired for order #S-70431 after 7 days and 3 reminders; items to be restocked"}
	tests := []struct {
		name       string
		exc        orchestration.Exception
		applier    bool
		failApply  bool
		validate   bool
		wantStatus string
		wantReason string
		wantAction string
	}{
		{"applied above threshold", timeoutException(), true, false, false, StatusAutoApplied, "meets threshold", rules.ActionRetry},
		{"never without an applier", timeoutException(), false, false, false, StatusQueued, "no applier configured", rules.ActionRetry},
		{"never for a never-automatic action", pickup, true, false, false, StatusQueued, "never applied automatically", rules.ActionCancelOrder},
		{"never-automatic without applier", pickup, false, false, false, StatusQueued, "never applied automatically", rules.ActionCancelOrder},
		{"queued when applying fails", timeoutException(), true, true, false, StatusQueued, "automatic application failed", rules.ActionRetry},
		{"queued, never attempted, when the applier refuses it beforehand", timeoutException(), true, false, true, StatusQueued,
			"cannot be applied automatically (retry needs an order", rules.ActionRetry},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var rec *recordingApplier
			var opts fixtureOptions
			switch {
			case tt.validate:
				v := &validatingApplier{}
				rec, opts.applier = &v.recordingApplier, v
			case tt.applier:
				rec = &recordingApplier{}
				if tt.failApply {
					rec.fail = errApplyRefused
				}
				opts.applier = rec
			}
			f := newFixture(t, opts)
			c := f.report(t, tt.exc)
			if c.Status != tt.wantStatus || !strings.Contains(c.Reason, tt.wantReason) || c.Action != tt.wantAction {
				t.Fatalf("case = %s (%q) action %s, want %s (%q) action %s", c.Status, c.Reason, c.Action, tt.wantStatus, tt.wantReason, tt.wantAction)
			}
			calls := 0
			if rec != nil {
				calls = rec.calls
			}
			wantCalls := map[bool]int{true: 1, false: 0}[tt.wantStatus == StatusAutoApplied || tt.failApply]
			if calls != wantCalls {
				t.Errorf("applier called %d times, want %d", calls, wantCalls)
			}
			if (c.Result != nil) != (tt.wantStatus == StatusAutoApplied) {
				t.Errorf("case result = %+v with status %s: a result only when applied", c.Result, c.Status)
			}
			var excStatus string
			var applied bool
			if err := f.pool.QueryRow(context.Background(), `SELECT e.status, d.applied FROM exceptions e
				JOIN case_decisions d ON d.case_id = $2 WHERE e.id = $1`, c.ExceptionID, c.ID).Scan(&excStatus, &applied); err != nil {
				t.Fatal(err)
			}
			wantExc := map[bool]string{true: "resolved", false: "triaged"}[tt.wantStatus == StatusAutoApplied]
			if excStatus != wantExc || applied != (tt.wantStatus == StatusAutoApplied) {
				t.Errorf("exception %s, decision applied %v; want %s, %v", excStatus, applied, wantExc, tt.wantStatus == StatusAutoApplied)
			}
		})
	}
}

// TestConcurrentIntake triages one exception from many goroutines: one
// case, one decision, one application.
func TestConcurrentIntake(t *testing.T) {
	t.Parallel()
	rec := &recordingApplier{}
	f := newFixture(t, fixtureOptions{applier: rec})
	ctx := context.Background()
	e := timeoutException()
	if err := f.svc.prepareException(&e, "test"); err != nil {
		t.Fatal(err)
	}
	b := &pgx.Batch{}
	f.svc.core.QueueReport(b, e)
	if err := f.pool.SendBatch(ctx, b).Close(); err != nil {
		t.Fatal(err)
	}
	const n = 8
	cases := make([]Case, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cases[i], errs[i] = f.svc.Intake(ctx, e.ID)
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Intake #%d: %v", i, errs[i])
		}
		if cases[i].ID != cases[0].ID || cases[i].Status != StatusAutoApplied {
			t.Errorf("Intake #%d = case %s %s, want case %s auto_applied", i, cases[i].ID, cases[i].Status, cases[0].ID)
		}
	}
	if got := f.count(t, `SELECT count(*) FROM cases WHERE exception_id = $1`, e.ID); got != 1 {
		t.Errorf("%d cases for one exception, want 1", got)
	}
	if got := f.count(t, `SELECT count(*) FROM case_decisions WHERE case_id = $1`, cases[0].ID); got != 1 {
		t.Errorf("%d decisions recorded, want 1", got)
	}
	if rec.calls != 1 {
		t.Errorf("applier called %d times, want 1", rec.calls)
	}
	again, err := f.svc.Intake(ctx, e.ID)
	if err != nil || again.ID != cases[0].ID || rec.calls != 1 {
		t.Errorf("Intake after triage = %s, %v with %d applications; want the same case, applied once", again.ID, err, rec.calls)
	}
}

// TestIntakeRetriesLater checks that a failed triage leaves the case open
// for TriageOpen, which triages it once the embedder answers.
func TestIntakeRetriesLater(t *testing.T) {
	t.Parallel()
	pool := newFixture(t, fixtureOptions{}).pool
	down := newFixture(t, fixtureOptions{pool: pool, noSeed: true, embedder: failingEmbedder{models.NewLocalEmbedder(0)}})
	ctx := context.Background()
	res, err := down.svc.Report(ctx, "test", timeoutException(), nil)
	if err != nil {
		t.Fatalf("Report with the embedder down: %v, want the exception stored", err)
	}
	if res.Case.Status != StatusOpen || res.Case.Attempts != 1 || !strings.Contains(res.Case.LastError, "embedding server down") {
		t.Fatalf("case = %s, %d attempts, %q; want open after 1 failed attempt", res.Case.Status, res.Case.Attempts, res.Case.LastError)
	}
	up := newFixture(t, fixtureOptions{pool: pool, noSeed: true})
	if _, err := up.svc.LoadClassifier(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := up.svc.TriageOpen(ctx, 10); err != nil || n != 0 {
		t.Errorf("TriageOpen before the backoff = %d, %v; want 0 (not due yet)", n, err)
	}
	up.now = up.now.Add(time.Minute)
	if n, err := up.svc.TriageOpen(ctx, 10); err != nil || n != 1 {
		t.Fatalf("TriageOpen after the backoff = %d, %v; want 1", n, err)
	}
	c, err := up.svc.GetCase(ctx, res.Case.ID)
	if err != nil || c.Status != StatusQueued || c.Cause != "integration_timeout" {
		t.Errorf("case after retry = %s %s, %v; want queued_for_review integration_timeout", c.Status, c.Cause, err)
	}
}

// TestKNNUsesModel stores a second model's vectors with wrong labels and
// checks each service searches only its own model's vectors, through its
// own HNSW index.
func TestKNNUsesModel(t *testing.T) {
	t.Parallel()
	a := newFixture(t, fixtureOptions{})
	ctx := context.Background()
	other := renamedEmbedder{models.NewLocalEmbedder(0), "local-hash-v1-384-o'brien"}
	b := newFixture(t, fixtureOptions{pool: a.pool, embedder: other})
	// Model b's vectors of payment examples all claim card_expired.
	if _, err := a.pool.Exec(ctx, `UPDATE example_embeddings SET cause = 'card_expired' WHERE model = $1 AND kind = 'payment_failed'`,
		other.Model()); err != nil {
		t.Fatal(err)
	}
	text := ExceptionText(orchestration.KindPaymentFailed, "51", "REFUSED: NOT SUFFICIENT FUNDS (51) merchantRef WEB-771203 amount EUR 19,99")
	vecs, err := models.NewLocalEmbedder(0).Embed(ctx, []string{text})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		f     *fixture
		model string
		want  string
	}{{a, a.svc.Model(), "insufficient_funds"}, {b, other.Model(), "card_expired"}} {
		got, err := tt.f.svc.classify(ctx, vecs[0], orchestration.KindPaymentFailed)
		if err != nil {
			t.Fatal(err)
		}
		if got.Cause != tt.want {
			t.Errorf("model %q classified %s, want %s", tt.model, got.Cause, tt.want)
		}
		for _, n := range got.Neighbours {
			var model string
			if err := a.pool.QueryRow(ctx, `SELECT model FROM example_embeddings WHERE example_id = $1 AND cause = $2 AND model = $3`,
				n.ExampleID, n.Cause, tt.model).Scan(&model); err != nil {
				t.Errorf("model %q: neighbour %+v is not one of its vectors: %v", tt.model, n, err)
			}
		}
	}
	// The query must be able to use each model's partial index.
	for _, f := range []*fixture{a, b} {
		q, err := f.svc.knnSQL(true)
		if err != nil {
			t.Fatal(err)
		}
		tx, err := f.pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// A few hundred rows are cheaper to scan (or to read by a btree and
		// sort, once statistics say the kind filter is selective); forbid the
		// alternatives to see that the index matches the query's expression
		// and predicate.
		if _, err := tx.Exec(ctx, `SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off; SET LOCAL enable_sort = off; SET LOCAL plan_cache_mode = force_custom_plan`); err != nil {
			t.Fatal(err)
		}
		var plan strings.Builder
		rows, err := tx.Query(ctx, `EXPLAIN (COSTS OFF) `+q, pgvector.NewVector(vecs[0]), 10, orchestration.KindPaymentFailed)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var line string
			_ = rows.Scan(&line)
			plan.WriteString(line + "\n")
		}
		rows.Close()
		_ = tx.Rollback(ctx)
		if name := IndexName(tableExampleEmbeddings, f.svc.Model()); !strings.Contains(plan.String(), "Index Scan using "+name) {
			t.Errorf("model %q: kNN plan does not use %s:\n%.2000s", f.svc.Model(), name, plan.String())
		}
	}
}

// TestHNSWIndexes checks that using a model creates its partial HNSW index
// on both vector tables, once.
func TestHNSWIndexes(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	f.report(t, timeoutException())
	for _, table := range []string{tableExampleEmbeddings, tableExceptionVectors} {
		var def string
		err := f.pool.QueryRow(context.Background(), `SELECT indexdef FROM pg_indexes WHERE tablename = $1 AND indexname = $2`,
			table, IndexName(table, f.svc.Model())).Scan(&def)
		if err != nil {
			t.Errorf("%s: no HNSW index for %s: %v", table, f.svc.Model(), err)
			continue
		}
		for _, want := range []string{"USING hnsw", "vector(384)", "vector_cosine_ops", "model = 'local-hash-v1-384'"} {
			if !strings.Contains(def, want) {
				t.Errorf("%s index = %s, want it to contain %q", table, def, want)
			}
		}
	}
	// A second service (another process) finds the index and does not fail.
	g := newFixture(t, fixtureOptions{pool: f.pool, noSeed: true})
	if err := g.svc.ensureIndex(context.Background(), tableExampleEmbeddings); err != nil {
		t.Errorf("ensureIndex again: %v", err)
	}
	if n := f.count(t, `SELECT count(*) FROM pg_indexes WHERE indexname LIKE '%hnsw%'`); n != 2 {
		t.Errorf("%d HNSW indexes, want 2", n)
	}
}

func TestQuoteLiteral(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"local-hash-v1-384", "'local-hash-v1-384'", true},
		{"o'brien", "'o''brien'", true},
		{`a\'b`, `E'a\\''b'`, true},
		{"x'; DROP TABLE cases; --", "'x''; DROP TABLE cases; --'", true},
		{"nul\x00", "", false},
		{"bad\xff", "", false},
	}
	for _, tt := range tests {
		got, err := quoteLiteral(tt.in)
		if got != tt.want || (err == nil) != tt.ok {
			t.Errorf("quoteLiteral(%q) = %q, %v; want %q, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
	if a, b := IndexName("t", "m1"), IndexName("t", "m2"); a == b || len(a) > 63 || !strings.HasPrefix(a, "t_hnsw_") {
		t.Errorf("IndexName = %q, %q; want distinct names under 64 bytes", a, b)
	}
}

// TestStockoutReroute raises phantom stock at the warehouse an order was
// sourced from and expects a reroute to the other one, checked by
// what-if sourcing, with risks and their factors.
func TestStockoutReroute(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	f.network(t, map[string][3]int{"SKU-1": {5, 6, 0}, "SKU-2": {1, 0, 0}, "SKU-3": {0, 0, 9}},
		map[string][]string{"SKU-2": {"SKU-3"}})
	o := f.order(t, "W-1001", "SKU-1", 2, "standard")
	from := o.Lines[0].Allocations[0].Location
	c := f.report(t, orchestration.Exception{Kind: orchestration.KindStockout, OrderID: &o.ID, SKU: "SKU-1", Location: from,
		Code: "SHORT_PICK", Message: "Short pick at " + from + ": system on hand 5 for SKU-1, picker found 0 on shelf; order #W-1001"})
	if c.Cause != "phantom_stock" || c.Action != rules.ActionReroute {
		t.Fatalf("case = %s / %s (%s), want phantom_stock / reroute", c.Cause, c.Action, c.Reason)
	}
	if to := c.Params["to_location"]; to == from || to == nil {
		t.Errorf("reroute to %v from %s, want another warehouse", to, from)
	}
	if !strings.Contains(c.ExpectedEffect, "ships from") {
		t.Errorf("expected effect %q, want where it ships from", c.ExpectedEffect)
	}
	if c.Risks.Stockout.Method != "heuristic" || len(c.Risks.Stockout.Factors) == 0 || c.Risks.Stockout.Features["qty_needed"] != 2 {
		t.Errorf("stockout risk = %+v, want a heuristic score with factors for 2 units", c.Risks.Stockout)
	}
	if c.Risks.Delivery.Method == "" || c.Versions.Stockout != StockoutHeuristicVersion {
		t.Errorf("delivery risk %+v, versions %+v: want both scored and versioned", c.Risks.Delivery, c.Versions)
	}
	var split *Candidate
	for i := range c.Alternatives {
		if c.Alternatives[i].Action == rules.ActionSplit {
			split = &c.Alternatives[i]
		}
	}
	if split == nil || split.Feasible {
		t.Errorf("split alternative = %+v, want it kept but not feasible (one location fills the order)", split)
	}

	// A SKU no other location holds: substitute is checked against its substitute's stock.
	o2 := f.order(t, "W-1002", "SKU-2", 1, "standard")
	c2 := f.report(t, orchestration.Exception{Kind: orchestration.KindStockout, OrderID: &o2.ID, SKU: "SKU-2",
		Code: "UNSOURCEABLE_BACKORDER", Message: "could not source 1 × SKU-2 (no single location fills the order; backordered) for order W-1002; backordered",
		Location: o2.Lines[0].Allocations[0].Location})
	if c2.Cause != "unsourceable" || c2.Action != rules.ActionSubstitute || c2.Params["substitute"] != "SKU-3" {
		t.Errorf("case = %s / %s %v (%s), want unsourceable / substitute SKU-3", c2.Cause, c2.Action, c2.Params, c2.Reason)
	}
	if c2.Risks.Stockout.Probability <= c.Risks.Stockout.Probability {
		t.Errorf("stockout risk with no stock left elsewhere %.3f <= %.3f with stock elsewhere", c2.Risks.Stockout.Probability, c.Risks.Stockout.Probability)
	}
}

// TestCoreExceptionBecomesCase captures an order the network cannot fill:
// the core raises a stockout, the hook gives it a case in the same
// transaction, and TriageOpen triages it.
func TestCoreExceptionBecomesCase(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	f.network(t, map[string][3]int{"SKU-7": {1, 0, 0}}, nil)
	o := f.order(t, "W-2001", "SKU-7", 3, "standard")
	ctx := context.Background()
	if n := f.count(t, `SELECT count(*) FROM cases c JOIN exceptions e ON e.id = c.exception_id
		WHERE e.order_id = $1 AND e.kind = 'stockout' AND c.status = 'open'`, o.ID); n != 1 {
		t.Fatalf("%d open stockout cases after capture, want 1", n)
	}
	if n, err := f.svc.TriageOpen(ctx, 10); err != nil || n != 1 {
		t.Fatalf("TriageOpen = %d, %v; want 1", n, err)
	}
	var id uuid.UUID
	if err := f.pool.QueryRow(ctx, `SELECT id FROM exceptions WHERE order_id = $1`, o.ID).Scan(&id); err != nil {
		t.Fatal(err)
	}
	c, err := f.svc.CaseOfException(ctx, id)
	if err != nil || c.Cause != "unsourceable" || c.Status != StatusQueued {
		t.Errorf("case of the capture's stockout = %s %s (%s), %v; want queued unsourceable", c.Status, c.Cause, c.Reason, err)
	}
	if n, err := f.svc.TriageOpen(ctx, 10); err != nil || n != 0 {
		t.Errorf("TriageOpen again = %d, %v; want 0", n, err)
	}
}

func TestIntakeUnknownException(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{noSeed: true})
	_, err := f.svc.Intake(context.Background(), uuid.New())
	if !errors.Is(err, derrors.NotFound) {
		t.Errorf("Intake(unknown) = %v, want NotFound", err)
	}
}

// TestBackgroundWork checks what Run does besides triage: a new model gets
// the history's vectors, and the calibration is refitted once reviews have
// changed the examples.
func TestBackgroundWork(t *testing.T) {
	t.Parallel()
	a := newFixture(t, fixtureOptions{})
	ctx := context.Background()
	c := a.report(t, timeoutException())
	if n := a.count(t, `SELECT count(*) FROM exception_embeddings`); n != 0 {
		t.Errorf("%d vectors stored by the triage itself, want none: the worker stores them", n)
	}
	if n, err := a.svc.StoreVectors(ctx, 10); err != nil || n != 1 {
		t.Fatalf("StoreVectors = %d, %v; want 1", n, err)
	}
	if n, err := a.svc.StoreVectors(ctx, 10); err != nil || n != 0 {
		t.Errorf("StoreVectors again = %d, %v; want 0", n, err)
	}
	other := renamedEmbedder{models.NewLocalEmbedder(0), "local-hash-v1-384-next"}
	b := newFixture(t, fixtureOptions{pool: a.pool, embedder: other})
	if n, err := b.svc.EmbedExceptions(ctx, 10); err != nil || n != 1 {
		t.Fatalf("EmbedExceptions = %d, %v; want 1", n, err)
	}
	if n := a.count(t, `SELECT count(*) FROM exception_embeddings WHERE exception_id = $1`, c.ExceptionID); n != 2 {
		t.Errorf("exception has %d vectors, want one per model", n)
	}
	if n, err := b.svc.EmbedExceptions(ctx, 10); err != nil || n != 0 {
		t.Errorf("EmbedExceptions again = %d, %v; want 0", n, err)
	}

	fits := func() int {
		return a.count(t, `SELECT count(*) FROM classifier_calibrations WHERE model = $1`, a.svc.Model())
	}
	before, version := fits(), a.svc.ClassifierVersion()
	if err := a.svc.refit(ctx); err != nil || fits() != before || a.svc.ClassifierVersion() != version {
		t.Fatalf("refit with unchanged examples: %v, %d fits (was %d); want nothing done", err, fits(), before)
	}
	if _, err := a.pool.Exec(ctx, `DELETE FROM cause_examples WHERE id = (SELECT min(id) FROM cause_examples)`); err != nil {
		t.Fatal(err)
	}
	if err := a.svc.refit(ctx); err != nil || fits() != before+1 || a.svc.ClassifierVersion() == version {
		t.Errorf("refit after the examples changed: %v, %d fits (was %d), version %s; want a new fit", err, fits(), before, a.svc.ClassifierVersion())
	}
}

// TestExceptionVectorsShared checks that exceptions whose masked texts are
// equal share one stored (and indexed) vector, each linked to it, and that
// a different message gets a vector of its own.
func TestExceptionVectorsShared(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	a := f.report(t, timeoutException())
	same := timeoutException()
	same.Message = "POST https://onlinetools.ups.com/api/shipments/v2409/ship timed out after 45000ms"
	b := f.report(t, same)
	other := orchestration.Exception{Kind: orchestration.KindPaymentFailed, Code: "card_declined",
		Message: "Your card was declined: insufficient_funds"}
	c := f.report(t, other)
	if n, err := f.svc.StoreVectors(context.Background(), 10); err != nil || n != 3 {
		t.Fatalf("StoreVectors = %d, %v; want 3", n, err)
	}
	for _, id := range []uuid.UUID{a.ExceptionID, b.ExceptionID, c.ExceptionID} {
		if n := f.count(t, `SELECT count(*) FROM exception_embeddings WHERE exception_id = $1`, id); n != 1 {
			t.Errorf("exception %s has %d vector links, want 1", id, n)
		}
	}
	if n := f.count(t, `SELECT count(DISTINCT vector_hash) FROM exception_embeddings WHERE exception_id = ANY($1)`,
		[]uuid.UUID{a.ExceptionID, b.ExceptionID}); n != 1 {
		t.Errorf("two exceptions with one masked text link %d vectors, want 1", n)
	}
	if n := f.count(t, `SELECT count(*) FROM exception_vectors`); n != 2 {
		t.Errorf("%d stored vectors for two distinct texts, want 2", n)
	}
	// The stored hash is the vector's: recomputing it from the row agrees.
	var vec pgvector.Vector
	var h []byte
	if err := f.pool.QueryRow(context.Background(), `SELECT embedding, vector_hash FROM exception_vectors v
		JOIN exception_embeddings x USING (model, vector_hash) WHERE x.exception_id = $1`, c.ExceptionID).Scan(&vec, &h); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(VectorHash(vec.Slice()), h) {
		t.Errorf("stored vector_hash %x is not VectorHash of the stored vector", h)
	}
}
