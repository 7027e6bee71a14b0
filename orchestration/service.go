// Package orchestration is the order orchestration core: channels, locations,
// SKUs and stock; reservations; sourcing; order capture, edits and cancels;
// and the exceptions raised when a step needs a decision.
//
// It never imports triage or review. Where it needs a decision from triage it
// declares the small interface it needs, and cmd wires triage into it.
package orchestration

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/omnitriage/omnitriage/internal/derrors"
	"github.com/omnitriage/omnitriage/internal/jobs"
	"github.com/omnitriage/omnitriage/orchestration/adapter"
	"github.com/omnitriage/omnitriage/rules"
)

// Service is the orchestration core over one database.
type Service struct {
	pool   *pgxpool.Pool
	log    *slog.Logger
	now    func() time.Time
	policy func() *rules.Policy
	hook   ExceptionHook
	sys    adapter.Systems

	trackInterval time.Duration
	cancelWindow  time.Duration
	pickPack      time.Duration
	scale         float64
	maxJobTimeout time.Duration
	holdExpiry    jobs.Schedule

	mu        sync.RWMutex
	locations map[int64]Location // active and inactive, by id
	byCode    map[string]int64
	channels  map[string]Channel // by code
	loadedAt  time.Time
}

// Config is what a Service needs besides its pool.
type Config struct {
	Log *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Policy returns the policy in force; it may change between calls.
	Policy func() *rules.Policy
	// OnException, when set, is called in the transaction of every exception raised.
	OnException ExceptionHook
	// Systems are the outside systems the lifecycle calls; the lifecycle
	// workers need them, capture does not.
	Systems adapter.Systems
	// TrackEvery is how often shipments in transit and pending ERP postings
	// are polled, and the exception sweep runs; 0 means 30 minutes.
	TrackEvery time.Duration
	// CancelWindow is how long an authorised order waits before release, so
	// the customer can still cancel; 0 releases at once.
	CancelWindow time.Duration
	// PickPack is how long a location takes to pick and pack a release
	// before the carrier is booked; 0 books at once.
	PickPack time.Duration
	// TimeScale divides TrackEvery, CancelWindow and PickPack, for demos
	// (the simulator's own times are scaled by its speed); 0 or 1 is real time.
	TimeScale float64
	// MaxJobTimeout caps each job kind's timeout (JobTimeouts); 0 keeps
	// them. River rescues a job only after its timeout, so tests that kill
	// workers set it short.
	MaxJobTimeout time.Duration
	// HoldExpiry is when the leader's job ends the holds whose time is up;
	// unset means every 15 seconds.
	HoldExpiry jobs.Schedule
}

// NewService returns the orchestration core over pool.
func NewService(pool *pgxpool.Pool, cfg Config) (*Service, error) {
	if cfg.Policy == nil {
		return nil, errors.New("orchestration.NewService: no policy")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.TimeScale < 1 {
		cfg.TimeScale = 1
	}
	return &Service{pool: pool, log: cfg.Log, now: cfg.Now, policy: cfg.Policy, hook: cfg.OnException, sys: cfg.Systems,
		trackInterval: cfg.TrackEvery, cancelWindow: cfg.CancelWindow, pickPack: cfg.PickPack, scale: cfg.TimeScale,
		maxJobTimeout: cfg.MaxJobTimeout, holdExpiry: cfg.HoldExpiry.Or(defaultHoldExpiry)}, nil
}

// network returns the cached locations and channels, reloading them when
// older than a few seconds (admin changes made by other processes show up
// within that time; this process's own changes invalidate at once).
func (s *Service) network(ctx context.Context) (map[int64]Location, map[string]Channel, error) {
	s.mu.RLock()
	fresh := s.locations != nil && s.now().Sub(s.loadedAt) < 5*time.Second
	locs, chans := s.locations, s.channels
	s.mu.RUnlock()
	if fresh {
		return locs, chans, nil
	}
	locList, err := s.ListLocations(ctx)
	if err != nil {
		return nil, nil, err
	}
	chanList, err := s.ListChannels(ctx)
	if err != nil {
		return nil, nil, err
	}
	locs = make(map[int64]Location, len(locList))
	byCode := make(map[string]int64, len(locList))
	for _, l := range locList {
		l.tz = l.zone()
		locs[l.ID] = l
		byCode[l.Code] = l.ID
	}
	chans = make(map[string]Channel, len(chanList))
	for _, c := range chanList {
		chans[c.Code] = c
	}
	s.mu.Lock()
	s.locations, s.byCode, s.channels, s.loadedAt = locs, byCode, chans, s.now()
	s.mu.Unlock()
	return locs, chans, nil
}

// invalidate drops the cached network after an admin change.
func (s *Service) invalidate() {
	s.mu.Lock()
	s.locations = nil
	s.mu.Unlock()
}

// locationByCode finds a location in the cache.
func (s *Service) locationByCode(ctx context.Context, code string) (Location, error) {
	locs, _, err := s.network(ctx)
	if err != nil {
		return Location{}, err
	}
	s.mu.RLock()
	id, ok := s.byCode[code]
	s.mu.RUnlock()
	if !ok {
		return Location{}, fmt.Errorf("location %q: %w", code, derrors.NotFound)
	}
	return locs[id], nil
}

// inTx runs fn in a transaction, retrying on serialization failures and
// deadlocks, which concurrent reservations may cause.
func (s *Service) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		err = pgx.BeginFunc(ctx, s.pool, fn)
		if !retryable(err) {
			return err
		}
	}
	return err
}

// retryable reports whether err is a transient conflict worth retrying.
func retryable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "40001" || pe.Code == "40P01"
	}
	return false
}

// isCheckFailure reports whether err came from ot_check: a conditional
// statement found the state changed (too little stock, say).
func isCheckFailure(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "P0001" && pe.Hint == "omnitriage:check"
}

// uniqueViolation reports whether err is a unique violation of constraint
// (any constraint when empty).
func uniqueViolation(err error, constraint string) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505" && (constraint == "" || pe.ConstraintName == constraint)
}
