package orchestration

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/omnitriage/omnitriage/internal/derrors"
	"github.com/omnitriage/omnitriage/internal/web"
)

// The catalog routes (registered in Register): channels, locations and SKUs.
// Reads are open to every role; writes are an admin's. A POST upserts by code
// and answers with the stored object: 201 when the code was new, 200 when an
// existing one was replaced.

// Page sizes of GET /v1/skus.
const (
	defaultSKUPage = 100
	maxSKUPage     = 1000
)

// skuPage is one page of GET /v1/skus. Next is the cursor to pass as `after`
// for the following page; null when this page is the last.
type skuPage struct {
	SKUs []SKU   `json:"skus"`
	Next *string `json:"next"`
}

func (h *Handlers) handleListChannels(w http.ResponseWriter, r *http.Request) error {
	cs, err := h.svc.ListChannels(r.Context())
	if err != nil {
		return err
	}
	return web.JSON(w, http.StatusOK, map[string]any{"channels": nonNil(cs)})
}

func (h *Handlers) handlePutChannel(w http.ResponseWriter, r *http.Request) error {
	c := Channel{Active: true} // an omitted "active" means active
	if err := web.Decode(r, h.maxBody, &c); err != nil {
		return err
	}
	c.ID = 0
	if err := c.Validate(); err != nil {
		return err
	}
	existing, err := h.svc.ListChannels(r.Context())
	if err != nil {
		return err
	}
	created := true
	for _, e := range existing {
		if e.Code == c.Code {
			created = false
		}
	}
	out, err := h.svc.CreateChannel(r.Context(), c)
	if err != nil {
		return err
	}
	return web.JSON(w, upsertStatus(w, created, ""), out) // channels have no GET by code
}

func (h *Handlers) handleListLocations(w http.ResponseWriter, r *http.Request) error {
	ls, err := h.svc.ListLocations(r.Context())
	if err != nil {
		return err
	}
	return web.JSON(w, http.StatusOK, map[string]any{"locations": nonNil(ls)})
}

func (h *Handlers) handleGetLocation(w http.ResponseWriter, r *http.Request) error {
	l, err := h.svc.GetLocation(r.Context(), chi.URLParam(r, "code"))
	if err != nil {
		return err
	}
	return web.JSON(w, http.StatusOK, l)
}

func (h *Handlers) handlePutLocation(w http.ResponseWriter, r *http.Request) error {
	l := Location{Active: true}
	if err := web.Decode(r, h.maxBody, &l); err != nil {
		return err
	}
	l.ID = 0
	if err := l.Validate(); err != nil {
		return err
	}
	created, err := isNew(h.svc.GetLocation(r.Context(), l.Code))
	if err != nil {
		return err
	}
	out, err := h.svc.CreateLocation(r.Context(), l)
	if err != nil {
		return err
	}
	return web.JSON(w, upsertStatus(w, created, "/v1/locations/"+url.PathEscape(out.Code)), out)
}

func (h *Handlers) handleListSKUs(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	after := q.Get("after")
	limit := defaultSKUPage
	v := &derrors.ValidationError{}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxSKUPage {
			v.Add("limit", "want a whole number from 1 to %d", maxSKUPage)
		}
		limit = n
	}
	if len(after) > 64 {
		v.Add("after", "want a SKU code (the previous page's next), at most 64 bytes")
	}
	if err := v.Err(); err != nil {
		return err
	}
	skus, err := h.svc.ListSKUs(r.Context(), after, limit)
	if err != nil {
		return err
	}
	page := skuPage{SKUs: nonNil(skus)}
	if len(skus) == limit {
		next := skus[len(skus)-1].Code
		page.Next = &next
	}
	return web.JSON(w, http.StatusOK, page)
}

func (h *Handlers) handleGetSKU(w http.ResponseWriter, r *http.Request) error {
	k, err := h.svc.GetSKU(r.Context(), chi.URLParam(r, "code"))
	if err != nil {
		return err
	}
	return web.JSON(w, http.StatusOK, k)
}

func (h *Handlers) handlePutSKU(w http.ResponseWriter, r *http.Request) error {
	k := SKU{Active: true}
	if err := web.Decode(r, h.maxBody, &k); err != nil {
		return err
	}
	k.ID = 0
	if k.Substitutes == nil {
		k.Substitutes = []string{}
	}
	if err := k.Validate(); err != nil {
		return err
	}
	created, err := isNew(h.svc.GetSKU(r.Context(), k.Code))
	if err != nil {
		return err
	}
	out, err := h.svc.CreateSKU(r.Context(), k)
	if err != nil {
		return err
	}
	return web.JSON(w, upsertStatus(w, created, "/v1/skus/"+url.PathEscape(out.Code)), out)
}

// isNew reports whether a lookup by code found nothing. The answer only picks
// between 201 and 200: two admins creating the same code at once both get 201
// and the later write wins, which is what an upsert promises anyway.
func isNew[T any](_ T, err error) (bool, error) {
	switch {
	case err == nil:
		return false, nil
	case errors.Is(err, derrors.NotFound):
		return true, nil
	default:
		return false, err
	}
}

// upsertStatus returns the status to answer an upsert with, and sets Location
// (when given) for a created resource.
func upsertStatus(w http.ResponseWriter, created bool, location string) int {
	if !created {
		return http.StatusOK
	}
	if location != "" {
		w.Header().Set("Location", location)
	}
	return http.StatusCreated
}

// nonNil makes an empty list encode as [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
