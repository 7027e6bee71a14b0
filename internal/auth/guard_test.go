package auth_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/omnitriage/omnitriage/internal/auth"
)

// fixedAuth admits every secret as the principal p.
type fixedAuth struct{ p auth.Principal }

func (f fixedAuth) Authenticate(context.Context, string) (auth.Principal, error) { return f.p, nil }

func TestRequireNamesEachAllowedRoleOnce(t *testing.T) {
	tests := []struct {
		roles []auth.Role
		want  string
	}{
		{[]auth.Role{auth.Admin}, "(allowed: admin)"},
		{[]auth.Role{auth.Support, auth.Engineer}, "(allowed: support, engineer, admin)"},
		{[]auth.Role{auth.Support, auth.Admin, auth.Support}, "(allowed: support, admin)"},
	}
	for _, tt := range tests {
		var msg string
		m := auth.Middleware{Auth: fixedAuth{auth.Principal{Role: auth.Orchestrator}},
			Render: func(w http.ResponseWriter, r *http.Request, err error) { msg = err.Error(); w.WriteHeader(403) }}
		h := m.Require(tt.roles...)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header.Set("Authorization", "Bearer x")
		h.ServeHTTP(httptest.NewRecorder(), req)
		if want := "role orchestrator may not do this " + tt.want + ": forbidden"; msg != want {
			t.Errorf("Require(%v) refusal = %q, want %q", tt.roles, msg, want)
		}
	}
}
