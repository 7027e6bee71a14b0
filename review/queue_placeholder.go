package review

import (
	"net/http"

	"github.com/go-chi/chi/v5"
)

// This file holds the shell's stand-in for the queue page; the queue page
// (queue.go) replaces it, with registerQueueRoutes.

func (s *Server) registerQueueRoutes(r chi.Router) {
	r.With(s.requireRole(Support, Engineer)).Get("/review", s.h(s.handleQueuePlaceholder))
}

func (s *Server) handleQueuePlaceholder(w http.ResponseWriter, r *http.Request) error {
	return s.render(w, r, http.StatusOK, "placeholder.html", struct{ Page }{s.page(r, "Review queue")})
}
