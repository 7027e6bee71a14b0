package orchestration

import (
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/omnitriage/omnitriage/internal/auth"
	"github.com/omnitriage/omnitriage/internal/derrors"
	"github.com/omnitriage/omnitriage/internal/idempotency"
	"github.com/omnitriage/omnitriage/internal/web"
	"github.com/omnitriage/omnitriage/orchestration/adapter"
)

// Handlers serves the orchestration core's /v1 API.
type Handlers struct {
	svc     *Service
	errs    web.Errors
	guard   auth.Middleware
	maxBody int64
	// CarrierSecret, when set, is the HMAC secret carriers sign tracking
	// callbacks with; unsigned or badly signed callbacks are refused.
	CarrierSecret []byte
}

// NewHandlers returns the API handlers over svc.
func NewHandlers(svc *Service, errs web.Errors, guard auth.Middleware, maxBody int64) *Handlers {
	return &Handlers{svc: svc, errs: errs, guard: guard, maxBody: maxBody}
}

// Register mounts every orchestration route on r (the /v1 router), each with
// the roles it allows. Admin may always.
func (h *Handlers) Register(r chi.Router) {
	e := h.errs.H
	machine := h.guard.Require(auth.Orchestrator)
	readers := h.guard.Require(auth.Orchestrator, auth.Support, auth.Engineer)
	admin := h.guard.Require(auth.Admin)

	r.With(machine).Post("/orders", e(h.handleCaptureOrder))
	r.With(readers).Get("/orders/{id}", e(h.handleGetOrder))
	r.With(readers).Get("/orders/{id}/sourcing", e(h.handleGetSourcing))
	r.With(machine).Post("/orders/{id}/cancel", e(h.handleCancelOrder))
	r.With(h.guard.Require(auth.Orchestrator, auth.Support)).Post("/orders/{id}/collected", e(h.handleCollectOrder))
	r.With(machine).Patch("/orders/{id}", e(h.handleEditOrder))
	r.With(readers).Get("/orders/{id}/timeline", e(h.handleGetTimeline))
	r.With(h.guard.Require(auth.Orchestrator, auth.Support)).Post("/orders/{id}/commands", e(h.handleApplyCommand))
	r.With(readers).Get("/shipments/{id}", e(h.handleGetShipment))
	r.With(machine).Post("/shipments/{id}/events", e(h.handleShipmentEvents))

	returners := h.guard.Require(auth.Orchestrator, auth.Support)
	r.With(returners).Post("/orders/{id}/returns", e(h.handleRequestReturn))
	r.With(readers).Get("/orders/{id}/returns", e(h.handleListReturns))
	r.With(readers).Get("/returns/{id}", e(h.handleGetReturn))
	r.With(returners).Post("/returns/{id}/receive", e(h.handleReceiveReturn))
	r.With(h.guard.Require(auth.Support)).Post("/returns/{id}/approve", e(h.handleApproveRefund))
	r.With(h.guard.Require(auth.Support, auth.Engineer)).Get("/refunds/mismatches", e(h.handleRefundMismatches))
	r.With(h.guard.Require(auth.Engineer)).Get("/metrics/process", e(h.handleProcessMetrics))

	r.With(machine).Post("/inventory/adjustments", e(h.handleAdjustInventory))
	r.With(readers).Get("/stock", e(h.handleGetStock))
	r.With(machine).Post("/reservations", e(h.handleCreateHold))
	r.With(machine).Delete("/reservations/{id}", e(h.handleReleaseHold))

	r.With(readers).Get("/channels", e(h.handleListChannels))
	r.With(admin).Post("/channels", e(h.handlePutChannel))
	r.With(readers).Get("/locations", e(h.handleListLocations))
	r.With(readers).Get("/locations/{code}", e(h.handleGetLocation))
	r.With(admin).Post("/locations", e(h.handlePutLocation))
	r.With(readers).Get("/skus", e(h.handleListSKUs))
	r.With(readers).Get("/skus/{code}", e(h.handleGetSKU))
	r.With(admin).Post("/skus", e(h.handlePutSKU))
}

func (h *Handlers) handleCaptureOrder(w http.ResponseWriter, r *http.Request) error {
	body, err := web.ReadBody(r, h.maxBody)
	if err != nil {
		return err
	}
	var req CaptureRequest
	if err := web.DecodeBytes(body, &req); err != nil {
		return err
	}
	idem, err := idempotency.FromRequest(r, body)
	if err != nil {
		return err
	}
	res, err := h.svc.Capture(r.Context(), auth.Actor(r.Context()), idem, req)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/orders/"+res.Order.ID.String())
	if res.Replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	if res.Response != nil {
		// The bytes stored for the idempotency key, so a replay is identical.
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(res.Status)
		_, err := w.Write(append(res.Response, '\n'))
		return err
	}
	status := http.StatusCreated
	if !res.Created {
		status = http.StatusOK // the channel sent this order before
	}
	return web.JSON(w, status, res.Order)
}

func (h *Handlers) handleGetOrder(w http.ResponseWriter, r *http.Request) error {
	id, err := web.PathUUID(r, "id")
	if err != nil {
		return err
	}
	o, err := h.svc.GetOrder(r.Context(), id)
	if err != nil {
		return err
	}
	return web.JSON(w, http.StatusOK, o)
}

func (h *Handlers) handleGetSourcing(w http.ResponseWriter, r *http.Request) error {
	id, err := web.PathUUID(r, "id")
	if err != nil {
		return err
	}
	plans, err := h.svc.SourcingPlans(r.Context(), id)
	if err != nil {
		return err
	}
	return web.JSON(w, http.StatusOK, map[string]any{"order_id": id, "plans": plans})
}

func (h *Handlers) handleCancelOrder(w http.ResponseWriter, r *http.Request) error {
	id, err := web.PathUUID(r, "id")
	if err != nil {
		return err
	}
	var req CancelRequest
	if err := web.Decode(r, h.maxBody, &req); err != nil {
		return err
	}
	o, err := h.svc.Cancel(r.Context(), auth.Actor(r.Context()), id, req)
	if err != nil {
		return err
	}
	return web.JSON(w, http.StatusOK, o)
}

// handleCollectOrder records that the customer collected a pickup order. A
// repeat answers the collected order again, marked as a replay.
func (h *Handlers) handleCollectOrder(w http.ResponseWriter, r *http.Request) error {
	id, err := web.PathUUID(r, "id")
	if err != nil {
		return err
	}
	res, err := h.svc.Collect(r.Context(), auth.Actor(r.Context()), id)
	if err != nil {
		return err
	}
	if res.Already {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	return web.JSON(w, http.StatusOK, res.Order)
}

func (h *Handlers) handleEditOrder(w http.ResponseWriter, r *http.Request) error {
	id, err := web.PathUUID(r, "id")
	if err != nil {
		return err
	}
	var req EditRequest
	if err := web.Decode(r, h.maxBody, &req); err != nil {
		return err
	}
	o, err := h.svc.Edit(r.Context(), auth.Actor(r.Context()), id, req)
	if err != nil {
		return err
	}
	return web.JSON(w, http.StatusOK, o)
}

func (h *Handlers) handleAdjustInventory(w http.ResponseWriter, r *http.Request) error {
	var b AdjustmentBatch
	if err := web.Decode(r, h.maxBody, &b); err != nil {
		return err
	}
	res, err := h.svc.AdjustInventory(r.Context(), auth.Actor(r.Context()), b)
	if err != nil {
		return err
	}
	return web.JSON(w, http.StatusOK, res)
}

func (h *Handlers) handleGetStock(w http.ResponseWriter, r *http.Request) error {
	st, err := h.svc.StockOf(r.Context(), r.URL.Query().Get("sku"), r.URL.Query().Get("location"))
	if err != nil {
		return err
	}
	return web.JSON(w, http.StatusOK, map[string]any{"stock": st})
}

func (h *Handlers) handleCreateHold(w http.ResponseWriter, r *http.Request) error {
	var req HoldRequest
	if err := web.Decode(r, h.maxBody, &req); err != nil {
		return err
	}
	hold, err := h.svc.Hold(r.Context(), auth.Actor(r.Context()), req)
	if err != nil {
		return err
	}
	return web.JSON(w, http.StatusCreated, hold)
}

func (h *Handlers) handleReleaseHold(w http.ResponseWriter, r *http.Request) error {
	id, err := web.PathUUID(r, "id")
	if err != nil {
		return err
	}
	if err := h.svc.ReleaseHold(r.Context(), auth.Actor(r.Context()), id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handlers) handleGetTimeline(w http.ResponseWriter, r *http.Request) error {
	id, err := web.PathUUID(r, "id")
	if err != nil {
		return err
	}
	t, err := h.svc.OrderTimeline(r.Context(), id)
	if err != nil {
		return err
	}
	return web.JSON(w, http.StatusOK, t)
}

func (h *Handlers) handleApplyCommand(w http.ResponseWriter, r *http.Request) error {
	id, err := web.PathUUID(r, "id")
	if err != nil {
		return err
	}
	var cmd Command
	if err := web.Decode(r, h.maxBody, &cmd); err != nil {
		return err
	}
	if cmd.OrderID == uuid.Nil {
		cmd.OrderID = id
	}
	if cmd.OrderID != id {
		ve := &derrors.ValidationError{}
		ve.Add("order_id", "does not match the order in the path")
		return ve
	}
	res, err := h.svc.Apply(r.Context(), auth.Actor(r.Context()), cmd)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if res.Replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	return web.JSON(w, status, res)
}

func (h *Handlers) handleGetShipment(w http.ResponseWriter, r *http.Request) error {
	id, err := web.PathUUID(r, "id")
	if err != nil {
		return err
	}
	sh, err := h.svc.GetShipment(r.Context(), id)
	if err != nil {
		return err
	}
	return web.JSON(w, http.StatusOK, sh)
}

// handleShipmentEvents takes a carrier's tracking callback. With a carrier
// secret configured, the body must carry a valid, fresh signature.
func (h *Handlers) handleShipmentEvents(w http.ResponseWriter, r *http.Request) error {
	id, err := web.PathUUID(r, "id")
	if err != nil {
		return err
	}
	var body []byte
	if len(h.CarrierSecret) > 0 {
		body, err = adapter.VerifyCallback(h.CarrierSecret, r, 5*time.Minute, time.Now())
	} else {
		body, err = web.ReadBody(r, h.maxBody)
	}
	if err != nil {
		return err
	}
	var up adapter.TrackingUpdate
	if err := web.DecodeBytes(body, &up); err != nil {
		return err
	}
	if len(up.Events) == 0 {
		ve := &derrors.ValidationError{}
		ve.Add("events", "at least one event")
		return ve
	}
	delivered, err := h.svc.ApplyTracking(r.Context(), id, orDefault(up.Carrier, "carrier"), up.Events)
	if err != nil {
		return err
	}
	return web.JSON(w, http.StatusOK, map[string]any{"shipment_id": id, "delivered": delivered})
}
