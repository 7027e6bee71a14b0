package triage

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/omnitriage/omnitriage/internal/auth"
	"github.com/omnitriage/omnitriage/internal/derrors"
	"github.com/omnitriage/omnitriage/internal/idempotency"
	"github.com/omnitriage/omnitriage/internal/web"
	"github.com/omnitriage/omnitriage/orchestration"
)

// Handlers serves triage's /v1 API.
type Handlers struct {
	svc     *Service
	errs    web.Errors
	guard   auth.Middleware
	maxBody int64
}

// NewHandlers returns the API handlers over svc.
func NewHandlers(svc *Service, errs web.Errors, guard auth.Middleware, maxBody int64) *Handlers {
	return &Handlers{svc: svc, errs: errs, guard: guard, maxBody: maxBody}
}

// Register mounts every triage route on r (the /v1 router), each with the
// roles it allows. Admin may always.
func (h *Handlers) Register(r chi.Router) {
	e := h.errs.H
	machine := h.guard.Require(auth.Orchestrator)
	readers := h.guard.Require(auth.Orchestrator, auth.Support, auth.Engineer)
	staff := h.guard.Require(auth.Support, auth.Engineer)

	r.With(machine).Post("/exceptions", e(h.handleReportException))
	r.With(readers).Get("/exceptions", e(h.handleListExceptions))
	r.With(machine).Post("/recommendations", e(h.handleRecommend))
	r.With(staff).Get("/cases", e(h.handleListCases))
	r.With(staff).Get("/cases/{id}", e(h.handleGetCase))
	r.With(staff).Post("/cases/{id}/decision", e(h.handleDecide))
	r.With(h.guard.Require(auth.Engineer)).Get("/alerts", e(h.handleListAlerts)) // SLA alerts; admins pass every guard
}

func (h *Handlers) handleReportException(w http.ResponseWriter, r *http.Request) error {
	body, err := web.ReadBody(r, h.maxBody)
	if err != nil {
		return err
	}
	var req ExceptionRequest
	flat, err := decodeExceptionRequest(body, &req, true)
	if err != nil {
		return err
	}
	v := &derrors.ValidationError{}
	if req.validate(v, flat); v.Err() != nil {
		return v.Err()
	}
	res, err := h.svc.Report(r.Context(), auth.Actor(r.Context()), req.Exception, req.Context)
	if err != nil {
		return err
	}
	status := http.StatusCreated
	if !res.Created {
		status = http.StatusOK // reported before under this id
	}
	w.Header().Set("Location", "/v1/cases/"+res.Case.ID.String())
	return web.JSON(w, status, res)
}

// listQuery reads limit and after, naming bad values.
func listQuery(r *http.Request, v *derrors.ValidationError) (limit int, after *uuid.UUID) {
	q := r.URL.Query()
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 500 {
			v.Add("limit", "want a whole number from 1 to 500")
		}
		limit = n
	}
	if s := q.Get("after"); s != "" {
		id, err := uuid.Parse(s)
		if err != nil {
			v.Add("after", "want the id of the last item of the previous page")
		}
		after = &id
	}
	return limit, after
}

// unembed drops the embedded struct's name that encoding/json puts in
// front of a field of an embedded struct ("Exception.line_ids").
func unembed(err error, prefix string) error {
	var ve *derrors.ValidationError
	if errors.As(err, &ve) {
		for i := range ve.Fields {
			ve.Fields[i].Field = strings.TrimPrefix(ve.Fields[i].Field, prefix)
		}
	}
	return err
}

func (h *Handlers) handleListExceptions(w http.ResponseWriter, r *http.Request) error {
	v := &derrors.ValidationError{}
	q := r.URL.Query()
	f := ExceptionFilter{Kind: q.Get("kind"), Status: q.Get("status")}
	f.Limit, f.After = listQuery(r, v)
	if f.Kind != "" && !slices.Contains(orchestration.ExceptionKinds(), f.Kind) {
		v.Add("kind", "want one of %s", strings.Join(orchestration.ExceptionKinds(), ", "))
	}
	if f.Status != "" && !slices.Contains([]string{"open", "triaged", "resolved", "dismissed"}, f.Status) {
		v.Add("status", "want open, triaged, resolved or dismissed")
	}
	if s := q.Get("order_id"); s != "" {
		id, err := uuid.Parse(s)
		if err != nil {
			v.Add("order_id", "want an order id")
		}
		f.OrderID = &id
	}
	if err := v.Err(); err != nil {
		return err
	}
	items, next, err := h.svc.ListExceptions(r.Context(), f)
	if err != nil {
		return err
	}
	if items == nil {
		items = []ExceptionItem{}
	}
	return web.JSON(w, http.StatusOK, map[string]any{"exceptions": items, "next": next})
}

func (h *Handlers) handleRecommend(w http.ResponseWriter, r *http.Request) error {
	body, err := web.ReadBody(r, h.maxBody)
	if err != nil {
		return err
	}
	var req RecommendRequest
	if _, err := decodeExceptionRequest(body, &req, false); err != nil {
		return err
	}
	idem, err := idempotency.FromRequest(r, body)
	if err != nil {
		return err
	}
	res, err := h.svc.Recommend(r.Context(), auth.Actor(r.Context()), idem, req)
	if err != nil {
		return err
	}
	if res.Replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(append(res.Response, '\n'))
	return err
}

func (h *Handlers) handleListCases(w http.ResponseWriter, r *http.Request) error {
	v := &derrors.ValidationError{}
	f := CaseFilter{Status: r.URL.Query().Get("status")}
	f.Limit, f.After = listQuery(r, v)
	if f.Status != "" && !slices.Contains(CaseStatuses(), f.Status) {
		v.Add("status", "want one of %s", strings.Join(CaseStatuses(), ", "))
	}
	if err := v.Err(); err != nil {
		return err
	}
	cases, next, err := h.svc.ListCases(r.Context(), f)
	if err != nil {
		return err
	}
	if cases == nil {
		cases = []Case{}
	}
	return web.JSON(w, http.StatusOK, map[string]any{"cases": cases, "next": next})
}

func (h *Handlers) handleGetCase(w http.ResponseWriter, r *http.Request) error {
	id, err := web.PathUUID(r, "id")
	if err != nil {
		return err
	}
	c, err := h.svc.GetCase(r.Context(), id)
	if err != nil {
		return err
	}
	return web.JSON(w, http.StatusOK, c)
}

func (h *Handlers) handleDecide(w http.ResponseWriter, r *http.Request) error {
	id, err := web.PathUUID(r, "id")
	if err != nil {
		return err
	}
	var req DecisionRequest
	if err := web.Decode(r, h.maxBody, &req); err != nil {
		return err
	}
	res, err := h.svc.Decide(r.Context(), id, auth.Actor(r.Context()), req)
	if err != nil {
		return err
	}
	if res.Replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	return web.JSON(w, http.StatusOK, res.Case)
}
