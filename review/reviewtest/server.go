package reviewtest

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/omnitriage/omnitriage/internal/database/dbtest"
	"github.com/omnitriage/omnitriage/models"
	"github.com/omnitriage/omnitriage/orchestration"
	"github.com/omnitriage/omnitriage/review"
	"github.com/omnitriage/omnitriage/rules"
	"github.com/omnitriage/omnitriage/triage"
)

// Options change the server NewServer starts.
type Options struct {
	// Clock is the review server's clock; nil means time.Now.
	Clock func() time.Time
	// CoreClock is the orchestration core's and triage's clock; nil means
	// time.Now.
	CoreClock func() time.Time
	// Pool is the database to serve; nil means a fresh one.
	Pool *pgxpool.Pool
	// Limits are the sign-in limits; zero means the defaults.
	Limits review.LoginLimits
	// Applier carries out triage's fixes; nil applies nothing.
	Applier triage.Applier
	// Secure marks the session cookie Secure (as over TLS).
	Secure bool
	// Log receives the server's logs; nil discards them.
	Log *slog.Logger
	// ClusterConfig configures the /clusters pages' clusterer (a summary
	// Writer, say); the zero value is the default.
	ClusterConfig triage.ClusterConfig
}

// Server is a review server on a loopback port over its own database, with
// the orchestration core and triage behind it, as `omnitriage serve` wires
// them (without job workers).
type Server struct {
	URL    string
	Pool   *pgxpool.Pool
	Review *review.Server
	Orch   *orchestration.Service
	Triage *triage.Service
	Policy *rules.Policy
	// Clusters serves the /clusters pages; the exceptions triage commits
	// join their clusters.
	Clusters *triage.Clusterer
}

// NewServer starts a review server for t over a fresh database; it stops
// when t ends.
func NewServer(t testing.TB, o Options) *Server {
	t.Helper()
	pool := o.Pool
	if pool == nil {
		pool = dbtest.NewPool(t)
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	pol, err := rules.Default()
	if err != nil {
		t.Fatal(err)
	}
	policy := func() *rules.Policy { return pol }
	// The listener comes first, so case links carry the server's address.
	ts := httptest.NewUnstartedServer(nil)
	url := "http://" + ts.Listener.Addr().String()
	var tri *triage.Service
	orch, err := orchestration.NewService(pool, orchestration.Config{Log: log, Policy: policy, Now: o.CoreClock,
		OnException: func(ctx context.Context, tx pgx.Tx, e orchestration.Exception) error { return tri.Enqueue(ctx, tx, e) }})
	if err != nil {
		t.Fatal(err)
	}
	tri, err = triage.NewService(pool, triage.Config{Core: orch, Embedder: models.NewLocalEmbedder(384), Policy: policy,
		Applier: o.Applier, Log: log, BaseURL: url, Now: o.CoreClock})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	clusters := triage.NewClusterer(tri, o.ClusterConfig)
	rev, err := review.New(ctx, review.Config{Pool: pool, Triage: tri, Orch: orch, Policy: policy, Log: log,
		BaseURL: url, Clock: o.Clock, Secure: o.Secure, Limits: o.Limits, Clusters: clusters})
	if err != nil {
		t.Fatal(err)
	}
	r := chi.NewRouter()
	r.Use(middleware.RequestID, middleware.RealIP)
	rev.Routes(r)
	ts.Config.Handler = r
	ts.Start()
	t.Cleanup(ts.Close)
	return &Server{URL: url, Pool: pool, Review: rev, Orch: orch, Triage: tri, Policy: pol, Clusters: clusters}
}

// CreateUser makes a person with a random password, and returns the
// password.
func CreateUser(t testing.TB, people *review.People, email string, role review.Role) string {
	t.Helper()
	pw := NewPassword()
	if _, err := people.Create(context.Background(), email, role, pw); err != nil {
		t.Fatalf("creating user %s: %v", email, err)
	}
	return pw
}

// NewPassword returns a random password of 26 characters.
func NewPassword() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}
