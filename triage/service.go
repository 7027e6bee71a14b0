// Package triage turns exceptions into cases: it embeds each exception,
// classifies its cause by the nearest labelled examples in pgvector,
// scores stockout and delivery risk, ranks the fixes the cause allows
// (checked against orchestration's sourcing in what-if mode), and lets the
// policy in rules decide whether the best fix is applied automatically or
// waits for a person. People's decisions become labelled examples.
//
// Every case records its inputs, the neighbours it used and the versions
// of the embedding model, classifier, risk models and policy, so each
// decision can be explained and replayed. The package renders no HTML.
package triage

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/omnitriage/omnitriage/models"
	"github.com/omnitriage/omnitriage/orchestration"
	"github.com/omnitriage/omnitriage/rules"
)

// Command is a fix for orchestration to carry out on triage's behalf.
type Command struct {
	// ID is the command's idempotency key: applying the same ID twice, or
	// from two processes at once, must change the order once. It is
	// derived from the case, so a retry after a crash reuses it.
	ID          string         `json:"id"`
	CaseID      uuid.UUID      `json:"case_id"`
	ExceptionID uuid.UUID      `json:"exception_id"`
	OrderID     *uuid.UUID     `json:"order_id,omitempty"`
	Action      string         `json:"action"` // one of rules.Actions()
	Params      map[string]any `json:"params"`
	// Actor is who decided: "triage:auto" or the reviewer.
	Actor  string `json:"actor"`
	Reason string `json:"reason"`
}

// Result is what an Applier reports about a command it carried out.
type Result struct {
	// Message says what changed, for the case page.
	Message string `json:"message"`
	// Data holds what the command produced (new reservation ids, a
	// notification id…).
	Data map[string]any `json:"data,omitempty"`
}

// Applier carries out commands. cmd wires orchestration's commands into
// it; until then a Service has none and never applies anything. Apply must
// be idempotent by Command.ID and return an error when nothing was applied.
type Applier interface {
	Apply(ctx context.Context, cmd Command) (Result, error)
}

// A Validator is an Applier that can say, without applying anything, that
// it would refuse a command outright (no order to act on, no command for
// the action). Triage asks before deciding to apply a fix automatically,
// so such a case goes to a person with the reason, and the fix is never
// attempted.
type Validator interface {
	Validate(cmd Command) error
}

// A StateValidator is an Applier that can also say, without applying
// anything, whether it would refuse a command in the order's current state
// (a retry of a step the order has left, a reroute of a shipped order).
// Triage asks for each fix it would offer, best first: a fix that would be
// refused is kept as an alternative marked infeasible with the refusal,
// and the next one is offered instead.
type StateValidator interface {
	ValidateState(ctx context.Context, cmd Command) error
}

// Config is what a Service needs besides its pool.
type Config struct {
	// Core is the orchestration core, for orders and their sourcing plans.
	Core *orchestration.Service
	// Embedder embeds exception and example texts.
	Embedder models.Embedder
	// Policy returns the policy in force; it may change between calls.
	Policy func() *rules.Policy
	// Applier applies fixes; nil means nothing is ever applied and every
	// fix that would be applied automatically waits for a person.
	Applier Applier
	Log     *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// BaseURL prefixes case links, e.g. "https://triage.example.com".
	BaseURL string
	// Neighbours is how many labelled examples vote; 0 means 10.
	Neighbours int
	// EfSearch is hnsw.ef_search for the kNN query; 0 means 40.
	EfSearch int
	// FarDistance is the cosine distance of the top HNSW hit beyond which
	// the search is repeated exactly; 0 means 0.5.
	FarDistance float64
	// MinSimilarity is the least similarity to the nearest labelled example
	// for a fix to be applied automatically; 0 means 0.65. Farther
	// exceptions are new territory (a system's phrasing no example has) and
	// go to a person whatever the vote: on the seeded library, held-out
	// messages whose system's phrasing is known have a nearest example at
	// 0.69 or more, those whose phrasing is new mostly at 0.40–0.60, where
	// the vote is right only about 60% of the time.
	MinSimilarity float64
	// DedupeWindow is how long after its last report an open case absorbs
	// repeated reports of its problem (POST /v1/recommendations); 0 means
	// 24 hours.
	DedupeWindow time.Duration
	// Library is the cause library SeedCauses writes (LoadLibrary); nil
	// means the embedded one (Library).
	Library []SeedCause
}

// Service is the triage pipeline over one database.
type Service struct {
	pool    *pgxpool.Pool
	core    *orchestration.Service
	emb     models.Embedder
	policy  func() *rules.Policy
	applier Applier
	log     *slog.Logger
	now     func() time.Time
	baseURL string
	vote    models.VoteOptions
	ef      int
	far     float64
	minSim  float64
	// dedupeWindow is Config.DedupeWindow.
	dedupeWindow time.Duration
	library      []SeedCause // Config.Library

	mu      sync.RWMutex
	indexed map[string]bool // "table model" pairs whose HNSW index exists
	cls     classifier      // calibration in force for the embedder's model
	risk    riskModels      // trained risk models, when any
	causes  map[string]Cause
	vocab   map[string]bool // the library's content words (loadVocabulary)
	kinds   sync.Map        // "model kind" pairs that have examples
	// clusterer, once NewClusterer attached one, places each exception
	// triage commits in its root-cause cluster.
	clusterer atomic.Pointer[Clusterer]
	// queueTargets is the SLA targets (JSON) last written to
	// review_sla_targets (syncQueueTargets).
	queueTargets atomic.Pointer[string]
}

// NewService returns a triage service over pool. It does no I/O; call
// SeedCauses (which also trains the classifier) before the first intake.
func NewService(pool *pgxpool.Pool, cfg Config) (*Service, error) {
	switch {
	case pool == nil:
		return nil, errors.New("triage.NewService: no pool")
	case cfg.Core == nil:
		return nil, errors.New("triage.NewService: no orchestration core")
	case cfg.Embedder == nil:
		return nil, errors.New("triage.NewService: no embedder")
	case cfg.Policy == nil:
		return nil, errors.New("triage.NewService: no policy")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	vote := models.DefaultVoteOptions()
	if cfg.Neighbours > 0 {
		vote.K = cfg.Neighbours
	}
	s := &Service{
		pool: pool, core: cfg.Core, emb: cfg.Embedder, policy: cfg.Policy, applier: cfg.Applier,
		log: cfg.Log, now: cfg.Now, baseURL: cfg.BaseURL, vote: vote,
		ef: orDefault(cfg.EfSearch, 40), far: orDefaultF(cfg.FarDistance, 0.5), minSim: orDefaultF(cfg.MinSimilarity, 0.65),
		indexed: map[string]bool{}, dedupeWindow: cmp.Or(cfg.DedupeWindow, defaultDedupeWindow),
		library: cfg.Library,
	}
	s.cls = untrainedClassifier(cfg.Embedder.Model())
	return s, nil
}

// Model returns the embedding model the service classifies with.
func (s *Service) Model() string { return s.emb.Model() }

// CaseURL is the review page of a case.
func (s *Service) CaseURL(id uuid.UUID) string {
	return fmt.Sprintf("%s/review/cases/%s", s.baseURL, id)
}

func orDefault(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

func orDefaultF(v, def float64) float64 {
	if v > 0 {
		return v
	}
	return def
}
