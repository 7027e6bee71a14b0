package review

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/omnitriage/omnitriage/internal/database/dbtest"
	"github.com/omnitriage/omnitriage/internal/derrors"
)

// TestErrorPages renders each error kind a handler can return.
func TestErrorPages(t *testing.T) {
	t.Parallel()
	s, err := New(context.Background(), Config{Pool: dbtest.NewPool(t)})
	if err != nil {
		t.Fatal(err)
	}
	ve := &derrors.ValidationError{}
	ve.Add("amount", "at most 25.00 for a silver customer")
	for _, tc := range []struct {
		name   string
		err    error
		status int
		want   []string
		absent []string
	}{
		{"not found", fmt.Errorf("triage.GetCase(42): %w", fmt.Errorf("no case 42: %w", derrors.NotFound)), 404,
			[]string{"Not found", "no case 42"}, []string{"triage.GetCase"}},
		{"forbidden", fmt.Errorf("only engineers may bulk-approve: %w", derrors.Forbidden), 403,
			[]string{"Not allowed", "only engineers may bulk-approve"}, nil},
		{"conflict", fmt.Errorf("already decided by ana@example.com at 09:12: %w", derrors.Conflict), 409,
			[]string{"Changed meanwhile", "already decided by ana@example.com at 09:12"}, nil},
		{"invalid", fmt.Errorf("decide: %w", ve), 422,
			[]string{"Please check the form", "<code>amount</code>: at most 25.00 for a silver customer"}, nil},
		{"internal", errors.New("pq: connection reset by peer <b>"), 500,
			[]string{"Something went wrong", "Request id <code>"}, []string{"connection reset", "<b>"}},
	} {
		r := chi.NewRouter()
		r.Use(middleware.RequestID)
		r.Get("/x", s.h(func(w http.ResponseWriter, r *http.Request) error { return tc.err }))
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/x", nil))
		body := rec.Body.String()
		if rec.Code != tc.status || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
			t.Errorf("%s: status %d (%s), want %d html", tc.name, rec.Code, rec.Header().Get("Content-Type"), tc.status)
		}
		for _, w := range tc.want {
			if !strings.Contains(body, w) {
				t.Errorf("%s: the page lacks %q:\n%s", tc.name, w, body)
			}
		}
		for _, a := range tc.absent {
			if strings.Contains(body, a) {
				t.Errorf("%s: the page shows %q", tc.name, a)
			}
		}
	}
}
