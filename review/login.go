package review

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/omnitriage/omnitriage/internal/derrors"
)

func (s *Server) registerLoginRoutes(r chi.Router) {
	r.Get("/login", s.h(s.handleLoginPage))
	r.Post("/login", s.h(s.handleLogin))
	r.Post("/logout", s.h(s.handleLogout))
}

// loginPage is the model of templates/login.html.
type loginPage struct {
	Page
	Email string
	Next  string
	Error string
}

func (s *Server) handleLoginPage(w http.ResponseWriter, r *http.Request) error {
	next := safeNext(r.URL.Query().Get("next"))
	if _, ok := UserFrom(r.Context()); ok {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return nil
	}
	return s.render(w, r, http.StatusOK, "login.html", loginPage{Page: s.page(r, "Sign in"), Next: next})
}

// handleLogin checks the rate limits, then the password; on success it
// renews the session token (so a token planted before sign-in is worth
// nothing after) and sends the user where they were going.
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return fmt.Errorf("reading the sign-in form: %w", derrors.Invalid)
	}
	email := strings.ToLower(strings.TrimSpace(r.PostForm.Get("email")))
	password := r.PostForm.Get("password")
	next := safeNext(r.PostForm.Get("next"))
	again := func(status int, msg string) error {
		return s.render(w, r, status, "login.html", loginPage{Page: s.page(r, "Sign in"), Email: email, Next: next, Error: msg})
	}
	if email == "" || password == "" {
		return again(http.StatusUnprocessableEntity, "Enter your email and your password.")
	}
	ctx := r.Context()
	addr := clientAddr(r)
	lim, err := s.limiter.check(ctx, email, addr)
	if err != nil {
		return err
	}
	if lim != nil {
		wait := lim.until.Sub(s.now())
		mins := int(math.Ceil(wait.Minutes()))
		if mins < 1 {
			mins = 1
		}
		w.Header().Set("Retry-After", fmt.Sprint(int(math.Ceil(wait.Seconds()))))
		what := "this account"
		if lim.what == "address" {
			what = "this network address"
		}
		return again(http.StatusTooManyRequests, fmt.Sprintf(
			"Too many failed sign-ins for %s. Sign-in is paused; try again in %d minute%s, or ask an admin to reset your password.",
			what, mins, plural(mins)))
	}
	u, err := s.people.Authenticate(ctx, email, password)
	if errors.Is(err, errBadLogin) {
		if err := s.limiter.fail(ctx, email, addr); err != nil {
			return err
		}
		s.log.InfoContext(ctx, "failed sign-in", "email", email, "addr", addr, "request_id", requestID(r))
		return again(http.StatusUnauthorized, "Wrong email or password.")
	}
	if err != nil {
		return err
	}
	if err := s.limiter.succeed(ctx, u.Email); err != nil {
		return err
	}
	if err := s.sessions.RenewToken(ctx); err != nil {
		return fmt.Errorf("renewing the session token: %w", err)
	}
	s.sessions.Put(ctx, sessionUserID, u.ID)
	s.sessions.Put(ctx, sessionSince, s.now().UnixNano())
	s.sessions.Put(ctx, sessionSeen, s.now().UnixNano())
	s.log.InfoContext(ctx, "signed in", "user", u.Email, "role", u.Role, "request_id", requestID(r))
	http.Redirect(w, r, next, http.StatusSeeOther)
	return nil
}

// handleLogout destroys the session in the store, so its cookie is worth
// nothing from now on, and shows the sign-in page.
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	if err := s.sessions.Destroy(ctx); err != nil {
		return fmt.Errorf("ending the session: %w", err)
	}
	s.flash(r, "You are signed out.")
	http.Redirect(w, r, "/login", http.StatusSeeOther)
	return nil
}

// safeNext keeps a return path only if it stays on this site: a path
// starting with one slash, not a scheme or another host.
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.Contains(next, `\`) {
		return "/review"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.Path == "/login" {
		return "/review"
	}
	return next
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
