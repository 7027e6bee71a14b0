package review

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/alexedwards/scs/pgxstore"
	"github.com/alexedwards/scs/v2"
	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/omnitriage/omnitriage/internal/derrors"
	"github.com/omnitriage/omnitriage/internal/web"
	"github.com/omnitriage/omnitriage/orchestration"
	"github.com/omnitriage/omnitriage/rules"
	"github.com/omnitriage/omnitriage/triage"
)

//go:embed templates static
var files embed.FS

// Config is what the review pages need.
type Config struct {
	Pool   *pgxpool.Pool
	Triage *triage.Service
	Orch   *orchestration.Service
	// Policy returns the policy in force (SLA targets, limits); may be nil
	// for pages that need none.
	Policy func() *rules.Policy
	Log    *slog.Logger
	// BaseURL is how people reach the server ("https://triage.example.com");
	// its origin is trusted for cross-origin checks behind a proxy.
	BaseURL string
	// Clock is the time; nil means time.Now.
	Clock func() time.Time
	// Secure marks the session cookie Secure: set it when people reach the
	// server over TLS (BASE_URL starts with https://).
	Secure bool
	// SessionIdle ends a session unused this long; 0 means 1 hour.
	SessionIdle time.Duration
	// SessionLifetime ends a session this long after sign-in, used or not;
	// 0 means 12 hours (a working day).
	SessionLifetime time.Duration
	// Limits bound password guessing.
	Limits LoginLimits
	// Clusters serves the root-cause cluster pages; nil leaves them out.
	Clusters *triage.Clusterer
}

// Server is the review web app: its templates, assets, sessions and handlers.
type Server struct {
	cfg      Config
	log      *slog.Logger
	now      func() time.Time
	people   *People
	limiter  *limiter
	sessions *scs.SessionManager
	assets   *assets
	pages    map[string]*template.Template
	origin   *http.CrossOriginProtection
}

// New builds the review server: it hashes the static assets and parses every
// template once.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Pool == nil {
		return nil, errors.New("review.New: no pool")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.SessionIdle <= 0 {
		cfg.SessionIdle = time.Hour
	}
	if cfg.SessionLifetime <= 0 {
		cfg.SessionLifetime = 12 * time.Hour
	}
	s := &Server{cfg: cfg, log: cfg.Log, now: cfg.Clock, people: NewPeople(cfg.Pool, cfg.Clock),
		limiter: &limiter{pool: cfg.Pool, now: cfg.Clock, limits: cfg.Limits.withDefaults()}}

	static, err := fs.Sub(files, "static")
	if err != nil {
		return nil, err
	}
	if s.assets, err = loadAssets(static); err != nil {
		return nil, fmt.Errorf("review.New: %w", err)
	}
	if s.pages, err = s.parseTemplates(); err != nil {
		return nil, fmt.Errorf("review.New: %w", err)
	}

	sm := scs.New()
	// Expired rows are deleted by the review package's periodic job, not
	// by the store's own ticker (one scheduler: River's leader).
	sm.Store = pgxstore.NewWithCleanupInterval(cfg.Pool, 0)
	sm.Lifetime = cfg.SessionLifetime
	// The idle limit is checked by authenticate, not by the library (see
	// touchEvery); the store's expiry is the absolute lifetime.
	sm.Cookie.Name = "omnitriage_session"
	sm.Cookie.HttpOnly = true
	sm.Cookie.SameSite = http.SameSiteLaxMode
	sm.Cookie.Secure = cfg.Secure
	sm.Cookie.Path = "/"
	sm.Cookie.Persist = false // ends with the browser: desks are shared
	sm.ErrorFunc = func(w http.ResponseWriter, r *http.Request, err error) {
		s.renderError(w, r, fmt.Errorf("session store: %w", err))
	}
	s.sessions = sm

	s.origin = http.NewCrossOriginProtection()
	if cfg.BaseURL != "" {
		u, err := url.Parse(cfg.BaseURL)
		if err != nil || u.Scheme == "" || u.Host == "" {
			return nil, fmt.Errorf("review.New: BASE_URL %q is not an absolute URL", cfg.BaseURL)
		}
		if err := s.origin.AddTrustedOrigin(u.Scheme + "://" + u.Host); err != nil {
			return nil, fmt.Errorf("review.New: BASE_URL: %w", err)
		}
	}
	s.origin.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.renderError(w, r, errCrossOrigin)
	}))
	return s, nil
}

// People returns the user store the server signs people in against.
func (s *Server) People() *People { return s.people }

// Routes mounts the review pages on r: /login, /logout, /static/*, and each
// page family's routes. Mount it on the main router, outside /v1.
func (s *Server) Routes(r chi.Router) {
	r.Get("/static/*", s.handleStatic)
	r.Group(func(r chi.Router) {
		r.Use(s.pageHeaders, s.refuseCrossOrigin, s.sessions.LoadAndSave, s.authenticate)
		r.Get("/", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/review", http.StatusSeeOther)
		})
		s.registerLoginRoutes(r)
		s.registerAdminRoutes(r)
		s.registerQueueRoutes(r)
		s.registerClusterRoutes(r)
		s.registerDashboardRoutes(r)
	})
}

// handlerFunc is a page handler: it returns its error for h to render.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// h adapts a handlerFunc, rendering its error as an HTML error page.
func (s *Server) h(fn handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		// Bad text in a path, a query or a form is a 422 naming the field,
		// before any handler reads it (the API's rules: web.CheckText).
		err := web.CheckParams(r)
		if err == nil {
			err = web.CheckForm(r)
		}
		if err == nil {
			err = fn(w, r)
		}
		if err != nil {
			s.renderError(w, r, err)
		}
	}
}

// errCrossOrigin is the refusal of a state-changing request from another
// site (or one that does not say where it comes from).
var errCrossOrigin = fmt.Errorf("this form was sent from another site, or without saying where from, and was refused; nothing was changed. Reload the page and try again: %w", derrors.Forbidden)

// errorPage is the model of templates/error.html.
type errorPage struct {
	Page
	Status  int
	Heading string
	Message string
	Fields  []derrors.FieldError
}

// renderError renders err as an error page, with the status of its kind.
// A request without a session is sent to sign in instead. Internal errors
// are logged with the request id and shown only as a generic message.
func (s *Server) renderError(w http.ResponseWriter, r *http.Request, err error) {
	status := derrors.Status(err)
	if status == http.StatusUnauthorized && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		http.Redirect(w, r, loginURL(r), http.StatusSeeOther)
		return
	}
	p := errorPage{Page: s.page(r, http.StatusText(status)), Status: status, Heading: http.StatusText(status)}
	var ve *derrors.ValidationError
	switch {
	case status == http.StatusInternalServerError:
		s.log.ErrorContext(r.Context(), "internal error", "err", err, "request_id", p.RequestID,
			"method", r.Method, "path", r.URL.Path)
		p.Heading = "Something went wrong"
		p.Message = "An internal error stopped this page. Nothing is lost; try again, and quote the request id if it keeps happening."
	case errors.As(err, &ve):
		p.Heading = "Please check the form"
		p.Message = "Some fields need fixing:"
		p.Fields = ve.Fields
	case status == http.StatusNotFound:
		p.Heading = "Not found"
		p.Message = web.PublicMessage(err)
	case status == http.StatusForbidden:
		p.Heading = "Not allowed"
		p.Message = web.PublicMessage(err)
	case status == http.StatusConflict:
		p.Heading = "Changed meanwhile"
		p.Message = web.PublicMessage(err)
	default:
		p.Message = web.PublicMessage(err)
	}
	if rerr := s.render(w, r, status, "error.html", p); rerr != nil {
		s.log.ErrorContext(r.Context(), "rendering error page", "err", rerr, "request_id", p.RequestID)
		http.Error(w, http.StatusText(status), status)
	}
}

// loginURL is the sign-in page, coming back to r's page afterwards.
func loginURL(r *http.Request) string {
	if r.URL.Path == "/" || r.URL.Path == "/login" {
		return "/login"
	}
	return "/login?next=" + url.QueryEscape(r.URL.RequestURI())
}

// render writes the page name (a file in templates/) inside the base
// layout with the given status. It renders to a buffer first, so a
// template error becomes an error page, not half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, data any) error {
	t, ok := s.pages[name]
	if !ok {
		return fmt.Errorf("review: no page template %q", name)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "base.html", data); err != nil {
		return fmt.Errorf("rendering %s: %w", name, err)
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if _, err := w.Write(buf.Bytes()); err != nil {
		s.log.DebugContext(r.Context(), "writing page", "err", err) // the client went away
	}
	return nil
}

// parseTemplates parses each page in templates/ with the base layout and
// the partials, once.
func (s *Server) parseTemplates() (map[string]*template.Template, error) {
	names, err := fs.Glob(files, "templates/*.html")
	if err != nil {
		return nil, err
	}
	partials, err := fs.Glob(files, "templates/partials/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		name := path.Base(n)
		if name == "base.html" {
			continue
		}
		t := template.New("base.html").Funcs(s.funcs())
		t, err := t.ParseFS(files, append(append([]string{"templates/base.html"}, partials...), n)...)
		if err != nil {
			return nil, fmt.Errorf("parsing template %s: %w", name, err)
		}
		if t.Lookup("content") == nil {
			return nil, fmt.Errorf("template %s defines no \"content\"", name)
		}
		pages[name] = t
	}
	return pages, nil
}

// funcs are the template functions every page may use.
func (s *Server) funcs() template.FuncMap {
	return template.FuncMap{
		// asset gives a static file's content-hashed URL: {{asset "app.css"}}.
		"asset": s.assetURL,
		// datetime formats t for a <time datetime> attribute.
		"datetime": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		// clock formats t for people: "2 Jan 15:04 UTC".
		"clock": func(t time.Time) string { return t.UTC().Format("2 Jan 15:04 MST") },
		// ago says how long before now t was: "3 min ago".
		"ago": func(t time.Time) string { return ago(s.now().Sub(t)) },
		// upper and join are the strings functions.
		"upper": strings.ToUpper,
		"join":  strings.Join,
	}
}

// ago renders how long before now a moment was, coarsely: "just now",
// "3 min ago", "5 h ago", "2 days ago"; a moment still to come is "in 3 min".
func ago(d time.Duration) string {
	if d < 0 {
		if -d < time.Minute {
			return "in under a minute"
		}
		return "in " + span(-d)
	}
	if d < time.Minute {
		return "just now"
	}
	return span(d) + " ago"
}

// span renders a duration of a minute or more in its largest whole unit.
func span(d time.Duration) string {
	switch {
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h", int(d.Hours()))
	default:
		return fmt.Sprintf("%d days", int(d.Hours()/24))
	}
}

// pageHeaders sets the security headers of every page: no inline script or
// style (the CSP), no framing, no sniffing, no referrer to other sites.
func (s *Server) pageHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
			"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

// refuseCrossOrigin refuses state-changing requests from other origins
// (Go's CrossOriginProtection: Sec-Fetch-Site, else Origin against Host),
// and, beyond it, those that carry neither header: every browser sends one
// with a form, so such a request is not a person's.
func (s *Server) refuseCrossOrigin(next http.Handler) http.Handler {
	checked := s.origin.Handler(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
		default:
			if r.Header.Get("Sec-Fetch-Site") == "" && r.Header.Get("Origin") == "" {
				s.renderError(w, r, errCrossOrigin)
				return
			}
		}
		checked.ServeHTTP(w, r)
	})
}

// requestID is the request's id, for error pages and logs.
func requestID(r *http.Request) string { return middleware.GetReqID(r.Context()) }
