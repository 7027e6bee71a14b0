package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/omnitriage/omnitriage/internal/derrors"
)

// revokedChannel is the notification channel of revocations; the payload is
// "KEY_ID GENERATION".
const revokedChannel = "api_key_revoked"

// confirmWait is how long Revoke waits for every connected listener to
// confirm a revocation.
const confirmWait = 3 * time.Second

// StartListener listens for revocations made by any process on a dedicated
// connection and drops revoked keys from the cache, confirming each in
// auth_listeners so that Revoke can wait for it. If the connection is lost,
// the store clears its cache and caches nothing until it has reconnected
// (every request is checked against the database meanwhile); it reconnects
// with backoff until ctx ends. The first connection is made before
// StartListener returns; stop ends the listener and waits for it.
func (s *Store) StartListener(ctx context.Context, log *slog.Logger) (stop func(), err error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s.mu.Lock()
	s.listening = true
	s.mu.Unlock()
	conn, err := s.connectListener(ctx)
	if err != nil {
		return nil, fmt.Errorf("starting the API key revocation listener: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		backoff := 100 * time.Millisecond
		for {
			err := s.listen(ctx, conn)
			s.setLive(false)
			closeListener(conn)
			if ctx.Err() != nil {
				return
			}
			log.Error("API key revocation listener lost its connection; checking every request against the database until it reconnects", "err", err)
			for {
				select {
				case <-ctx.Done():
					return
				case <-time.After(backoff):
				}
				if conn, err = s.connectListener(ctx); err == nil {
					log.Info("API key revocation listener reconnected")
					backoff = 100 * time.Millisecond
					break
				}
				backoff = min(2*backoff, 10*time.Second)
			}
		}
	}()
	return func() { cancel(); <-done }, nil
}

// connectListener opens the listening connection, registers it in
// auth_listeners as having seen every revocation so far, and then clears the
// cache: anything may have been revoked while no listener was connected.
func (s *Store) connectListener(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
	if err != nil {
		return nil, err
	}
	// LISTEN before reading the generation: a revocation after the read
	// arrives as a notification.
	_, err = conn.Exec(ctx, `LISTEN `+revokedChannel)
	if err == nil {
		_, err = conn.Exec(ctx, `
			INSERT INTO auth_listeners (backend_pid, seen)
			SELECT pg_backend_pid(), CASE WHEN is_called THEN last_value ELSE 0 END FROM api_key_revocations
			ON CONFLICT (backend_pid) DO UPDATE SET seen = EXCLUDED.seen, started_at = now()`)
	}
	if err != nil {
		conn.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	s.forget(0)
	s.setLive(true)
	return conn, nil
}

// listen applies notifications until the connection fails or ctx ends.
func (s *Store) listen(ctx context.Context, conn *pgx.Conn) error {
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		id, gen, ok := parseRevocation(n.Payload)
		if !ok {
			continue
		}
		s.forget(id)
		if _, err := conn.Exec(ctx, `UPDATE auth_listeners SET seen = GREATEST(seen, $1) WHERE backend_pid = pg_backend_pid()`, gen); err != nil {
			return err
		}
	}
}

func parseRevocation(payload string) (id, gen int64, ok bool) {
	a, b, found := strings.Cut(payload, " ")
	id, err1 := strconv.ParseInt(a, 10, 64)
	gen, err2 := strconv.ParseInt(b, 10, 64)
	return id, gen, found && err1 == nil && err2 == nil
}

// closeListener removes the connection's registration (if it is still up)
// and closes it.
func closeListener(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if !conn.IsClosed() {
		_, _ = conn.Exec(ctx, `DELETE FROM auth_listeners WHERE backend_pid = pg_backend_pid()`)
	}
	conn.Close(ctx)
}

func (s *Store) setLive(live bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.live = live
	if !live {
		s.gen++
		clear(s.cache)
	}
}

// awaitListeners waits until every listener whose connection is alive has
// seen revocation gen. Registrations of connections that no longer exist
// are removed: their stores cache nothing until they reconnect.
func (s *Store) awaitListeners(ctx context.Context, gen int64) error {
	ctx, cancel := context.WithTimeout(ctx, confirmWait)
	defer cancel()
	if _, err := s.pool.Exec(ctx, `DELETE FROM auth_listeners l
		WHERE NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = l.backend_pid)`); err != nil {
		return err
	}
	wait := time.Millisecond
	for {
		var pending int
		err := s.pool.QueryRow(ctx, `SELECT count(*) FROM auth_listeners l
			WHERE l.seen < $1 AND EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = l.backend_pid)`, gen).Scan(&pending)
		if err == nil && pending == 0 {
			return nil
		}
		if err != nil && !errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			return err
		}
		if ctx.Err() != nil {
			return fmt.Errorf("the key is revoked, but %d instance(s) did not confirm within %s; they refuse it within their cache lifetime: %w",
				pending, confirmWait, derrors.Unavailable)
		}
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
		wait = min(2*wait, 50*time.Millisecond)
	}
}
