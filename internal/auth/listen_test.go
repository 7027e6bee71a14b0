package auth_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/omnitriage/omnitriage/internal/auth"
	"github.com/omnitriage/omnitriage/internal/database/dbtest"
	"github.com/omnitriage/omnitriage/internal/derrors"
)

// instance starts a store with its own pool and listener on the database of
// pool, as a second process would.
func instance(t *testing.T, pool *pgxpool.Pool) *auth.Store {
	t.Helper()
	p, err := pgxpool.NewWithConfig(context.Background(), pool.Config().Copy())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	s := auth.NewStore(p, time.Hour, nil) // the cache alone would serve a revoked key for an hour
	stop, err := s.StartListener(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return s
}

// countLookups counts the lookups that reach the database (each updates the
// key's last_used_at).
func countLookups(t *testing.T, pool *pgxpool.Pool) func() int {
	t.Helper()
	ctx := context.Background()
	for _, stmt := range []string{
		`CREATE TABLE key_updates (at timestamptz NOT NULL DEFAULT clock_timestamp())`,
		`CREATE FUNCTION count_key_update() RETURNS trigger LANGUAGE plpgsql AS
			$$ BEGIN INSERT INTO key_updates DEFAULT VALUES; RETURN NEW; END $$`,
		`CREATE TRIGGER key_updates AFTER UPDATE ON api_keys FOR EACH ROW EXECUTE FUNCTION count_key_update()`,
	} {
		if _, err := pool.Exec(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	return func() int {
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM key_updates`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
}

// TestRevokeStopsKeyOnEveryInstance warms the caches of two instances on one
// database, revokes the key through one, and checks that the very first
// request after Revoke returns is refused by the other, with no retry.
func TestRevokeStopsKeyOnEveryInstance(t *testing.T) {
	pool := dbtest.NewPool(t)
	ctx := context.Background()
	lookups := countLookups(t, pool)
	a, b := instance(t, pool), instance(t, pool)
	for i := range 5 {
		k, secret, err := a.Create(ctx, "orchestrator", auth.Orchestrator)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []*auth.Store{a, b, a, b} {
			if _, err := s.Authenticate(ctx, secret); err != nil {
				t.Fatal(err)
			}
		}
		before := lookups()
		if _, err := b.Authenticate(ctx, secret); err != nil || lookups() != before {
			t.Fatalf("key %d: b's cache is not warm (err %v, %d lookups)", i, err, lookups()-before)
		}
		if err := a.Revoke(ctx, k.ID); err != nil {
			t.Fatalf("Revoke(%d) = %v", k.ID, err)
		}
		if _, err := b.Authenticate(ctx, secret); !errors.Is(err, derrors.Unauthorized) {
			t.Fatalf("key %d: first request on the other instance after Revoke = %v, want Unauthorized", i, err)
		}
		if _, err := a.Authenticate(ctx, secret); !errors.Is(err, derrors.Unauthorized) {
			t.Fatalf("key %d: first request on the revoking instance after Revoke = %v, want Unauthorized", i, err)
		}
	}
	// A store without a listener (the CLI's) revokes the same way.
	k, secret, err := a.Create(ctx, "orchestrator", auth.Orchestrator)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Authenticate(ctx, secret); err != nil {
		t.Fatal(err)
	}
	if err := auth.NewStore(pool, time.Minute, nil).Revoke(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Authenticate(ctx, secret); !errors.Is(err, derrors.Unauthorized) {
		t.Errorf("first request after a CLI revoke = %v, want Unauthorized", err)
	}
}

// TestRevokeUnderLoad revokes a key while 16 goroutines keep authenticating
// it on the other instance: every request that starts after Revoke returned
// is refused.
func TestRevokeUnderLoad(t *testing.T) {
	pool := dbtest.NewPoolSize(t, 8)
	ctx := context.Background()
	a, b := instance(t, pool), instance(t, pool)
	k, secret, err := a.Create(ctx, "orchestrator", auth.Orchestrator)
	if err != nil {
		t.Fatal(err)
	}
	var revoked atomic.Bool
	var accepted atomic.Int32
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				after := revoked.Load()
				if _, err := b.Authenticate(ctx, secret); err == nil && after {
					accepted.Add(1)
				}
			}
		}()
	}
	time.Sleep(50 * time.Millisecond) // let the cache serve the key for a while
	if err := a.Revoke(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	revoked.Store(true)
	time.Sleep(50 * time.Millisecond)
	close(stop)
	wg.Wait()
	if n := accepted.Load(); n > 0 {
		t.Errorf("%d requests started after Revoke returned were accepted", n)
	}
}

// TestListenerReconnectClearsCache kills an instance's listening connection:
// it reconnects, and a key cached before is looked up again (anything may
// have been revoked meanwhile).
func TestListenerReconnectClearsCache(t *testing.T) {
	pool := dbtest.NewPool(t)
	ctx := context.Background()
	lookups := countLookups(t, pool)
	b := instance(t, pool)
	_, secret, err := b.Create(ctx, "orchestrator", auth.Orchestrator)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Authenticate(ctx, secret); err != nil {
		t.Fatal(err)
	}
	var pid int
	if err := pool.QueryRow(ctx, `SELECT backend_pid FROM auth_listeners`).Scan(&pid); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `SELECT pg_terminate_backend($1)`, pid); err != nil {
		t.Fatal(err)
	}
	// Wait for the new registration (setup, not the assertion).
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM auth_listeners WHERE backend_pid <> $1`, pid).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the listener did not reconnect within 10 s")
		}
	}
	before := lookups()
	if _, err := b.Authenticate(ctx, secret); err != nil {
		t.Fatal(err)
	}
	if n := lookups() - before; n != 1 {
		t.Errorf("%d database lookups after the listener reconnected, want 1 (the cache cleared)", n)
	}
}

// BenchmarkAuthenticateCached measures a cached lookup with a listener
// running: the cost of the invalidation is one generation read per request.
func BenchmarkAuthenticateCached(b *testing.B) {
	pool := dbtest.NewPool(b)
	ctx := context.Background()
	s := auth.NewStore(pool, time.Hour, nil)
	stop, err := s.StartListener(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer stop()
	_, secret, err := s.Create(ctx, "bench", auth.Orchestrator)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := s.Authenticate(ctx, secret); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRevoke measures Revoke with two other instances listening: the
// cost of waiting for their confirmations.
func BenchmarkRevoke(b *testing.B) {
	pool := dbtest.NewPool(b)
	ctx := context.Background()
	s := auth.NewStore(pool, time.Hour, nil)
	for range 2 {
		o := auth.NewStore(pool, time.Hour, nil)
		stop, err := o.StartListener(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		defer stop()
	}
	for b.Loop() {
		b.StopTimer()
		k, _, err := s.Create(ctx, "bench", auth.Orchestrator)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if err := s.Revoke(ctx, k.ID); err != nil {
			b.Fatal(err)
		}
	}
}
