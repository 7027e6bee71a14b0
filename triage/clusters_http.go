package triage

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/omnitriage/omnitriage/internal/auth"
	"github.com/omnitriage/omnitriage/internal/derrors"
	"github.com/omnitriage/omnitriage/internal/web"
)

// ClusterHandlers serves the clusters' /v1 API to process engineers.
type ClusterHandlers struct {
	c       *Clusterer
	errs    web.Errors
	guard   auth.Middleware
	maxBody int64
}

// NewClusterHandlers returns the cluster API over c.
func NewClusterHandlers(c *Clusterer, errs web.Errors, guard auth.Middleware, maxBody int64) *ClusterHandlers {
	return &ClusterHandlers{c: c, errs: errs, guard: guard, maxBody: maxBody}
}

// Register mounts the cluster routes on r (the /v1 router): engineers
// (and admins) read and change clusters.
func (h *ClusterHandlers) Register(r chi.Router) {
	e := h.errs.H
	engineers := h.guard.Require(auth.Engineer)
	r.With(engineers).Get("/clusters", e(h.handleListClusters))
	r.With(engineers).Get("/clusters/{id}", e(h.handleGetCluster))
	r.With(engineers).Patch("/clusters/{id}", e(h.handlePatchCluster))
}

// ClusterFilterFromQuery reads a ClusterFilter from URL query values,
// naming bad values: period, kind, status, owner, recurring, limit, offset.
func ClusterFilterFromQuery(q map[string][]string) (ClusterFilter, error) {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	v := &derrors.ValidationError{}
	f := ClusterFilter{Period: get("period"), Kind: get("kind"), Status: get("status"), Owner: get("owner")}
	switch get("recurring") {
	case "", "0", "false":
	case "1", "true":
		f.Recurring = true
	default:
		v.Add("recurring", "want true or false")
	}
	for _, p := range []struct {
		name string
		dst  *int
	}{{"limit", &f.Limit}, {"offset", &f.Offset}} {
		if s := get(p.name); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 || p.name == "limit" && n == 0 {
				v.Add(p.name, "want a whole number")
				continue
			}
			*p.dst = n
		}
	}
	if err := v.Err(); err != nil {
		return f, err
	}
	return f, f.Validate()
}

func (h *ClusterHandlers) handleListClusters(w http.ResponseWriter, r *http.Request) error {
	f, err := ClusterFilterFromQuery(r.URL.Query())
	if err != nil {
		return err
	}
	items, next, err := h.c.ListClusters(r.Context(), f)
	if err != nil {
		return err
	}
	if items == nil {
		items = []Cluster{}
	}
	body := map[string]any{"clusters": items, "next": nil}
	if next > 0 {
		body["next"] = next
	}
	return web.JSON(w, http.StatusOK, body)
}

// ClusterID reads the {id} path parameter; a value that is no cluster id
// is not found.
func ClusterID(r *http.Request) (int64, error) {
	s := chi.URLParam(r, "id")
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("no cluster %q: %w", s, derrors.NotFound)
	}
	return id, nil
}

func (h *ClusterHandlers) handleGetCluster(w http.ResponseWriter, r *http.Request) error {
	id, err := ClusterID(r)
	if err != nil {
		return err
	}
	d, err := h.c.GetCluster(r.Context(), id, r.URL.Query().Get("period"))
	if err != nil {
		return err
	}
	return web.JSON(w, http.StatusOK, d)
}

func (h *ClusterHandlers) handlePatchCluster(w http.ResponseWriter, r *http.Request) error {
	id, err := ClusterID(r)
	if err != nil {
		return err
	}
	var u ClusterUpdate
	if err := web.Decode(r, h.maxBody, &u); err != nil {
		return err
	}
	if u.Status == nil && u.FixedAt == nil && u.Owner == nil && u.Notes == nil {
		v := &derrors.ValidationError{}
		v.Add("(body)", "nothing to change: give status, fixed_at, owner or notes")
		return v
	}
	d, err := h.c.UpdateCluster(r.Context(), id, u, auth.Actor(r.Context()))
	if err != nil {
		return err
	}
	return web.JSON(w, http.StatusOK, d)
}
