package triage

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/omnitriage/omnitriage/internal/database/dbtest"
	"github.com/omnitriage/omnitriage/internal/derrors"
	"github.com/omnitriage/omnitriage/models"
	"github.com/omnitriage/omnitriage/orchestration"
	"github.com/omnitriage/omnitriage/rules"
)

// recordingApplier is the stand-in for orchestration's commands: it records
// each command once per id, as the real commands must, and fails when told.
type recordingApplier struct {
	mu    sync.Mutex
	calls int
	byID  map[string]Command
	fail  error
}

func (a *recordingApplier) Apply(_ context.Context, cmd Command) (Result, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls++
	if a.fail != nil {
		return Result{}, a.fail
	}
	if a.byID == nil {
		a.byID = map[string]Command{}
	}
	a.byID[cmd.ID] = cmd
	return Result{Message: cmd.Action + " applied", Data: map[string]any{"command": cmd.ID}}, nil
}

// validatingApplier is a recordingApplier that refuses, before any
// application, every command without an order, as the core's does.
type validatingApplier struct{ recordingApplier }

func (a *validatingApplier) Validate(cmd Command) error {
	if cmd.OrderID == nil {
		return fmt.Errorf("%s needs an order: %w", cmd.Action, errApplyRefused)
	}
	return nil
}

// applied returns the distinct commands applied.
func (a *recordingApplier) applied() []Command {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []Command
	for _, c := range a.byID {
		out = append(out, c)
	}
	return out
}

// fixture is a triage service on a fresh database with the seeded library.
type fixture struct {
	svc  *Service
	core *orchestration.Service
	pool *pgxpool.Pool
	pol  *rules.Policy
	now  time.Time
}

type fixtureOptions struct {
	applier  Applier
	embedder models.Embedder
	pool     *pgxpool.Pool
	noSeed   bool
}

func newFixture(t testing.TB, o fixtureOptions) *fixture {
	t.Helper()
	pool := o.pool
	if pool == nil {
		pool = dbtest.NewPool(t)
	}
	pol, err := rules.Default()
	if err != nil {
		t.Fatal(err)
	}
	policy := func() *rules.Policy { return pol }
	var f *fixture
	// Every exception the core raises gets its case in the same transaction.
	hook := func(ctx context.Context, tx pgx.Tx, e orchestration.Exception) error {
		return f.svc.Enqueue(ctx, tx, e)
	}
	core, err := orchestration.NewService(pool, orchestration.Config{Policy: policy, OnException: hook})
	if err != nil {
		t.Fatal(err)
	}
	emb := o.embedder
	if emb == nil {
		emb = models.NewLocalEmbedder(0)
	}
	// The database stamps rows with its own clock, so the fixture's starts at
	// the real time; tests move it forward.
	f = &fixture{core: core, pool: pool, pol: pol, now: time.Now().UTC().Truncate(time.Second)}
	svc, err := NewService(pool, Config{Core: core, Embedder: emb, Policy: policy, Applier: o.applier,
		Now: func() time.Time { return f.now }, BaseURL: "https://triage.test"})
	if err != nil {
		t.Fatal(err)
	}
	f.svc = svc
	if !o.noSeed {
		if err := svc.Prepare(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func ptr[T any](v T) *T { return &v }

// network creates a web channel, two warehouses and a store near New York,
// and stock: each SKU with its on-hand count per location, in the order
// nj-wh, pa-wh, nyc-store.
func (f *fixture) network(t testing.TB, stock map[string][3]int, substitutes map[string][]string) {
	t.Helper()
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err := f.core.CreateChannel(ctx, orchestration.Channel{Code: "web", Name: "Web shop", Kind: orchestration.ChannelWeb, Active: true})
	must(err)
	locs := []orchestration.Location{
		{Code: "nj-wh", Name: "Newark DC", Kind: "warehouse", Region: "northeast", Lat: 40.73, Lon: -74.17, Timezone: "America/New_York", CanShip: true, HandlingHours: 4, Priority: 1, Active: true},
		{Code: "pa-wh", Name: "Philadelphia DC", Kind: "warehouse", Region: "northeast", Lat: 39.95, Lon: -75.16, Timezone: "America/New_York", CanShip: true, HandlingHours: 4, Priority: 2, Active: true},
		{Code: "nyc-store", Name: "Manhattan store", Kind: "store", Region: "northeast", Lat: 40.75, Lon: -73.99, Timezone: "America/New_York", CanShip: true, CanPickup: true, HandlingHours: 2, Priority: 3, Active: true},
	}
	for _, l := range locs {
		_, err := f.core.CreateLocation(ctx, l)
		must(err)
	}
	var adj []orchestration.Adjustment
	for sku, per := range stock {
		_, err := f.core.CreateSKU(ctx, orchestration.SKU{Code: sku, Name: "Item " + sku, Price: 40, Cost: 15, WeightKg: 1,
			Substitutes: substitutes[sku], Active: true})
		must(err)
		for i, n := range per {
			adj = append(adj, orchestration.Adjustment{SKU: sku, Location: locs[i].Code, Count: ptr(n), Version: ptr(int64(1))})
		}
	}
	res, err := f.core.AdjustInventory(ctx, "test", orchestration.AdjustmentBatch{Source: "test-wms", Adjustments: adj})
	must(err)
	if res.Refused != 0 {
		t.Fatalf("AdjustInventory refused rows: %+v", res.Rows)
	}
}

// order captures a web order of qty units of sku for a customer of tier.
func (f *fixture) order(t testing.TB, ext, sku string, qty int, tier string) orchestration.Order {
	t.Helper()
	res, err := f.core.Capture(context.Background(), "test", nil, orchestration.CaptureRequest{
		Channel: "web", ExternalID: ext, Customer: orchestration.Customer{ID: "c-" + ext, Email: "a@example.com", Tier: tier},
		ShipTo: &orchestration.Address{Line1: "1 Main St", City: "Brooklyn", PostalCode: "11201", Country: "US",
			Lat: ptr(40.69), Lon: ptr(-73.99)},
		ServiceLevel: "standard", Lines: []orchestration.LineInput{{SKU: sku, Qty: qty}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return res.Order
}

// report stores and triages an exception as POST /v1/exceptions does.
func (f *fixture) report(t testing.TB, e orchestration.Exception) Case {
	t.Helper()
	if e.Severity == "" {
		e.Severity = orchestration.SeverityMedium
	}
	res, err := f.svc.Report(context.Background(), "test", e, nil)
	if err != nil {
		t.Fatalf("Report(%s %q): %v", e.Kind, e.Message, err)
	}
	return res.Case
}

// count runs a count query.
func (f *fixture) count(t testing.TB, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := f.pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// renamedEmbedder is the local embedder under another model name, to have
// two models' vectors side by side.
type renamedEmbedder struct {
	models.Embedder
	name string
}

func (e renamedEmbedder) Model() string { return e.name }

// zeroEmbedder returns a vector for the wrong model dimension; for failure tests.
type failingEmbedder struct{ models.Embedder }

func (failingEmbedder) Embed(context.Context, []string) ([][]float32, error) {
	return nil, fmt.Errorf("embedding server down: %w", models.ErrUnavailable)
}

var errApplyRefused = errors.New("order changed under the command")

func newID() uuid.UUID { return uuid.New() }

// fieldsOf lists the fields a validation error names, nil for nil.
func fieldsOf(err error) []string {
	var ve *derrors.ValidationError
	if !errors.As(err, &ve) {
		if err != nil {
			return []string{"(not a validation error: " + err.Error() + ")"}
		}
		return nil
	}
	var out []string
	for _, f := range ve.Fields {
		out = append(out, f.Field)
	}
	return out
}
