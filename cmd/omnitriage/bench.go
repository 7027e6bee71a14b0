package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/omnitriage/omnitriage/internal/auth"
	"github.com/omnitriage/omnitriage/internal/config"
	"github.com/omnitriage/omnitriage/internal/database"
	"github.com/omnitriage/omnitriage/orchestration"
)

func runBench(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "bench", "bench [--duration 10s] [--clients 8,32]",
		"Measure order capture over HTTP against the seeded demo retailer, next to the same capture\n"+
			"transaction issued as raw SQL (the database's own ceiling), and hot-SKU reservations.\n"+
			"It creates (and replaces) the database omnitriage_bench on DATABASE_URL's server.")
	duration := fs.Duration("duration", 10*time.Second, "how long each measurement runs")
	clientsFlag := fs.String("clients", "8,32", "concurrent clients, comma-separated")
	seed := fs.Int64("seed", 1, "demo seed")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	stopProfile, err := startCPUProfile(*cpuprofile)
	if err != nil {
		return err
	}
	defer stopProfile()
	var clients []int
	for _, c := range strings.Split(*clientsFlag, ",") {
		var n int
		if _, err := fmt.Sscanf(strings.TrimSpace(c), "%d", &n); err != nil || n <= 0 {
			return usagef("bench: --clients %q: want numbers such as 8,32", *clientsFlag)
		}
		clients = append(clients, n)
	}
	cfg, err := config.Load(env.getenv)
	if err != nil {
		return err
	}
	if err := cfg.RequireDatabase(); err != nil {
		return err
	}
	// Capture is measured alone: no job workers or triage sweeps share the
	// two cores (the raw-SQL side runs none either).
	cfg.Workers = 0
	a, closeApp, err := benchApp(ctx, env, cfg, "omnitriage_bench", *seed)
	if err != nil {
		return err
	}
	defer closeApp()
	pool := a.pool
	skus, err := a.orch.DemoSKUs(ctx, 500)
	if err != nil {
		return err
	}
	// Plenty of stock for the measured SKUs, so every order reserves.
	if err := restock(ctx, a.orch, skus); err != nil {
		return err
	}
	if _, err := pool.Exec(ctx, `VACUUM (ANALYZE) stock, stock_ledger`); err != nil {
		return err
	}
	base, key, stop, err := serveBench(ctx, a)
	if err != nil {
		return err
	}
	defer stop()

	type row struct {
		what    string
		clients int
		r       result
	}
	var rows []row
	for _, c := range clients {
		fmt.Fprintf(env.stderr, "HTTP capture, %d clients, %s…\n", c, *duration)
		r := measured(ctx, pool, func() result { return load(ctx, c, *duration, httpCapture(base, key, skus, c)) })
		rows = append(rows, row{"HTTP POST /v1/orders (3 lines)", c, r})
		fmt.Fprintf(env.stderr, "raw SQL capture, %d clients, %s…\n", c, *duration)
		r = measured(ctx, pool, func() result { return load(ctx, c, *duration, rawCapture(pool, skus)) })
		rows = append(rows, row{"raw SQL capture tx (3 lines)", c, r})
	}
	hot := skus[0]
	fmt.Fprintf(env.stderr, "hot SKU %s, 8 clients, %s…\n", hot, *duration)
	rows = append(rows, row{"HTTP hot-SKU reservation (1 line, one SKU)", 8,
		measured(ctx, pool, func() result { return load(ctx, 8, *duration, httpCapture(base, key, []string{hot}, 8)) })})
	rows = append(rows, row{"raw SQL hot-SKU reservation", 8,
		measured(ctx, pool, func() result { return load(ctx, 8, *duration, rawCapture(pool, []string{hot})) })})

	tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "workload\tclients\tops/s\tp50 ms\tp99 ms\terrors\tCPU ms/op (bench process + PostgreSQL)\t")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%.2f\t%.2f\t%d\t%s\t\n", r.what, r.clients, r.r.rate(), r.r.pct(50), r.r.pct(99), r.r.errors,
			r.r.cpu.perOp(r.r.ops+r.r.errors))
	}
	tw.Flush()
	for i := 0; i+1 < len(rows)-2; i += 2 {
		fmt.Fprintf(env.stdout, "HTTP / raw SQL at %d clients: %.2f\n", rows[i].clients, rows[i].r.rate()/rows[i+1].r.rate())
	}
	fmt.Fprintf(env.stdout, "(DB_MAX_CONNS=%d, %s per row, GOMAXPROCS as the machine)\n", cfg.DBMaxConns, *duration)
	return nil
}

// serveBench serves a on a loopback port for a bench and makes an
// orchestrator key; stop ends the serving.
func serveBench(ctx context.Context, a *app) (base, key string, stop func(), err error) {
	if _, key, err = a.keys.Create(ctx, "bench", auth.Orchestrator); err != nil {
		return "", "", nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", "", nil, err
	}
	sctx, cancel := context.WithCancel(ctx)
	go a.Serve(sctx, ln)
	return "http://" + ln.Addr().String(), key, cancel, nil
}

// startCPUProfile writes a CPU profile to path until stop is called (more
// than once is fine); with no path it does nothing.
func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	var once sync.Once
	return func() { once.Do(func() { pprof.StopCPUProfile(); f.Close() }) }, nil
}

// benchApp builds the real app on a fresh database named dbName, migrated and
// seeded with the demo retailer; close releases it.
func benchApp(ctx context.Context, env *environment, cfg config.Config, dbName string, seed int64) (_ *app, close func(), err error) {
	benchURL, err := freshDatabase(ctx, cfg.DatabaseURL, dbName)
	if err != nil {
		return nil, nil, err
	}
	cfg.DatabaseURL = benchURL
	quiet := slog.New(slog.NewJSONHandler(io.Discard, nil))
	pool, err := database.Open(ctx, benchURL, cfg.DBMaxConns)
	if err != nil {
		return nil, nil, err
	}
	if err := database.MigrateUp(ctx, pool, quiet); err != nil {
		pool.Close()
		return nil, nil, err
	}
	pool.Reset()
	a, err := newApp(cfg, quiet, pool, prometheus.NewRegistry())
	if err != nil {
		pool.Close()
		return nil, nil, err
	}
	fmt.Fprintf(env.stderr, "seeding the demo retailer…\n")
	if _, err := a.orch.SeedDemo(ctx, orchestration.SeedOptions{Seed: seed}, nil); err != nil {
		a.Close()
		pool.Close()
		return nil, nil, err
	}
	// A retailer's catalogue is long settled: vacuum the freshly seeded
	// tables now rather than let autovacuum do it during a measured run.
	// Only those: analysing the still empty order tables would leave plans
	// made for empty tables (PG CPU per order tripled in such a run).
	if _, err := pool.Exec(ctx, `VACUUM (ANALYZE) channels, locations, skus, stock, stock_ledger`); err != nil {
		a.Close()
		pool.Close()
		return nil, nil, err
	}
	return a, func() { a.Close(); pool.Close() }, nil
}

// freshDatabase drops and creates name on the server of url and returns its URL.
func freshDatabase(ctx context.Context, serverURL, name string) (string, error) {
	u, err := url.Parse(serverURL)
	if err != nil {
		return "", fmt.Errorf("DATABASE_URL: %w", err)
	}
	conn, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		return "", fmt.Errorf("connecting to DATABASE_URL: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
		return "", err
	}
	if _, err := conn.Exec(ctx, `CREATE DATABASE `+name); err != nil {
		return "", fmt.Errorf("creating %s (the role needs CREATEDB): %w", name, err)
	}
	u.Path = "/" + name
	return u.String(), nil
}

func restock(ctx context.Context, svc *orchestration.Service, skus []string) error {
	locs, err := svc.ListLocations(ctx)
	if err != nil {
		return err
	}
	// Capacity is not what is measured here: lift the daily limits so a long
	// run never fills a location.
	for _, l := range locs {
		l.DailyCapacity = 0
		if _, err := svc.CreateLocation(ctx, l); err != nil {
			return err
		}
	}
	var adj []orchestration.Adjustment
	big := 1_000_000
	for _, k := range skus {
		for _, l := range locs {
			if l.Kind == "warehouse" {
				adj = append(adj, orchestration.Adjustment{SKU: k, Location: l.Code, Count: &big, Version: ptr64(time.Now().UnixNano())})
			}
		}
	}
	for len(adj) > 0 {
		n := min(len(adj), orchestration.MaxAdjustments)
		if _, err := svc.AdjustInventory(ctx, "bench", orchestration.AdjustmentBatch{Source: "bench", Adjustments: adj[:n]}); err != nil {
			return err
		}
		adj = adj[n:]
	}
	return nil
}

func ptr64(v int64) *int64 { return &v }

// result is one measurement.
type result struct {
	ops, errors int64
	elapsed     time.Duration
	lat         []time.Duration
	cpu         cpuUse // set by measured
}

func (r result) rate() float64 { return float64(r.ops) / r.elapsed.Seconds() }

func (r result) pct(p float64) float64 {
	if len(r.lat) == 0 {
		return 0
	}
	i := int(float64(len(r.lat)-1) * p / 100)
	return float64(r.lat[i].Microseconds()) / 1000
}

// load runs op from n clients for d and collects latencies.
func load(ctx context.Context, n int, d time.Duration, op func(ctx context.Context, client int, rng *rand.Rand, seq int64) error) result {
	var ops, errs atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	var seq atomic.Int64
	deadline := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for c := 0; c < n; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(c), 99))
			var mine []time.Duration
			for time.Now().Before(deadline) && ctx.Err() == nil {
				t0 := time.Now()
				if err := op(ctx, c, rng, seq.Add(1)); err != nil {
					if errs.Add(1) <= 3 {
						slog.Warn("bench operation failed", "err", err)
					}
					continue
				}
				mine = append(mine, time.Since(t0))
				ops.Add(1)
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}(c)
	}
	wg.Wait()
	slices.Sort(lat)
	return result{ops: ops.Load(), errors: errs.Load(), elapsed: time.Since(start), lat: lat}
}

// benchOrder is a 3-line (or 1-line) web order near one of the demo's cities.
func benchOrder(rng *rand.Rand, skus []string, seq int64) map[string]any {
	lat, lon, city, postal := orchestration.DemoShipTo(rng)
	n := min(3, len(skus))
	picked := map[string]bool{}
	var lines []map[string]any
	for len(lines) < n {
		k := skus[rng.IntN(len(skus))]
		if picked[k] {
			continue
		}
		picked[k] = true
		lines = append(lines, map[string]any{"sku": k, "qty": 1})
	}
	return map[string]any{
		"channel": "web", "external_id": fmt.Sprintf("bench-%d-%d", time.Now().UnixNano(), seq),
		"customer":      map[string]any{"id": fmt.Sprintf("cust-%d", rng.IntN(100000)), "tier": "standard"},
		"ship_to":       map[string]any{"line1": "1 Bench St", "city": city, "postal_code": postal, "country": "US", "lat": lat, "lon": lon},
		"service_level": "standard", "lines": lines,
	}
}

func httpCapture(base, key string, skus []string, clients int) func(context.Context, int, *rand.Rand, int64) error {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}, Timeout: 30 * time.Second}
	return func(ctx context.Context, _ int, rng *rand.Rand, seq int64) error {
		return postJSON(ctx, client, base, "/v1/orders", key, benchOrder(rng, skus, seq), http.StatusCreated)
	}
}

// postJSON posts v as JSON with the API key and a fresh Idempotency-Key, and
// fails unless the answer has status want.
func postJSON(ctx context.Context, client *http.Client, base, path, key string, v any, want int) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", uuid.NewString())
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		return fmt.Errorf("POST %s = %d %s", path, resp.StatusCode, b)
	}
	return nil
}

// rawCapture issues the capture transaction's statements directly, as the
// service does for an order sourced to one location: the idempotency record
// with the response, the order, its lines, the stored sourcing plan, the event,
// the conditional stock updates with reservations and ledger, and the daily
// load, pipelined in one batch (one implicit transaction). The plan and
// response bodies are ones the HTTP phase stored, so the payloads match.
func rawCapture(pool *pgxpool.Pool, skus []string) func(context.Context, int, *rand.Rand, int64) error {
	var once sync.Once
	var skuIDs []int64
	var locID, chanID int64
	var plan, response []byte
	return func(ctx context.Context, _ int, rng *rand.Rand, seq int64) error {
		var err error
		once.Do(func() {
			err = pool.QueryRow(ctx, `SELECT (SELECT id FROM channels WHERE code = 'web'),
				(SELECT min(id) FROM locations WHERE kind = 'warehouse'),
				coalesce((SELECT plan::text FROM sourcing_plans ORDER BY id DESC LIMIT 1), '{}'),
				coalesce((SELECT response FROM idempotency_keys WHERE status = 201 LIMIT 1), '{}')`).Scan(&chanID, &locID, &plan, &response)
			if err == nil {
				var rows pgx.Rows
				rows, err = pool.Query(ctx, `SELECT id FROM skus WHERE code = ANY($1) ORDER BY code`, skus)
				if err == nil {
					skuIDs, err = pgx.CollectRows(rows, pgx.RowTo[int64])
				}
			}
		})
		if err != nil {
			return err
		}
		n := min(3, len(skuIDs))
		orderID := uuid.New()
		lineIDs, resIDs := make([]uuid.UUID, n), make([]uuid.UUID, n)
		ids, locs, qtys, nos := make([]int64, n), make([]int64, n), make([]int32, n), make([]int32, n)
		start := rng.IntN(len(skuIDs))
		for i := 0; i < n; i++ {
			lineIDs[i], resIDs[i] = uuid.New(), uuid.New()
			ids[i], locs[i], qtys[i], nos[i] = skuIDs[(start+i)%len(skuIDs)], locID, 1, int32(i+1)
		}
		ext := fmt.Sprintf("raw-%d-%d", time.Now().UnixNano(), seq)
		now := time.Now()
		b := &pgx.Batch{}
		b.Queue(`INSERT INTO idempotency_keys (scope, key, request_hash, status, response) VALUES ('raw', $1, $2, 201, $3)`,
			ext, []byte(ext), response)
		b.Queue(`INSERT INTO orders (id, channel_id, external_id, status, customer, ship_to, service_level, currency, total,
				promise_date, rule_group, created_at, updated_at)
			VALUES ($1, $2, $3, 'captured', '{"id":"c1","tier":"standard"}', '{"line1":"1 Bench St","city":"X","country":"US","lat":40.7,"lon":-74}',
				'standard', 'USD', 30, $4, 'network', $4, $4)`, orderID, chanID, ext, now)
		b.Queue(`INSERT INTO order_lines (id, order_id, line_no, sku_id, ordered_sku_id, qty, unit_price, status)
			SELECT id, $1, no, sku, sku, 1, 10, 'allocated' FROM unnest($2::uuid[], $3::int[], $4::bigint[]) AS l(id, no, sku)`,
			orderID, lineIDs, nos, ids)
		b.Queue(`INSERT INTO sourcing_plans (order_id, policy_version, rule_group, complete, plan) VALUES ($1, 'raw', 'network', true, $2)`,
			orderID, string(plan))
		b.Queue(`INSERT INTO order_events (order_id, kind, to_status, actor, data) VALUES ($1, 'captured', 'captured', 'bench', '{"lines":3}')`, orderID)
		b.Queue(orchestration.EnqueueSQL, []byte(`{"order_id":"`+orderID.String()+`"}`), "bench_noop", 1, nil)
		b.Queue(orchestration.ReserveSQL, resIDs, ids, locs, qtys, lineIDs, 0, "order", orderID, "", nil, "bench", "raw")
		b.Queue(orchestration.LoadSQL, []int64{locID}, []time.Time{now.UTC().Truncate(24 * time.Hour)}, []int32{0})
		return pool.SendBatch(ctx, b).Close()
	}
}
