package orchestration

import (
	"net/http"

	"github.com/omnitriage/omnitriage/internal/auth"
	"github.com/omnitriage/omnitriage/internal/web"
)

// Returns and refunds. The routes, in Handlers.Register:
//
//	POST /v1/orders/{id}/returns      handleRequestReturn     orchestrator, support
//	GET  /v1/orders/{id}/returns      handleListReturns       readers
//	GET  /v1/returns/{id}             handleGetReturn         readers
//	POST /v1/returns/{id}/receive     handleReceiveReturn     orchestrator, support
//	POST /v1/returns/{id}/approve     handleApproveRefund     support
//	GET  /v1/refunds/mismatches       handleRefundMismatches  support, engineer
//	GET  /v1/metrics/process          handleProcessMetrics    engineer

// handleRequestReturn opens a return. The RMA key comes from the body's
// rma_key, else the Idempotency-Key header; a repeat answers 200 with the
// first return and Idempotent-Replayed.
func (h *Handlers) handleRequestReturn(w http.ResponseWriter, r *http.Request) error {
	id, err := web.PathUUID(r, "id")
	if err != nil {
		return err
	}
	var req ReturnRequest
	if err := web.Decode(r, h.maxBody, &req); err != nil {
		return err
	}
	if req.RMAKey == "" {
		req.RMAKey = r.Header.Get("Idempotency-Key")
	}
	ret, created, err := h.svc.RequestReturn(r.Context(), auth.Actor(r.Context()), id, req)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/returns/"+ret.ID.String())
	if !created {
		w.Header().Set("Idempotent-Replayed", "true")
		return web.JSON(w, http.StatusOK, ret)
	}
	return web.JSON(w, http.StatusCreated, ret)
}

func (h *Handlers) handleListReturns(w http.ResponseWriter, r *http.Request) error {
	id, err := web.PathUUID(r, "id")
	if err != nil {
		return err
	}
	rets, err := h.svc.ListReturns(r.Context(), id)
	if err != nil {
		return err
	}
	return web.JSON(w, http.StatusOK, map[string]any{"order_id": id, "returns": rets})
}

func (h *Handlers) handleGetReturn(w http.ResponseWriter, r *http.Request) error {
	id, err := web.PathUUID(r, "id")
	if err != nil {
		return err
	}
	ret, err := h.svc.GetReturn(r.Context(), id)
	if err != nil {
		return err
	}
	return web.JSON(w, http.StatusOK, ret)
}

// handleReceiveReturn records receipt and inspection; a repeat with the same
// inspection answers the return as it is.
func (h *Handlers) handleReceiveReturn(w http.ResponseWriter, r *http.Request) error {
	id, err := web.PathUUID(r, "id")
	if err != nil {
		return err
	}
	var in Inspection
	if err := web.Decode(r, h.maxBody, &in); err != nil {
		return err
	}
	ret, err := h.svc.ReceiveReturn(r.Context(), auth.Actor(r.Context()), id, in)
	if err != nil {
		return err
	}
	return web.JSON(w, http.StatusOK, ret)
}

func (h *Handlers) handleApproveRefund(w http.ResponseWriter, r *http.Request) error {
	id, err := web.PathUUID(r, "id")
	if err != nil {
		return err
	}
	ret, err := h.svc.ApproveRefund(r.Context(), auth.Actor(r.Context()), id)
	if err != nil {
		return err
	}
	return web.JSON(w, http.StatusOK, ret)
}

func (h *Handlers) handleRefundMismatches(w http.ResponseWriter, r *http.Request) error {
	m, err := h.svc.ReconcileRefunds(r.Context())
	if err != nil {
		return err
	}
	return web.JSON(w, http.StatusOK, map[string]any{"mismatches": m})
}
