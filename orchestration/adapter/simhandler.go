package adapter

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/omnitriage/omnitriage/internal/derrors"
)

// NewSimHandler serves the wire format from a Simulator: every system's paths
// on one handler, requests verified with secret against now (time.Now when
// nil). It lets the HTTPClient be run end to end against simulated systems, in
// tests and in the demo (point every Endpoint at it).
//
// Simulated timeouts answer 504, other errors their simulated status; a bad
// signature answers 401, a mismatch between the Idempotency-Key header and the
// key in the body 400.
func NewSimHandler(sim *Simulator, secret []byte, now func() time.Time) http.Handler {
	if now == nil {
		now = time.Now
	}
	mux := http.NewServeMux()
	h := simHandler{secret: secret, now: now}
	route(mux, h, PathAuthorize, sim.Authorize)
	route(mux, h, PathCapture, sim.Capture)
	route(mux, h, PathVoid, sim.Void)
	route(mux, h, PathRefund, sim.Refund)
	route(mux, h, PathFraudScore, sim.Score)
	route(mux, h, PathValidateAddress, sim.ValidateAddress)
	route(mux, h, PathQuoteTax, sim.QuoteTax)
	route(mux, h, PathRelease, sim.Release)
	route(mux, h, PathBook, sim.Book)
	route(mux, h, PathPostInvoice, sim.PostInvoice)
	route(mux, h, PathPostCreditMemo, sim.PostCreditMemo)
	route(mux, h, PathPostPaymentCapture, sim.PostPaymentCapture)
	route(mux, h, PathPostRefund, sim.PostRefund)
	route(mux, h, PathSend, func(ctx context.Context, n notificationWire) (Receipt, error) {
		return sim.Send(ctx, n.Notification)
	})
	route(mux, h, PathTrack, func(ctx context.Context, req trackRequest) (trackResponse, error) {
		ev, err := sim.Track(ctx, req.TrackingNumber)
		return trackResponse{Events: ev}, err
	})
	route(mux, h, PathERPStatus, func(ctx context.Context, req statusRequest) (Posting, error) {
		return sim.Status(ctx, req.DocumentKey)
	})
	return mux
}

// simHandler holds what every route needs.
type simHandler struct {
	secret []byte
	now    func() time.Time
}

// route registers one operation: verify, decode, check the key, call, encode.
func route[Req, Res any](mux *http.ServeMux, h simHandler, path string, fn func(context.Context, Req) (Res, error)) {
	mux.HandleFunc("POST "+path, func(w http.ResponseWriter, r *http.Request) {
		body, err := VerifyCallback(h.secret, r, DefaultMaxSkew, h.now())
		if err != nil {
			code := "invalid_signature"
			if errors.Is(err, derrors.TooLarge) {
				code = "too_large"
			}
			writeJSON(w, derrors.Status(err), map[string]string{"code": code, "message": err.Error()})
			return
		}
		var req Req
		if err := json.Unmarshal(body, &req); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"code": "invalid_json", "message": err.Error()})
			return
		}
		if k, ok := any(req).(interface{ idempotencyKey() string }); ok {
			if hk := r.Header.Get(HeaderIdempotencyKey); hk != "" && hk != k.idempotencyKey() {
				writeJSON(w, http.StatusBadRequest, map[string]string{"code": "idempotency_key_mismatch",
					"message": "The Idempotency-Key header does not match the key in the body."})
				return
			}
		}
		res, err := fn(r.Context(), req)
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, res)
	})
}

// writeError answers an error in the wire format.
func writeError(w http.ResponseWriter, err error) {
	var e *Error
	if !errors.As(err, &e) {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"code": "internal_error", "message": "internal error"})
		return
	}
	status := e.Status
	switch {
	case status != 0:
	case e.Code == CodeTimeout:
		status = http.StatusGatewayTimeout
	case e.Retryable:
		status = http.StatusServiceUnavailable
	default:
		status = http.StatusBadRequest
	}
	writeJSON(w, status, map[string]string{"code": e.Code, "message": e.Message})
}

// writeJSON answers v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
