package review

import (
	"net/http"

	"github.com/go-chi/chi/v5"
)

func (s *Server) registerAdminRoutes(r chi.Router) {
	r.With(s.requireRole(Admin)).Get("/admin/users", s.h(s.handleUsers))
}

// usersPage is the model of templates/users.html.
type usersPage struct {
	Page
	Users []User
}

// handleUsers lists the people who may sign in (admin only). People are
// created and disabled with `omnitriage user`.
func (s *Server) handleUsers(w http.ResponseWriter, r *http.Request) error {
	users, err := s.people.List(r.Context())
	if err != nil {
		return err
	}
	return s.render(w, r, http.StatusOK, "users.html", usersPage{Page: s.page(r, "People"), Users: users})
}
