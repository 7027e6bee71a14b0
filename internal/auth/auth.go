// Package auth identifies API callers by bearer key and checks the role each
// route allows.
//
// A key is shown once, at creation; only its SHA-256 is stored. Keys are 32
// random bytes, so a fast hash is enough: nothing can be guessed from it.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/singleflight"

	"github.com/omnitriage/omnitriage/internal/derrors"
	"github.com/omnitriage/omnitriage/internal/web"
)

// Role is what a caller may do.
type Role string

// The roles.
const (
	Orchestrator Role = "orchestrator" // machines calling /v1
	Support      Role = "support"      // staff working the review queue
	Engineer     Role = "engineer"     // process engineers
	Admin        Role = "admin"        // everything
)

// Roles lists every role.
var Roles = []Role{Orchestrator, Support, Engineer, Admin}

// ParseRole checks s names a role.
func ParseRole(s string) (Role, error) {
	for _, r := range Roles {
		if string(r) == s {
			return r, nil
		}
	}
	return "", fmt.Errorf("role %q: want one of orchestrator, support, engineer, admin: %w", s, derrors.Invalid)
}

// Principal is who made a request.
type Principal struct {
	KeyID int64
	Name  string
	Role  Role
}

// Key is a stored API key, without its secret.
type Key struct {
	ID         int64
	Name       string
	Role       Role
	Prefix     string
	CreatedAt  time.Time
	LastUsedAt *time.Time
	RevokedAt  *time.Time
}

// Store keeps API keys in PostgreSQL, with a short-lived cache of lookups.
// With a listener started (StartListener), a key revoked by any process is
// dropped from this cache before Revoke returns there.
type Store struct {
	pool *pgxpool.Pool
	ttl  time.Duration
	now  func() time.Time

	mu    sync.Mutex
	cache map[[32]byte]cached
	// gen counts invalidations of the cache. A lookup caches its answer
	// only if gen has not moved while it ran, so an answer read before a
	// revocation is never cached after the revocation dropped the key; and
	// it is part of the singleflight key, so a request after an
	// invalidation never joins a lookup that started before it.
	gen uint64
	// listening is set once a listener is started; live while its
	// connection is up. A listening store whose connection is down caches
	// nothing: it cannot hear revocations.
	listening, live bool
	lookups         singleflight.Group // by secret hash and gen
}

type cached struct {
	p       Principal
	expires time.Time
}

// NewStore returns a Store. Lookups are cached for ttl. A key revoked in this
// process stops working at once; one revoked by another process stops at once
// when StartListener runs, else within ttl.
func NewStore(pool *pgxpool.Pool, ttl time.Duration, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{pool: pool, ttl: ttl, now: now, cache: map[[32]byte]cached{}}
}

const keyPrefix = "ot_"

var enc = base32.StdEncoding.WithPadding(base32.NoPadding)

// Create makes a key and returns its secret, which is never shown again.
func (s *Store) Create(ctx context.Context, name string, role Role) (_ Key, secret string, err error) {
	defer derrors.Wrap(&err, "auth.Create(%q, %q)", name, role)
	if strings.TrimSpace(name) == "" {
		return Key{}, "", fmt.Errorf("name is empty: %w", derrors.Invalid)
	}
	// A key's name is shown in lists and logs: the API's text rules apply.
	if err := web.CheckText("name", name, false); err != nil {
		return Key{}, "", err
	}
	if _, err := ParseRole(string(role)); err != nil {
		return Key{}, "", err
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return Key{}, "", err
	}
	secret = keyPrefix + strings.ToLower(enc.EncodeToString(b[:]))
	h := sha256.Sum256([]byte(secret))
	k := Key{Name: name, Role: role, Prefix: secret[:len(keyPrefix)+6]}
	err = s.pool.QueryRow(ctx, `
		INSERT INTO api_keys (name, role, prefix, secret_hash) VALUES ($1, $2, $3, $4)
		RETURNING id, created_at`, name, string(role), k.Prefix, h[:]).Scan(&k.ID, &k.CreatedAt)
	if err != nil {
		return Key{}, "", err
	}
	return k, secret, nil
}

// List returns every key, newest first.
func (s *Store) List(ctx context.Context) (_ []Key, err error) {
	defer derrors.Wrap(&err, "auth.List")
	rows, err := s.pool.Query(ctx, `
		SELECT id, name, role, prefix, created_at, last_used_at, revoked_at
		FROM api_keys ORDER BY id DESC`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Key, error) {
		var k Key
		var role string
		err := r.Scan(&k.ID, &k.Name, &role, &k.Prefix, &k.CreatedAt, &k.LastUsedAt, &k.RevokedAt)
		k.Role = Role(role)
		return k, err
	})
}

// Revoke ends a key at once: it returns when every instance whose revocation
// listener is connected has dropped the key from its cache, so the first
// request after it returns is refused everywhere. If a listener does not
// confirm within a few seconds, the key is still revoked and Revoke says so
// with an Unavailable error: that instance refuses it within its cache ttl.
func (s *Store) Revoke(ctx context.Context, id int64) (err error) {
	defer derrors.Wrap(&err, "revoking key %d", id)
	var gen int64
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL`, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("no active key with id %d (see `omnitriage apikey list`): %w", id, derrors.NotFound)
		}
		// The notification is delivered when the transaction commits, and
		// only then: a listener never drops a key that is still active.
		return tx.QueryRow(ctx, `SELECT g, pg_notify($2, $1::bigint::text || ' ' || g::text) IS NULL
			FROM (SELECT nextval('api_key_revocations') AS g) n`, id, revokedChannel).Scan(&gen, new(bool))
	})
	if err != nil {
		return err
	}
	s.forget(id)
	return s.awaitListeners(ctx, gen)
}

// forget drops key id from the cache (every key if id is 0).
func (s *Store) forget(id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gen++
	for h, c := range s.cache {
		if id == 0 || c.p.KeyID == id {
			delete(s.cache, h)
		}
	}
}

// Authenticate finds the active key whose secret is given.
func (s *Store) Authenticate(ctx context.Context, secret string) (_ Principal, err error) {
	if !strings.HasPrefix(secret, keyPrefix) {
		return Principal{}, fmt.Errorf("malformed API key: %w", derrors.Unauthorized)
	}
	h := sha256.Sum256([]byte(secret))
	now := s.now()
	s.mu.Lock()
	c, ok := s.cache[h]
	gen := s.gen
	s.mu.Unlock()
	if ok && now.Before(c.expires) {
		return c.p, nil
	}
	// One lookup per key at a time: when a busy key's cache entry expires,
	// the requests arriving meanwhile wait for that lookup instead of each
	// updating the key's row in turn (a convoy that held requests ~100 ms
	// at 200 requests/s).
	v, err, _ := s.lookups.Do(fmt.Sprintf("%x/%d", h, gen), func() (any, error) {
		s.mu.Lock()
		c, ok := s.cache[h]
		s.mu.Unlock()
		if ok && now.Before(c.expires) {
			return c.p, nil // a lookup that finished since the check above
		}
		var p Principal
		var role string
		err := s.pool.QueryRow(context.WithoutCancel(ctx), `
			UPDATE api_keys SET last_used_at = now()
			WHERE secret_hash = $1 AND revoked_at IS NULL
			RETURNING id, name, role`, h[:]).Scan(&p.KeyID, &p.Name, &role)
		if errors.Is(err, pgx.ErrNoRows) {
			return Principal{}, fmt.Errorf("unknown or revoked API key: %w", derrors.Unauthorized)
		}
		if err != nil {
			return Principal{}, fmt.Errorf("auth.Authenticate: %w", err)
		}
		p.Role = Role(role)
		s.mu.Lock()
		if s.gen == gen && (!s.listening || s.live) {
			s.cache[h] = cached{p: p, expires: now.Add(s.ttl)}
		}
		s.mu.Unlock()
		return p, nil
	})
	if err != nil {
		return Principal{}, err
	}
	return v.(Principal), nil
}

type ctxKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// FromContext returns the request's principal, if any.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(ctxKey{}).(Principal)
	return p, ok
}

// Actor names the request's principal for audit records ("role:name"), or
// "anonymous".
func Actor(ctx context.Context) string {
	if p, ok := FromContext(ctx); ok {
		return fmt.Sprintf("%s:%s", p.Role, p.Name)
	}
	return "anonymous"
}

// Authenticator resolves a request to a principal. Store does it from the
// bearer key; the review pages add sessions.
type Authenticator interface {
	Authenticate(ctx context.Context, secret string) (Principal, error)
}

// Middleware builds route guards: Require(roles...) lets through callers
// whose key has one of roles (admin always), answers 401 without a valid key
// and 403 with the wrong role. render writes the error.
type Middleware struct {
	Auth   Authenticator
	Render func(w http.ResponseWriter, r *http.Request, err error)
}

// Require returns middleware that admits only the given roles (and admin).
func (m Middleware) Require(roles ...Role) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, ok := FromContext(r.Context())
			if !ok {
				h := r.Header.Get("Authorization")
				token, found := strings.CutPrefix(h, "Bearer ")
				if !found || strings.TrimSpace(token) == "" {
					w.Header().Set("WWW-Authenticate", `Bearer realm="omnitriage"`)
					m.Render(w, r, fmt.Errorf("send an API key as 'Authorization: Bearer KEY' (create one with `omnitriage apikey create`): %w", derrors.Unauthorized))
					return
				}
				var err error
				p, err = m.Auth.Authenticate(r.Context(), strings.TrimSpace(token))
				if err != nil {
					w.Header().Set("WWW-Authenticate", `Bearer realm="omnitriage", error="invalid_token"`)
					m.Render(w, r, err)
					return
				}
			}
			if p.Role != Admin && !slices.Contains(roles, p.Role) {
				m.Render(w, r, fmt.Errorf("role %s may not do this (allowed: %s): %w", p.Role, joinRoles(roles), derrors.Forbidden))
				return
			}
			next.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), p)))
		})
	}
}

// joinRoles lists the roles a guard admits, admin last and each once.
func joinRoles(rs []Role) string {
	s := make([]string, 0, len(rs)+1)
	for _, r := range append(slices.Clone(rs), Admin) {
		if !slices.Contains(s, string(r)) {
			s = append(s, string(r))
		}
	}
	return strings.Join(s, ", ")
}
