package review

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/omnitriage/omnitriage/internal/derrors"
)

// Session keys.
const (
	sessionUserID = "user_id" // int64: who signed in
	sessionSince  = "since"   // int64, Unix nanoseconds: when they signed in
	sessionSeen   = "seen"    // int64, Unix nanoseconds: the last request, to a minute
	sessionFlash  = "flash"   // string: a message for the next page
)

type ctxKey int

const (
	userKey ctxKey = iota
	sessionKey
)

// UserFrom returns the signed-in user of a request's context.
func UserFrom(ctx context.Context) (User, bool) {
	u, ok := ctx.Value(userKey).(User)
	return u, ok
}

// WithUser returns ctx carrying u as the signed-in user.
func WithUser(ctx context.Context, u User) context.Context {
	return context.WithValue(ctx, userKey, u)
}

// hasSession says whether the session middleware has loaded a session
// into ctx (so flash messages can be read and written).
func hasSession(ctx context.Context) bool { return ctx.Value(sessionKey) != nil }

// touchEvery is how stale a session's last-seen time may get before a
// request writes it back. The session library's own idle timeout would
// rewrite the session on every request (an UPSERT and a commit per page,
// 5.8-9.0 ms a page in three runs of BenchmarkSignedInPage, against
// 1.2-2.7 ms this way);
// this way a person's session is written at most once a minute, and the
// idle limit is exact to within that minute.
const touchEvery = time.Minute

// authenticate finds the session's user on every request, with one
// primary-key lookup, so a disabled user or a session older than the
// user's last password reset stops working at once: such a session is
// destroyed and the request goes on as anonymous. A session unused for
// Config.SessionIdle, or older than Config.SessionLifetime, is ended the
// same way (the store also drops it at the lifetime's end, by the
// library's own clock).
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := context.WithValue(r.Context(), sessionKey, true)
		id := s.sessions.GetInt64(ctx, sessionUserID)
		if id != 0 {
			u, err := s.people.ByID(ctx, id)
			switch {
			case errors.Is(err, derrors.NotFound):
				s.endSession(ctx)
			case err != nil:
				s.renderError(w, r.WithContext(ctx), err)
				return
			case u.DisabledAt != nil || time.Unix(0, s.sessions.GetInt64(ctx, sessionSince)).Before(u.sessionsAfter):
				s.endSession(ctx)
			default:
				now := s.now()
				idle := now.Sub(time.Unix(0, s.sessions.GetInt64(ctx, sessionSeen)))
				age := now.Sub(time.Unix(0, s.sessions.GetInt64(ctx, sessionSince)))
				if idle > s.cfg.SessionIdle || age > s.cfg.SessionLifetime {
					s.endSession(ctx)
					break
				}
				if idle > touchEvery {
					s.sessions.Put(ctx, sessionSeen, now.UnixNano())
				}
				ctx = WithUser(ctx, u)
			}
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// endSession destroys the request's session in the store.
func (s *Server) endSession(ctx context.Context) {
	if err := s.sessions.Destroy(ctx); err != nil {
		s.log.WarnContext(ctx, "destroying a void session", "err", err)
	}
}

// requireRole admits signed-in users with one of roles (admin always).
// Without a session, a GET is sent to sign in and comes back afterwards;
// with the wrong role, the answer is the 403 page.
func (s *Server) requireRole(roles ...Role) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			u, ok := UserFrom(r.Context())
			if !ok {
				s.renderError(w, r, fmt.Errorf("sign in to see this page: %w", derrors.Unauthorized))
				return
			}
			if !u.Can(roles...) {
				s.renderError(w, r, fmt.Errorf("this page is for %s; you are signed in as %s (%s): %w",
					roleList(roles), u.Email, u.Role, derrors.Forbidden))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

func roleList(roles []Role) string {
	s := make([]string, 0, len(roles)+1)
	for _, r := range roles {
		s = append(s, string(r))
	}
	return strings.Join(append(s, string(Admin)), ", ")
}
