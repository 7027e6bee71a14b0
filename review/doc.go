// Package review is the people's side of omnitriage: the web pages support
// staff and process engineers use (the review queue, the case page, and
// later the cluster pages and the process dashboard), sign-in, sessions,
// and the people who may sign in.
//
// It decides nothing itself: pages read through triage and orchestration
// and act through their methods (a decision goes through triage's Decide).
// Imports flow one way, review → triage → orchestration; neither of them
// imports review.
//
// # The shell
//
// New parses every template under templates/ once, each page file with
// base.html and templates/partials/*.html, and hashes every file under
// static/. Routes mounts /login, /logout, /static/* and each page family's
// routes, which a page family registers in one function of its own file
// (registerQueueRoutes in queue.go, registerAdminRoutes in admin.go, …)
// called from Routes.
//
// A handler returns an error, and s.h adapts it, rendering an HTML error
// page by the error's derrors kind: 404, 403, 409 and 422 show the
// message of the error that carries the kind (and the fields of a
// derrors.ValidationError); anything else is a 500 page with the request
// id, the error logged. An Unauthorized error on a GET sends the person
// to sign in and back.
//
// A page is rendered with s.render(w, r, status, "name.html", data): the
// layout templates/base.html around the page's {{define "content"}}. The
// page's model embeds Page, filled by s.page(r, title): Title, User (nil
// when signed out), Flash (a one-time message, set with s.flash), Nav (the
// header's links for the user's role), Assets (extra static files by
// logical name; .js and .css are added to the head), RequestID and Path.
//
// Templates call {{asset "app.css"}} for a static file's content-hashed
// URL (/static/app.3f2a1c9d.css, cached for a year, immutable); an unknown
// name fails the render. Other functions: datetime, clock, ago, upper, join.
//
// Pages are served with a strict Content-Security-Policy: scripts and
// styles only from /static (no inline <script>, no style="" attributes,
// no CDN). Vendored libraries go under static/vendor/NAME/ with their
// LICENSE and version.
//
// # Keyboard shortcuts
//
// static/app.js gives "?" (a list of the page's shortcuts) and Esc. A page
// adds a key by marking an element data-shortcut="a" (with
// data-shortcut-label), which is clicked on that key, or by calling
// omnitriage.shortcut(key, label, fn) from its own script.
//
// # People and sessions
//
// Users (table users) have an email, a role (support, engineer, admin;
// admin may do everything) and an argon2id password hash; they are made
// and managed with `omnitriage user`. Sessions live in PostgreSQL (table
// sessions) through github.com/alexedwards/scs/v2 and its pgx store: the
// cookie is HttpOnly, SameSite=Lax, Secure when Config.Secure, and ends
// with the browser; a session ends after Config.SessionIdle unused or
// Config.SessionLifetime after sign-in; the token is renewed at sign-in and
// the session destroyed at sign-out. Every request looks its user up by id,
// so a disabled user, or a session older than the user's last password
// reset, stops working at once.
//
// requireRole(roles...) guards a route; UserFrom(ctx) gives the signed-in
// user, whose Actor() names them in audit records.
//
// Failed sign-ins are counted in PostgreSQL (table login_failures) per
// account and per address over a sliding window (LoginLimits): across
// restarts and replicas. A limited account or address is refused even
// with the right password until the window passes.
//
// Every state-changing request goes through Go's
// http.CrossOriginProtection (Sec-Fetch-Site, else Origin against Host; the
// BASE_URL origin is trusted), and one that carries neither header is
// refused too. Forms therefore need no token. Tests that POST with a plain
// http.Client set an Origin header (reviewtest.Client does).
package review
