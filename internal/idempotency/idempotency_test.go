package idempotency_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/omnitriage/omnitriage/internal/database/dbtest"
	"github.com/omnitriage/omnitriage/internal/derrors"
	"github.com/omnitriage/omnitriage/internal/idempotency"
)

// effectTable makes a table standing for what a keyed request writes.
func effectTable(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	if _, err := pool.Exec(context.Background(), `CREATE TABLE effects (id uuid PRIMARY KEY, body text NOT NULL)`); err != nil {
		t.Fatal(err)
	}
}

// do is one keyed request: in one transaction it claims the key and writes
// its effect; a key held by another request is answered from its record.
// fail makes the request roll back after claiming (a request that fails
// half-way), to show a waiter takes the key over.
func do(ctx context.Context, pool *pgxpool.Pool, k *idempotency.Key, fail bool) (resp string, executed bool, err error) {
	if rec, found, err := idempotency.Lookup(ctx, pool, k); err != nil || found {
		return string(rec.Response), false, err
	}
	id := uuid.New()
	body := fmt.Sprintf(`{"id":%q}`, id)
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		claimed, err := idempotency.Claim(ctx, tx, k, idempotency.Record{Status: 201, Response: []byte(body), ResourceID: id})
		if err != nil || !claimed {
			return err
		}
		executed = true
		if _, err := tx.Exec(ctx, `INSERT INTO effects (id, body) VALUES ($1, $2)`, id, k.Body); err != nil {
			return err
		}
		if fail {
			return errors.New("failed after its effect")
		}
		return nil
	})
	if fail && executed {
		return "", true, err
	}
	if err != nil {
		return "", false, err
	}
	if executed {
		return body, true, nil
	}
	rec, found, err := idempotency.Lookup(ctx, pool, k)
	if err == nil && !found {
		err = errors.New("key neither claimed nor stored")
	}
	return string(rec.Response), false, err
}

// TestConcurrentSameKey sends many requests with one key at once on the real
// database: exactly one writes its effect, every other waits for it and
// answers with its bytes, and the stored record names the effect.
func TestConcurrentSameKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPoolSize(t, 16)
	effectTable(t, pool)
	const n = 40
	k := &idempotency.Key{Scope: "1 POST /v1/things", Key: "same", Body: []byte(`{"a": 1, "b": [2, 3]}`)}
	var wg sync.WaitGroup
	answers := make([]string, n)
	ran := make([]bool, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// The same request, its JSON written differently: one key.
			kk := *k
			if i%2 == 1 {
				kk.Body = []byte(`{"b":[2,3],"a":1.0}`)
			}
			answers[i], ran[i], errs[i] = do(ctx, pool, &kk, false)
		}()
	}
	wg.Wait()
	executed := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("request %d: %v", i, errs[i])
		}
		if ran[i] {
			executed++
		}
		if answers[i] != answers[0] || answers[i] == "" {
			t.Errorf("request %d answered %q, request 0 %q; want one answer for all", i, answers[i], answers[0])
		}
	}
	var effects int
	var effectID uuid.UUID
	if err := pool.QueryRow(ctx, `SELECT count(*), min(id::text)::uuid FROM effects`).Scan(&effects, &effectID); err != nil {
		t.Fatal(err)
	}
	if executed != 1 || effects != 1 {
		t.Fatalf("%d requests executed and %d effects written, want 1 and 1", executed, effects)
	}
	rec, found, err := idempotency.Lookup(ctx, pool, k)
	if err != nil || !found || rec.ResourceID != effectID || rec.Status != 201 || !strings.Contains(answers[0], effectID.String()) {
		t.Errorf("Lookup = %+v, %v, %v; want the effect %s with status 201", rec, found, err, effectID)
	}
}

// TestWaiterTakesOverAFailedKey: when the request holding a key rolls back,
// one of the requests waiting on it claims the key and runs, so a failure
// never leaves a key that answers nothing.
func TestWaiterTakesOverAFailedKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPoolSize(t, 16)
	effectTable(t, pool)
	k := &idempotency.Key{Scope: "1 POST /v1/things", Key: "fails-first", Body: []byte(`{}`)}
	// The first request claims and holds the key in an open transaction.
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := idempotency.Claim(ctx, tx, k, idempotency.Record{Status: 201, Response: []byte(`{"first":true}`)}); err != nil || !ok {
		t.Fatalf("first Claim = %v, %v; want true", ok, err)
	}
	const n = 10
	var wg sync.WaitGroup
	ran := make(chan bool, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, executed, err := do(ctx, pool, k, false)
			if err != nil {
				t.Errorf("waiting request: %v", err)
			}
			ran <- executed
		}()
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(ran)
	executed := 0
	for r := range ran {
		if r {
			executed++
		}
	}
	var effects int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM effects`).Scan(&effects); err != nil {
		t.Fatal(err)
	}
	if executed != 1 || effects != 1 {
		t.Errorf("after the holder rolled back: %d executed, %d effects; want 1 and 1", executed, effects)
	}
}

func TestReusedKeyConflicts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	k := &idempotency.Key{Scope: "s", Key: "k", Body: []byte(`{"qty":1}`)}
	if ok, err := idempotency.Claim(ctx, pool, k, idempotency.Record{Status: 201, Response: []byte(`{}`)}); err != nil || !ok {
		t.Fatalf("Claim = %v, %v", ok, err)
	}
	for _, tc := range []struct {
		key  idempotency.Key
		want error
	}{
		{idempotency.Key{Scope: "s", Key: "k", Body: []byte(`{ "qty" : 1 }`)}, nil},
		{idempotency.Key{Scope: "s", Key: "k", Body: []byte(`{"qty":2}`)}, derrors.Conflict},
		{idempotency.Key{Scope: "other", Key: "k", Body: []byte(`{"qty":2}`)}, nil}, // another caller's key
	} {
		_, _, err := idempotency.Lookup(ctx, pool, &tc.key)
		if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
			t.Errorf("Lookup(%s %s) = %v, want %v", tc.key.Scope, tc.key.Body, err, tc.want)
		}
	}
	if ok, err := idempotency.Claim(ctx, pool, k, idempotency.Record{}); err != nil || ok {
		t.Errorf("second Claim = %v, %v; want false, nil", ok, err)
	}
}

// TestAnswerKeepsTheFirst: a key claimed before its answer stores the
// first answer given, and later ones get those bytes back.
func TestAnswerKeepsTheFirst(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	k := &idempotency.Key{Scope: "s", Key: "late", Body: []byte(`{}`)}
	if ok, err := idempotency.Claim(ctx, pool, k, idempotency.Record{ResourceID: uuid.New()}); err != nil || !ok {
		t.Fatalf("Claim = %v, %v", ok, err)
	}
	if rec, _, err := idempotency.Lookup(ctx, pool, k); err != nil || rec.Response != nil || rec.Status != 0 {
		t.Fatalf("Lookup before an answer = %+v, %v; want no response", rec, err)
	}
	for i, want := range []string{`{"n":1}`, `{"n":1}`} {
		got, err := idempotency.Answer(ctx, pool, k, 200, fmt.Appendf(nil, `{"n":%d}`, i+1))
		if err != nil || string(got) != want {
			t.Errorf("Answer #%d = %s, %v; want %s", i+1, got, err, want)
		}
	}
	if _, err := idempotency.Answer(ctx, pool, &idempotency.Key{Scope: "s", Key: "none"}, 200, []byte(`{}`)); !errors.Is(err, derrors.NotFound) {
		t.Errorf("Answer(unknown key) = %v, want NotFound", err)
	}
}

// TestQueueClaimOrAbort: the batch form aborts its whole batch when the key
// is taken, and Taken recognises the abort.
func TestQueueClaimOrAbort(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	effectTable(t, pool)
	k := &idempotency.Key{Scope: "s", Key: "batch", Body: []byte(`{}`)}
	send := func() error {
		b := &pgx.Batch{}
		idempotency.QueueClaimOrAbort(b, k, idempotency.Record{Status: 201, Response: []byte(`{}`)})
		b.Queue(`INSERT INTO effects (id, body) VALUES ($1, 'x')`, uuid.New())
		return pool.SendBatch(ctx, b).Close()
	}
	if err := send(); err != nil {
		t.Fatalf("first batch = %v", err)
	}
	if err := send(); !idempotency.Taken(err) {
		t.Fatalf("second batch = %v, want Taken", err)
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM effects`).Scan(&n); err != nil || n != 1 {
		t.Errorf("effects = %d, %v; want 1 (the second batch rolled back)", n, err)
	}
	if idempotency.Taken(errors.New("idempotency_key_used")) {
		t.Errorf("Taken(plain error naming the check) = true, want false")
	}
}

func TestFromRequest(t *testing.T) {
	r := chi.NewRouter()
	var got *idempotency.Key
	var gotErr error
	r.Post("/v1/orders/{id}", func(w http.ResponseWriter, req *http.Request) {
		got, gotErr = idempotency.FromRequest(req, []byte(`{}`))
	})
	for _, tc := range []struct {
		header    string
		wantScope string
		wantErr   bool
	}{
		{"", "", false},
		{"abc", "0 POST /v1/orders/{id}", false},
		{strings.Repeat("k", 256), "", true},
		{"a\nb", "", true},
	} {
		got, gotErr = nil, nil
		req := httptest.NewRequest("POST", "/v1/orders/42", nil)
		if tc.header != "" {
			req.Header["Idempotency-Key"] = []string{tc.header}
		}
		r.ServeHTTP(httptest.NewRecorder(), req)
		switch {
		case tc.wantErr:
			if !errors.Is(gotErr, derrors.Invalid) {
				t.Errorf("FromRequest(%q) error = %v, want Invalid", tc.header, gotErr)
			}
		case tc.wantScope == "":
			if got != nil || gotErr != nil {
				t.Errorf("FromRequest(no key) = %+v, %v; want nil, nil", got, gotErr)
			}
		default:
			if gotErr != nil || got == nil || got.Scope != tc.wantScope || got.Key != tc.header {
				t.Errorf("FromRequest(%q) = %+v, %v; want scope %q", tc.header, got, gotErr, tc.wantScope)
			}
		}
	}
}
