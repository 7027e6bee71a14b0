package review

import (
	"net/http"
	"strings"
)

// Page is what the base layout needs; every page's model embeds it, and a
// handler fills it with s.page(r, title).
type Page struct {
	// Title is the page's name, shown in the tab and as its heading.
	Title string
	// User is who is signed in; nil on the sign-in page.
	User *User
	// Flash is a one-time message from the previous request ("Signed out").
	Flash string
	// Nav is the header's navigation, for the user's role.
	Nav []NavItem
	// Assets are extra static files the page loads (logical names such as
	// "case.js" or "charts.css"), after app.css and app.js.
	Assets []string
	// RequestID identifies the request in logs; error pages show it.
	RequestID string
	// Path is the request's path, for the current nav item and return links.
	Path string
}

// NavItem is one link of the header's navigation.
type NavItem struct {
	Label, Href string
	Current     bool
}

// Scripts and Styles split Assets by kind, for the layout.
func (p Page) Scripts() []string { return filterExt(p.Assets, ".js") }

// Styles lists the page's extra stylesheets.
func (p Page) Styles() []string { return filterExt(p.Assets, ".css") }

func filterExt(names []string, ext string) []string {
	var out []string
	for _, n := range names {
		if strings.HasSuffix(n, ext) {
			out = append(out, n)
		}
	}
	return out
}

// page returns the common page model for r: the user, their navigation,
// and the flash message (taken, so it shows once).
func (s *Server) page(r *http.Request, title string) Page {
	p := Page{Title: title, RequestID: requestID(r), Path: r.URL.Path}
	if u, ok := UserFrom(r.Context()); ok {
		p.User = &u
		p.Nav = nav(u, r.URL.Path)
	}
	if hasSession(r.Context()) {
		p.Flash = s.sessions.PopString(r.Context(), sessionFlash)
	}
	return p
}

// flash leaves a message for the next page the user sees.
func (s *Server) flash(r *http.Request, msg string) {
	if hasSession(r.Context()) {
		s.sessions.Put(r.Context(), sessionFlash, msg)
	}
}

// navItems is the header's navigation, in order, with the roles that see
// each entry (admin sees all). A page family adds its entry here.
var navItems = []struct {
	NavItem
	roles []Role
}{
	{NavItem{Label: "Queue", Href: "/review"}, []Role{Support, Engineer}},
	// The cluster pages (/clusters) and the process dashboard (/dashboard),
	// for engineers, are added here with their pages.
	{NavItem{Label: "Clusters", Href: "/clusters"}, []Role{Engineer}},
	{NavItem{Label: "Dashboard", Href: "/dashboard"}, []Role{Engineer}},
	{NavItem{Label: "People", Href: "/admin/users"}, nil},
}

// nav returns the entries u may see, marking the one path is under.
func nav(u User, path string) []NavItem {
	var out []NavItem
	for _, it := range navItems {
		if !u.Can(it.roles...) {
			continue
		}
		n := it.NavItem
		n.Current = path == n.Href || strings.HasPrefix(path, n.Href+"/")
		out = append(out, n)
	}
	return out
}
