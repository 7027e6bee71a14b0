package adapter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// SimStore keeps what the simulated systems remember: the result of every
// call by its idempotency key, and the authorizations, bookings and ERP
// documents those calls created. With a store in the database a restarted
// service (or another instance on the same database and seed) captures,
// refunds and tracks what an earlier process authorised and booked.
type SimStore interface {
	// update runs fn with exclusive access to the records of one seed and
	// keeps what fn put only when fn returns nil.
	update(ctx context.Context, seed uint64, fn func(tx simTx) error) error
}

// simTx reads and writes records inside SimStore.update.
type simTx interface {
	// get decodes the record into v (a pointer) and reports whether it exists.
	get(kind, key string, v any) (bool, error)
	// put stores v as the record.
	put(kind, key string, v any) error
}

// Record kinds.
const (
	recAuth    = "auth"    // an authorization, by id
	recBooking = "booking" // a shipment booking, by tracking number
	recPosting = "posting" // an ERP document, by document key
)

// memStore keeps records in memory: state lasts as long as the process. The
// simulator's mutex serialises its use.
type memStore struct{ recs map[string]any }

// NewMemStore returns a store that keeps the simulator's records in memory,
// for tests and tools that need no database.
func NewMemStore() SimStore { return &memStore{recs: map[string]any{}} }

func (m *memStore) update(ctx context.Context, seed uint64, fn func(simTx) error) error {
	tx := &memTx{m: m, puts: map[string]any{}}
	if err := fn(tx); err != nil {
		return err
	}
	for k, v := range tx.puts {
		m.recs[k] = v
	}
	return nil
}

type memTx struct {
	m    *memStore
	puts map[string]any
}

func (t *memTx) get(kind, key string, v any) (bool, error) {
	rec, ok := t.puts[kind+"\x00"+key]
	if !ok {
		rec, ok = t.m.recs[kind+"\x00"+key]
	}
	if !ok {
		return false, nil
	}
	reflect.ValueOf(v).Elem().Set(reflect.ValueOf(rec))
	return true, nil
}

func (t *memTx) put(kind, key string, v any) error {
	t.puts[kind+"\x00"+key] = reflect.ValueOf(v).Elem().Interface()
	return nil
}

// PGStore keeps the simulator's records in PostgreSQL (table sim_records,
// written only by this code), one transaction per simulated call, serialised
// across every process on the database by an advisory lock per seed.
type PGStore struct{ pool *pgxpool.Pool }

// NewPGStore returns a store over pool.
func NewPGStore(pool *pgxpool.Pool) *PGStore { return &PGStore{pool: pool} }

func (p *PGStore) update(ctx context.Context, seed uint64, fn func(simTx) error) error {
	return pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('omnitriage.simulator'), $1::int)`, int32(seed)); err != nil {
			return err
		}
		return fn(&pgTx{ctx: ctx, tx: tx, seed: int64(seed)})
	})
}

type pgTx struct {
	ctx  context.Context
	tx   pgx.Tx
	seed int64
}

func (t *pgTx) get(kind, key string, v any) (bool, error) {
	var raw []byte
	err := t.tx.QueryRow(t.ctx, `SELECT value::text FROM sim_records WHERE seed = $1 AND kind = $2 AND key = $3`,
		t.seed, kind, key).Scan(&raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return false, fmt.Errorf("simulator record %s %q: %w", kind, key, err)
	}
	return true, nil
}

func (t *pgTx) put(kind, key string, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = t.tx.Exec(t.ctx, `INSERT INTO sim_records (seed, kind, key, value) VALUES ($1, $2, $3, $4::text::json)
		ON CONFLICT (seed, kind, key) DO UPDATE SET value = excluded.value, updated_at = now()`, t.seed, kind, key, string(raw))
	return err
}
