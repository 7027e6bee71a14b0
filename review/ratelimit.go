package review

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// LoginLimits bound password guessing. Failed sign-ins are stored in
// PostgreSQL (table login_failures), so the limit holds across restarts
// and across every replica behind a load balancer.
type LoginLimits struct {
	// Window is how far back failures count; 0 means 15 minutes.
	Window time.Duration
	// PerAccount is how many failures one email may have in Window before
	// its sign-ins are refused; 0 means 5.
	PerAccount int
	// PerAddress is the same for one client address; 0 means 20.
	PerAddress int
}

func (l LoginLimits) withDefaults() LoginLimits {
	if l.Window <= 0 {
		l.Window = 15 * time.Minute
	}
	if l.PerAccount <= 0 {
		l.PerAccount = 5
	}
	if l.PerAddress <= 0 {
		l.PerAddress = 20
	}
	return l
}

// limiter counts failed sign-ins per account and per address.
type limiter struct {
	pool   *pgxpool.Pool
	now    func() time.Time
	limits LoginLimits
}

// limited is a refusal: which limit was hit and when it lifts.
type limited struct {
	what  string // "account" or "address"
	until time.Time
}

// check says whether email or addr has reached its limit. A sign-in is
// refused while limited even with the right password, or guessing would
// just go on.
func (l *limiter) check(ctx context.Context, email, addr string) (*limited, error) {
	since := l.now().Add(-l.limits.Window)
	for _, c := range []struct {
		what, col, val string
		max            int
	}{
		{"account", "email", email, l.limits.PerAccount},
		{"address", "addr", addr, l.limits.PerAddress},
	} {
		// The max-th newest failure in the window: once it ages out,
		// fewer than max remain.
		var at time.Time
		err := l.pool.QueryRow(ctx, `SELECT at FROM login_failures WHERE `+c.col+` = $1 AND at > $2
			ORDER BY at DESC OFFSET $3 LIMIT 1`, c.val, since, c.max-1).Scan(&at)
		if errors.Is(err, pgx.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("checking sign-in limits: %w", err)
		}
		return &limited{what: c.what, until: at.Add(l.limits.Window)}, nil
	}
	return nil, nil
}

// fail records a failed sign-in.
func (l *limiter) fail(ctx context.Context, email, addr string) error {
	_, err := l.pool.Exec(ctx, `INSERT INTO login_failures (email, addr, at) VALUES ($1, $2, $3)`, email, addr, l.now())
	if err != nil {
		return fmt.Errorf("recording a failed sign-in: %w", err)
	}
	return nil
}

// succeed forgets an account's failures once its owner signs in.
func (l *limiter) succeed(ctx context.Context, email string) error {
	if _, err := l.pool.Exec(ctx, `DELETE FROM login_failures WHERE email = $1`, email); err != nil {
		return fmt.Errorf("clearing failed sign-ins: %w", err)
	}
	return nil
}

// purge deletes failures older than the window.
func (l *limiter) purge(ctx context.Context) (int64, error) {
	tag, err := l.pool.Exec(ctx, `DELETE FROM login_failures WHERE at < $1`, l.now().Add(-l.limits.Window))
	if err != nil {
		return 0, fmt.Errorf("purging old sign-in failures: %w", err)
	}
	return tag.RowsAffected(), nil
}

// clientAddr is the address a request came from, without its port. Behind
// a proxy, the router's RealIP middleware has already put the client's
// address from X-Forwarded-For / X-Real-IP into RemoteAddr.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
