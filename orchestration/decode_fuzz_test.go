package orchestration

import (
	"errors"
	"testing"

	"github.com/omnitriage/omnitriage/internal/derrors"
	"github.com/omnitriage/omnitriage/internal/web"
)

// decodeOrder is what the capture handler does with a body before touching
// the database: decode strictly, then validate.
func decodeOrder(body []byte) (CaptureRequest, error) {
	var req CaptureRequest
	if err := web.DecodeBytes(body, &req); err != nil {
		return req, err
	}
	return req, req.Validate()
}

func decodeAdjustments(body []byte) (AdjustmentBatch, error) {
	var b AdjustmentBatch
	if err := web.DecodeBytes(body, &b); err != nil {
		return b, err
	}
	return b, b.Validate()
}

// clientError reports whether err is one the API answers with a 4xx.
func clientError(err error) bool {
	s := derrors.Status(err)
	return s >= 400 && s < 500
}

var orderSeeds = []string{
	`{"channel":"web","external_id":"A1","customer":{"id":"c1"},"ship_to":{"line1":"1 Main","city":"X","postal_code":"1","country":"US","lat":40.7,"lon":-74},"lines":[{"sku":"A-1","qty":1}]}`,
	`{"channel":"web","external_id":"A1","customer":{"id":"c1"},"pickup_location":"nyc-store","lines":[{"sku":"A-1","qty":2,"unit_price":9.5}]}`,
	`{"channel":"web","lines":[{"sku":"A-1","qty":-1}]}`,
	`{"channel":"web","lines":[{"sku":"A-1","qty":1e309}]}`,
	`{"channel":"web","ship_to":{"lat":"NaN"}}`,
	`{"channel":"web","promised_by":"not a time"}`,
	`[1,2,3]`, `null`, `""`, `{"channel":"web"}{"x":1}`, `{"unknown":true}`, "\xff\xfe", `{"lines":[` + "\x00" + `]}`,
}

func FuzzDecodeOrder(f *testing.F) {
	for _, s := range orderSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := decodeOrder(body)
		if err != nil {
			if !clientError(err) {
				t.Fatalf("decodeOrder(%q) = %v (status %d), want a 4xx error", body, err, derrors.Status(err))
			}
			return
		}
		// What passes validation must be safe to source.
		if len(req.Lines) == 0 || len(req.Lines) > MaxLines {
			t.Fatalf("valid order with %d lines", len(req.Lines))
		}
		for _, l := range req.Lines {
			if l.Qty <= 0 {
				t.Fatalf("valid order with qty %d", l.Qty)
			}
		}
		if req.ShipTo != nil && (req.ShipTo.Lat == nil || req.ShipTo.Lon == nil) {
			t.Fatalf("valid shipped order without coordinates")
		}
	})
}

func FuzzDecodeAdjustments(f *testing.F) {
	for _, s := range []string{
		`{"source":"wms","adjustments":[{"sku":"A-1","location":"nj-wh","count":5,"version":3}]}`,
		`{"source":"pos","adjustments":[{"sku":"A-1","location":"nj-wh","delta":-2,"reason":"damaged"}]}`,
		`{"source":"wms","adjustments":[{"sku":"A-1","location":"nj-wh","count":5,"delta":1}]}`,
		`{"source":"wms","adjustments":[{"sku":"A-1","location":"nj-wh","observed_at":"2026-01-02T03:04:05Z","count":1}]}`,
		`{"source":"","adjustments":[]}`, `{"adjustments":null}`, `{"source":"w","adjustments":[{"count":99999999999}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		b, err := decodeAdjustments(body)
		if err != nil {
			if !clientError(err) {
				t.Fatalf("decodeAdjustments(%q) = %v, want a 4xx error", body, err)
			}
			return
		}
		for _, a := range b.Adjustments {
			if (a.Count == nil) == (a.Delta == nil) && a.SafetyStock == nil {
				t.Fatalf("valid adjustment with neither or both of count and delta: %+v", a)
			}
			if a.Count != nil && *a.Count < 0 {
				t.Fatalf("valid negative count")
			}
		}
	})
}

func TestDecodeOrderErrorsNameFields(t *testing.T) {
	tests := []struct {
		body, field string
	}{
		{`{"channel":"web","external_id":"A","customer":{"id":"c"},"ship_to":{"line1":"x","city":"y","postal_code":"1","country":"US","lat":40,"lon":-74},"lines":[{"sku":"A-1","qty":"two"}]}`, "lines[0].qty"},
		{`{"channel":"web","external_id":"A","customer":{"id":"c"},"pickup_location":"s","lines":[{"sku":"A-1","qty":1,"colour":"red"}]}`, "lines[0].colour"},
		{`{"channel":"web","external_id":"A","customer":{"id":"c"},"pickup_location":"s","lines":[]}`, "lines"},
	}
	for _, tt := range tests {
		_, err := decodeOrder([]byte(tt.body))
		var ve *derrors.ValidationError
		if !errors.As(err, &ve) || ve.Fields[0].Field != tt.field {
			t.Errorf("decodeOrder(%s) = %v, want field %s", tt.body, err, tt.field)
		}
	}
}
