package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/riverqueue/river"

	"github.com/omnitriage/omnitriage/internal/auth"
	"github.com/omnitriage/omnitriage/internal/config"
	"github.com/omnitriage/omnitriage/internal/database"
	"github.com/omnitriage/omnitriage/internal/derrors"
	"github.com/omnitriage/omnitriage/internal/web"
	"github.com/omnitriage/omnitriage/models"
	"github.com/omnitriage/omnitriage/orchestration"
	"github.com/omnitriage/omnitriage/review"
	"github.com/omnitriage/omnitriage/rules"
	"github.com/omnitriage/omnitriage/triage"
)

func runServe(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "serve", "serve", "Serve the API, review pages and job workers until SIGINT or SIGTERM.\nMigrations are applied at start. Configuration comes from environment variables (see the README).")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := config.Load(env.getenv)
	if err != nil {
		return err
	}
	if err := cfg.RequireDatabase(); err != nil {
		return err
	}
	log := cfg.Logger(os.Stderr)
	pool, err := database.Open(ctx, cfg.DatabaseURL, cfg.DBMaxConns)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := database.MigrateUp(ctx, pool, log); err != nil {
		return err
	}
	// Connections opened before the vector type existed lack its codec.
	pool.Reset()

	a, err := newApp(cfg, log, pool, prometheus.NewRegistry())
	if err != nil {
		return err
	}
	defer a.Close()
	if err := a.startBackground(ctx); err != nil {
		return err
	}
	if err := a.startJobs(ctx); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("listening on LISTEN_ADDR=%s (is another server using the port? set LISTEN_ADDR): %w", cfg.ListenAddr, err)
	}
	log.Info("serving", "addr", ln.Addr().String(), "url", cfg.BaseURL)
	if cfg.TimeScale > 1 {
		fmt.Fprintf(env.stdout, "demo time scale %g: a day passes in %s (CANCEL_WINDOW %s, PICK_PACK_TIME %s, TRACK_EVERY %s of real time)\n",
			cfg.TimeScale, scaledDur(24*time.Hour, cfg.TimeScale), scaledDur(cfg.CancelWindow, cfg.TimeScale),
			scaledDur(cfg.PickPack, cfg.TimeScale), scaledDur(cfg.TrackEvery, cfg.TimeScale))
	}
	fmt.Fprintf(env.stdout, "omnitriage %s serving on %s\n", version, cfg.BaseURL)
	return a.Serve(ctx, ln)
}

// app is the running service: configuration, pool, stores and the router.
type app struct {
	cfg    config.Config
	log    *slog.Logger
	pool   *pgxpool.Pool
	reg    *prometheus.Registry
	keys   *auth.Store
	policy *rules.Policy
	orch   *orchestration.Service
	jobs   *river.Client[pgx.Tx]
	review *review.Server
	calls  *orchestration.CallCounter
	// clusters groups exceptions into root causes (the /clusters pages and API).
	clusters *triage.Clusterer
	errs     web.Errors
	router   chi.Router
	closers  []func()
}

// newApp wires the service's packages onto one router.
func newApp(cfg config.Config, log *slog.Logger, pool *pgxpool.Pool, reg *prometheus.Registry) (*app, error) {
	a := &app{cfg: cfg, log: log, pool: pool, reg: reg, errs: web.Errors{Log: log}}
	// A short cache as a backstop; revocations reach it at once through
	// the listener startBackground starts.
	a.keys = auth.NewStore(pool, 5*time.Second, nil)
	pol, err := loadPolicy(cfg)
	if err != nil {
		return nil, err
	}
	a.policy = pol
	systems, err := buildSystems(cfg, pool, time.Now)
	if err != nil {
		return nil, err
	}
	systems = a.countCalls(systems) // for the API failure rate
	// Every exception the core raises gets its triage case in the same
	// transaction; tri is set below, before anything can raise one.
	var tri *triage.Service
	a.orch, err = orchestration.NewService(pool, orchestration.Config{Log: log, Policy: func() *rules.Policy { return a.policy },
		Systems: systems, TrackEvery: cfg.TrackEvery,
		CancelWindow: cfg.CancelWindow, PickPack: cfg.PickPack, TimeScale: cfg.TimeScale, HoldExpiry: cfg.HoldExpiryEvery,
		OnException: func(ctx context.Context, tx pgx.Tx, e orchestration.Exception) error { return tri.Enqueue(ctx, tx, e) }})
	if err != nil {
		return nil, err
	}
	var emb models.Embedder = models.NewLocalEmbedder(cfg.EmbeddingDim)
	if cfg.EmbeddingURL != "" {
		if emb, err = models.NewOpenAIEmbedder(models.OpenAIConfig{BaseURL: cfg.EmbeddingURL, APIKey: cfg.EmbeddingKey,
			Model: cfg.EmbeddingModel, Dimensions: cfg.EmbeddingDim}); err != nil {
			return nil, fmt.Errorf("EMBEDDING_URL: %w", err)
		}
	}
	// The cause library is checked here, before anything is seeded.
	lib, err := triage.LoadLibrary(cfg.CauseLibraryFile)
	if err != nil {
		return nil, err
	}
	// Triage applies fixes through the core's commands, exactly once each.
	tri, err = triage.NewService(pool, triage.Config{Core: a.orch, Embedder: emb, Policy: func() *rules.Policy { return a.policy },
		Log: log, BaseURL: cfg.BaseURL, Applier: triage.CoreApplier{Orch: a.orch}, Library: lib})
	if err != nil {
		return nil, err
	}
	pctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	err = tri.Prepare(pctx) // seeds the cause library, embeds it, fits the calibration
	cancel()
	if errors.Is(err, models.ErrUnavailable) {
		log.Error("triage not ready: the embedding server does not answer; exceptions wait as open cases", "err", err)
	} else if err != nil {
		return nil, err
	}
	// Root-cause clusters: each exception triage commits joins its cluster;
	// the leader makes a full run on CLUSTER_SCHEDULE.
	// With LLM_URL, a model writes the clusters' optional summaries.
	ccfg, err := clusterSummaries(cfg, triage.ClusterConfig{Window: cfg.ClusterWindow, WebhookURL: cfg.SLAWebhookURL,
		Secret: []byte(cfg.AdapterSecret)})
	if err != nil {
		return nil, err
	}
	a.clusters = triage.NewClusterer(tri, ccfg)
	clusterJobs, err := triage.NewClusterJobs(a.clusters, cfg.ClusterSchedule)
	if err != nil {
		return nil, err
	}
	if err := a.initReview(context.Background(), tri); err != nil {
		return nil, err
	}
	// The SLA alerts: the policy's process targets, checked on River's leader.
	alerter := triage.NewAlerter(tri, triage.AlertConfig{Every: cfg.AlertEvery, WebhookURL: cfg.AlertWebhookURL,
		Secret: []byte(cfg.AlertWebhookSecret)})
	// tri's own hook: the case rollup of the process dashboard.
	if err := a.initJobs(append(a.backgroundJobs(tri), clusterJobs, alerter, tri)...); err != nil {
		return nil, err
	}
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		newPoolCollector(pool), a.clusters.Collector())
	// The process figures, read in SQL on scrape and cached for 10 s.
	reg.MustRegister(triage.NewProcessCollector(tri, triage.ProcessCollectorConfig{TTL: 10 * time.Second, Log: log}))
	metrics := web.NewMetrics(reg)

	r := chi.NewRouter()
	r.Use(middleware.RequestID, middleware.RealIP, web.Observe(log, metrics), web.Recover(log),
		middleware.Timeout(cfg.RequestTimeout))
	r.NotFound(a.errs.H(func(w http.ResponseWriter, r *http.Request) error {
		return fmt.Errorf("no such route %s %s: %w", r.Method, r.URL.Path, derrors.NotFound)
	}))
	r.MethodNotAllowed(a.errs.H(func(w http.ResponseWriter, r *http.Request) error {
		return fmt.Errorf("%s is not allowed on %s: %w", r.Method, r.URL.Path, derrors.MethodNotAllowed)
	}))
	r.Get("/openapi.json", a.handleOpenAPI)
	r.Get("/healthz", a.errs.H(a.handleHealthz))
	r.Get("/readyz", a.errs.H(a.handleReadyz))
	r.Method(http.MethodGet, "/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	a.review.Routes(r) // the people's pages: /login, /review, /static, …

	guard := auth.Middleware{Auth: a.keys, Render: a.errs.Render}
	r.Route("/v1", func(v1 chi.Router) {
		v1.Use(a.limitBody(cfg.MaxBodyBytes))
		v1.With(guard.Require(auth.Roles...)).Get("/whoami", a.errs.H(a.handleWhoami))
		v1.With(guard.Require(auth.Admin)).Get("/apikeys", a.errs.H(a.handleListKeys))
		oh := orchestration.NewHandlers(a.orch, a.errs, guard, cfg.MaxBodyBytes)
		oh.CarrierSecret = []byte(cfg.AdapterSecret)
		oh.Register(v1)
		triage.NewHandlers(tri, a.errs, guard, cfg.MaxBodyBytes).Register(v1)
		triage.NewClusterHandlers(a.clusters, a.errs, guard, cfg.MaxBodyBytes).Register(v1)
		v1.With(guard.Require(auth.Admin)).Get("/jobs", a.errs.H(a.handleListJobs))
		v1.With(guard.Require(auth.Admin)).Post("/jobs/{id}/retry", a.errs.H(a.handleRetryJob))
	})
	a.router = r
	return a, nil
}

// loadPolicy reads POLICY_FILE, or the built-in policy when it is unset.
func loadPolicy(cfg config.Config) (*rules.Policy, error) {
	if cfg.PolicyFile == "" {
		return rules.Default()
	}
	p, err := rules.LoadFile(cfg.PolicyFile)
	if err != nil {
		return nil, fmt.Errorf("POLICY_FILE: %w", err)
	}
	return p, nil
}

// startBackground starts what each process keeps up to date for itself:
// the listener for revoked keys. Work for the whole service is River's
// (initJobs).
func (a *app) startBackground(ctx context.Context) error {
	stopKeys, err := a.keys.StartListener(ctx, a.log)
	if err != nil {
		return err
	}
	a.closers = append(a.closers, stopKeys)
	return nil
}

// Close releases what the app started.
func (a *app) Close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
}

// Serve answers on ln until ctx ends, then lets in-flight requests finish
// within the shutdown grace period.
func (a *app) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           a.router,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	a.log.Info("shutting down", "grace", a.cfg.ShutdownGrace)
	sctx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: in-flight requests did not finish within SHUTDOWN_GRACE=%s: %w", a.cfg.ShutdownGrace, err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	a.log.Info("stopped")
	return nil
}

// limitBody refuses a body declared over max bytes, through the shared
// problem+json renderer, and cuts off one that grows past it.
func (a *app) limitBody(max int64) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.ContentLength > max {
				a.errs.Render(w, r, fmt.Errorf("request body over %d bytes: %w", max, derrors.TooLarge))
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, max)
			next.ServeHTTP(w, r)
		})
	}
}

func (a *app) handleHealthz(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, err := fmt.Fprintln(w, "ok")
	return err
}

// handleReadyz answers ready when the database answers and its schema is at
// the binary's migrations, and 503 (problem+json) saying why not otherwise.
func (a *app) handleReadyz(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := database.AtHead(ctx, a.pool); err != nil {
		return fmt.Errorf("%s: %w", derrors.Plain(err), derrors.Unavailable)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, err := fmt.Fprintln(w, "ready")
	return err
}

func (a *app) handleWhoami(w http.ResponseWriter, r *http.Request) error {
	p, _ := auth.FromContext(r.Context())
	return web.JSON(w, http.StatusOK, map[string]any{"key_id": p.KeyID, "name": p.Name, "role": p.Role})
}

func (a *app) handleListKeys(w http.ResponseWriter, r *http.Request) error {
	keys, err := a.keys.List(r.Context())
	if err != nil {
		return err
	}
	type keyJSON struct {
		ID         int64      `json:"id"`
		Name       string     `json:"name"`
		Role       auth.Role  `json:"role"`
		Prefix     string     `json:"prefix"`
		CreatedAt  time.Time  `json:"created_at"`
		LastUsedAt *time.Time `json:"last_used_at,omitempty"`
		RevokedAt  *time.Time `json:"revoked_at,omitempty"`
	}
	out := make([]keyJSON, 0, len(keys))
	for _, k := range keys {
		out = append(out, keyJSON(k))
	}
	return web.JSON(w, http.StatusOK, map[string]any{"keys": out})
}

// poolCollector exports the database pool's statistics.
type poolCollector struct {
	pool                                 *pgxpool.Pool
	total, idle, acquired, max, acquires *prometheus.Desc
	waitDur, emptyAcquires               *prometheus.Desc
}

func newPoolCollector(pool *pgxpool.Pool) *poolCollector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("omnitriage_db_pool_"+name, help, nil, nil)
	}
	return &poolCollector{
		pool:          pool,
		total:         d("conns", "Connections open in the pool."),
		idle:          d("idle_conns", "Idle connections."),
		acquired:      d("acquired_conns", "Connections in use."),
		max:           d("max_conns", "Pool size limit."),
		acquires:      d("acquires_total", "Connections acquired from the pool."),
		waitDur:       d("acquire_wait_seconds_total", "Time spent waiting for a connection."),
		emptyAcquires: d("empty_acquires_total", "Acquires that had to wait for a connection."),
	}
}

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.total, c.idle, c.acquired, c.max, c.acquires, c.waitDur, c.emptyAcquires} {
		ch <- d
	}
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.pool.Stat()
	ch <- prometheus.MustNewConstMetric(c.total, prometheus.GaugeValue, float64(s.TotalConns()))
	ch <- prometheus.MustNewConstMetric(c.idle, prometheus.GaugeValue, float64(s.IdleConns()))
	ch <- prometheus.MustNewConstMetric(c.acquired, prometheus.GaugeValue, float64(s.AcquiredConns()))
	ch <- prometheus.MustNewConstMetric(c.max, prometheus.GaugeValue, float64(s.MaxConns()))
	ch <- prometheus.MustNewConstMetric(c.acquires, prometheus.CounterValue, float64(s.AcquireCount()))
	ch <- prometheus.MustNewConstMetric(c.waitDur, prometheus.CounterValue, s.AcquireDuration().Seconds())
	ch <- prometheus.MustNewConstMetric(c.emptyAcquires, prometheus.CounterValue, float64(s.EmptyAcquireCount()))
}
