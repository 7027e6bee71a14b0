// Package idempotency is the one implementation of the API's
// Idempotency-Key: the key and the canonical hash of the request it came
// with, the stored answer, the replay, the conflict when a key comes back
// with another body, and concurrent requests with one key (the first runs;
// the others wait for its transaction and then replay its answer).
//
// It owns the table idempotency_keys, shared by every route (a key's scope
// names the caller and the route). Orchestration (POST /v1/orders) and
// triage (POST /v1/recommendations) write it only through this package, in
// their own transactions, so a key is stored exactly when the effect it
// guards commits.
package idempotency

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/omnitriage/omnitriage/internal/auth"
	"github.com/omnitriage/omnitriage/internal/derrors"
	"github.com/omnitriage/omnitriage/internal/web"
)

// Key scopes a client's retry key: the same key and body give the same
// answer; the same key with another body is a conflict. Bodies are compared
// by their canonical JSON (web.Canonical), so a retry that orders keys or
// writes numbers differently is the same request.
type Key struct {
	Scope string // who the key belongs to, e.g. the API key id and route
	Key   string
	Body  []byte // the request body as sent, hashed to detect reuse
}

// FromRequest reads the request's Idempotency-Key, scoped to the caller's
// API key, the method and the route pattern; nil when the request has none.
// A key over 255 bytes or with a control character is invalid.
func FromRequest(r *http.Request, body []byte) (*Key, error) {
	key, err := web.IdempotencyKey(r)
	if err != nil || key == "" {
		return nil, err
	}
	p, _ := auth.FromContext(r.Context())
	route := r.URL.Path
	if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
		route = rc.RoutePattern()
	}
	return &Key{Scope: fmt.Sprintf("%d %s %s", p.KeyID, r.Method, route), Key: key, Body: body}, nil
}

// Hash is the SHA-256 of the body's canonical form, as stored with the key.
func (k *Key) Hash() [32]byte { return sha256.Sum256(web.Canonical(k.Body)) }

// Matches reports whether stored, the hash kept with the key, is this
// request's: its canonical hash, or the hash of the exact bytes that keys
// stored before canonical comparison hold.
func (k *Key) Matches(stored []byte) bool {
	h, raw := k.Hash(), sha256.Sum256(k.Body)
	return string(stored) == string(h[:]) || string(stored) == string(raw[:])
}

// Reused is the error for a key that came back with another body: a
// Conflict (409), saying what to do.
func (k *Key) Reused() error {
	return fmt.Errorf("Idempotency-Key %q was used with a different request body; use a new key for a new request: %w",
		k.Key, derrors.Conflict)
}

// Record is what is stored for a key.
type Record struct {
	// Status and Response are the first answer; Response is nil while the
	// request that claimed the key has not answered (it failed after
	// storing its effect, say, and the effect is to be answered again).
	Status   int
	Response []byte
	// ResourceID is what the first request made (the order, the
	// exception); uuid.Nil when it made nothing with an id.
	ResourceID uuid.UUID
}

// Querier is a pool or a transaction.
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Lookup reads the record of k. found is false when the key is new. A key
// stored with another request's hash is k.Reused(), a Conflict.
func Lookup(ctx context.Context, q Querier, k *Key) (_ Record, found bool, err error) {
	defer derrors.Wrap(&err, "idempotency.Lookup(%q)", k.Key)
	var hash []byte
	var status *int
	var res *uuid.UUID
	var rec Record
	err = q.QueryRow(ctx, `SELECT request_hash, status, response, resource_id FROM idempotency_keys WHERE scope = $1 AND key = $2`,
		k.Scope, k.Key).Scan(&hash, &status, &rec.Response, &res)
	if errors.Is(err, pgx.ErrNoRows) {
		return Record{}, false, nil
	}
	if err != nil {
		return Record{}, false, err
	}
	if !k.Matches(hash) {
		return Record{}, false, k.Reused()
	}
	if status != nil {
		rec.Status = *status
	}
	if res != nil {
		rec.ResourceID = *res
	}
	return rec, true, nil
}

const claimSQL = `INSERT INTO idempotency_keys (scope, key, request_hash, resource_id, status, response)
	VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`

// claimArgs are claimSQL's arguments; a zero status or nil response stores
// NULL (not answered yet), a nil resource no id.
func claimArgs(k *Key, rec Record) []any {
	h := k.Hash()
	var status *int
	if rec.Status != 0 {
		status = &rec.Status
	}
	var res *uuid.UUID
	if rec.ResourceID != uuid.Nil {
		res = &rec.ResourceID
	}
	return []any{k.Scope, k.Key, h[:], res, status, rec.Response}
}

// Claim stores k with rec in q, which should be the transaction that writes
// the key's effect, and reports whether it did. false means another request
// holds the key: roll back and answer with Lookup. Of two transactions
// claiming one key at once, the second waits here until the first ends: when
// it commits, the second gets false; when it rolls back, the second claims
// the key. So one request's effect is stored, and the others wait for it.
func Claim(ctx context.Context, q Querier, k *Key, rec Record) (claimed bool, err error) {
	defer derrors.Wrap(&err, "idempotency.Claim(%q)", k.Key)
	tag, err := q.Exec(ctx, claimSQL, claimArgs(k, rec)...)
	if err != nil {
		return false, err
	}
	return tag.RowsAffected() == 1, nil
}

// QueueClaim queues Claim on b; the caller reads its result in order with
// BatchResults.Exec and ClaimedBy.
func QueueClaim(b *pgx.Batch, k *Key, rec Record) {
	b.Queue(claimSQL, claimArgs(k, rec)...)
}

// ClaimedBy reports whether the command tag of a queued claim stored the key.
func ClaimedBy(tag pgconn.CommandTag) bool { return tag.RowsAffected() == 1 }

// takenCheck is the name ot_check gives the failure of QueueClaimOrAbort.
const takenCheck = "idempotency_key_used"

// QueueClaimOrAbort queues a claim that aborts the whole batch (one
// implicit transaction) when another request holds the key, through the
// schema's ot_check; Taken recognises that error. It suits a batch that
// writes its effect in the same round trip.
func QueueClaimOrAbort(b *pgx.Batch, k *Key, rec Record) {
	b.Queue(`WITH ins AS (`+claimSQL+` RETURNING 1)
		SELECT ot_check(EXISTS (SELECT 1 FROM ins), '`+takenCheck+`')`, claimArgs(k, rec)...)
}

// Taken reports whether err is the abort of QueueClaimOrAbort: the key was
// held by another request. It reads the error's constraint field, which
// ot_check sets to the check's name.
func Taken(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "P0001" && pe.ConstraintName == takenCheck
}

// Answer stores status and response for k unless an answer is stored
// already, and returns the stored answer's bytes: every replay answers with
// the first bytes stored, also when two replays race to store theirs.
func Answer(ctx context.Context, q Querier, k *Key, status int, response []byte) (stored []byte, err error) {
	defer derrors.Wrap(&err, "idempotency.Answer(%q)", k.Key)
	err = q.QueryRow(ctx, `
		UPDATE idempotency_keys SET status = coalesce(status, $3), response = coalesce(response, $4)
		WHERE scope = $1 AND key = $2 RETURNING response`, k.Scope, k.Key, status, response).Scan(&stored)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("key not stored: %w", derrors.NotFound)
	}
	return stored, err
}
