package auth_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/omnitriage/omnitriage/internal/auth"
	"github.com/omnitriage/omnitriage/internal/database/dbtest"
	"github.com/omnitriage/omnitriage/internal/derrors"
)

// TestAuthenticateOneLookupAtATime expires a busy key's cache entry under 50
// concurrent requests and checks that they share one lookup (one update of
// the key's row) and all get the key's principal.
func TestAuthenticateOneLookupAtATime(t *testing.T) {
	pool := dbtest.NewPoolSize(t, 16)
	ctx := context.Background()
	// Count the key row's updates with a trigger: the store writes
	// last_used_at on every lookup that reaches the database.
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
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()) }
	store := auth.NewStore(pool, time.Minute, now)
	k, secret, err := store.Create(ctx, "orchestrator-1", auth.Orchestrator)
	if err != nil {
		t.Fatal(err)
	}
	updates := func() int {
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM key_updates`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if _, err := store.Authenticate(ctx, secret); err != nil {
		t.Fatal(err)
	}
	if n := updates(); n != 1 {
		t.Fatalf("%d updates after the first lookup, want 1", n)
	}
	clock.Add(int64(2 * time.Minute)) // the cached entry has expired
	var wg sync.WaitGroup
	var wrong atomic.Int32
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := store.Authenticate(ctx, secret)
			if err != nil || p.KeyID != k.ID || p.Role != auth.Orchestrator {
				wrong.Add(1)
			}
		}()
	}
	wg.Wait()
	if wrong.Load() > 0 {
		t.Errorf("%d of 50 concurrent lookups did not get the key's principal", wrong.Load())
	}
	// Whether a request joins the lookup in flight or arrives after it
	// cached the key, it causes no update of its own.
	if n := updates(); n != 2 {
		t.Errorf("%d updates for 50 concurrent lookups of an expired entry, want 1 more (2 in all)", n)
	}
	// A revoked key stops at once here, and a wrong one never works.
	if err := store.Revoke(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Authenticate(ctx, secret); !errors.Is(err, derrors.Unauthorized) {
		t.Errorf("Authenticate(revoked) = %v, want Unauthorized", err)
	}
	if _, err := store.Authenticate(ctx, secret+"x"); !errors.Is(err, derrors.Unauthorized) {
		t.Errorf("Authenticate(wrong secret) = %v, want Unauthorized", err)
	}
}

// TestCreateRefusesBadNames checks a key's name follows the API's text
// rules: invalid UTF-8 and control characters are refused as invalid, and
// nothing is stored.
func TestCreateRefusesBadNames(t *testing.T) {
	pool := dbtest.NewPool(t)
	ctx := context.Background()
	store := auth.NewStore(pool, time.Minute, time.Now)
	for _, name := range []string{"bad\x00name", "bad\x01name", "bad\xffname", "bad\u202ename", " "} {
		if _, _, err := store.Create(ctx, name, auth.Admin); !errors.Is(err, derrors.Invalid) {
			t.Errorf("Create(%q) = %v, want an invalid-input error", name, err)
		}
	}
	keys, err := store.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 0 {
		t.Errorf("%d keys stored, want 0: %+v", len(keys), keys)
	}
}
