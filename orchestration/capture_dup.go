package orchestration

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"

	"github.com/omnitriage/omnitriage/internal/derrors"
)

// contentHash is the hash of a validated capture request's content: the
// request as decoded (defaults filled in, numbers by value, fields in one
// order), so two serialisations of one order hash alike.
func contentHash(req CaptureRequest) []byte {
	if req.PromisedBy != nil {
		t := req.PromisedBy.UTC() // one instant, whatever zone it was written in
		req.PromisedBy = &t
	}
	b, _ := json.Marshal(req) // a decoded request always encodes
	h := sha256.Sum256(b)
	return h[:]
}

// existingOrder answers a capture whose channel and external id name an
// order already taken. The same content is a retry and gets the existing
// order (200). Different content is refused with a conflict naming
// external_id: the new content was not applied, and the caller must know.
// Orders taken before their content was hashed answer with the order.
func (s *Service) existingOrder(ctx context.Context, req CaptureRequest) (CaptureResult, error) {
	o, err := s.GetOrderByExternalID(ctx, req.Channel, req.ExternalID)
	if err != nil {
		return CaptureResult{}, err
	}
	var stored []byte
	if err := s.pool.QueryRow(ctx, `SELECT request_hash FROM orders WHERE id = $1`, o.ID).Scan(&stored); err != nil {
		return CaptureResult{}, fmt.Errorf("reading order %s: %w", o.ID, err)
	}
	if stored != nil && !bytes.Equal(stored, contentHash(req)) {
		ve := &derrors.ValidationError{Kind: derrors.Conflict}
		ve.Add("external_id", "channel %s already has order %s (id %s) with different content; the new content was not applied: "+
			"send the same content to get that order, PATCH /v1/orders/%s to change it, or use a new external_id",
			req.Channel, req.ExternalID, o.ID, o.ID)
		return CaptureResult{}, ve
	}
	return CaptureResult{Order: o, Status: 200}, nil
}
