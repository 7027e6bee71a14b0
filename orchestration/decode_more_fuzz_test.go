package orchestration

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/omnitriage/omnitriage/internal/derrors"
	"github.com/omnitriage/omnitriage/internal/web"
	"github.com/omnitriage/omnitriage/orchestration/adapter"
)

// validator is a request type with its own checks.
type validator interface{ Validate() error }

// fuzzDecoder checks the property every request decoder must have: a
// refused body is a 4xx naming a field; an accepted one survives a round
// trip through JSON unchanged (nothing was rewritten).
func fuzzDecoder[T any](f *testing.F, seeds []string, fresh func() T) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		v := fresh()
		err := web.DecodeBytes(body, &v)
		if err == nil {
			if val, ok := any(v).(validator); ok {
				err = val.Validate()
			} else if val, ok := any(&v).(validator); ok {
				err = val.Validate()
			}
		}
		if err != nil {
			var ve *derrors.ValidationError
			if !errors.As(err, &ve) || len(ve.Fields) == 0 || ve.Fields[0].Field == "" || !clientError(err) {
				t.Fatalf("decoding %q = %v (status %d), want a 4xx naming a field", body, err, derrors.Status(err))
			}
			return
		}
		enc, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("accepted %q but cannot encode it: %v", body, err)
		}
		again := fresh()
		if err := web.DecodeBytes(enc, &again); err != nil {
			t.Fatalf("accepted %q, but its encoding %s is refused: %v", body, enc, err)
		}
		if !reflect.DeepEqual(normal(t, v), normal(t, again)) {
			t.Fatalf("accepted %q as %+v, which round-trips to %+v", body, v, again)
		}
	})
}

// normal is v as generic JSON, to compare values without pointer identity.
func normal(t *testing.T, v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

var hostileSeeds = []string{`{"reason":"a\u0000b"}`, "{\"reason\":\"\xff\"}", `{"reason":"\ud800"}`, `{"reason":"\u202e"}`, `[]`, `null`, `{}`}

func FuzzDecodeEdit(f *testing.F) {
	fuzzDecoder(f, append([]string{`{"version":2,"lines":[{"sku":"A-1","qty":2}],"reason":"customer asked"}`,
		`{"ship_to":{"line1":"1 Main","city":"X","postal_code":"1","country":"US","lat":40.7,"lon":-74}}`}, hostileSeeds...),
		func() EditRequest { return EditRequest{} })
}

func FuzzDecodeCancel(f *testing.F) {
	fuzzDecoder(f, append([]string{`{"lines":[1,2],"reason":"changed mind"}`, `{"reason":""}`, `{"lines":[-1]}`}, hostileSeeds...),
		func() CancelRequest { return CancelRequest{} })
}

func FuzzDecodeCommand(f *testing.F) {
	fuzzDecoder(f, append([]string{`{"id":"c1","kind":"notify","order_id":"0b6c1f4e-8d2a-4c1e-9f3a-2d5e7a9b1c3d","template":"delay","data":{"message":"x"}}`,
		`{"id":"c2","kind":"compensate","order_id":"0b6c1f4e-8d2a-4c1e-9f3a-2d5e7a9b1c3d","amount":5,"credit":"coupon"}`,
		`{"id":"c3","kind":"notify","template":"../../etc/passwd"}`}, hostileSeeds...),
		func() Command { return Command{} })
}

func FuzzDecodeReturn(f *testing.F) {
	fuzzDecoder(f, append([]string{`{"rma_key":"r1","reason":"too small","lines":[{"line_no":1,"qty":1}]}`, `{"lines":[{"line_no":1,"qty":1},{"line_no":1,"qty":2}]}`}, hostileSeeds...),
		func() ReturnRequest { return ReturnRequest{} })
}

func FuzzDecodeReceive(f *testing.F) {
	fuzzDecoder(f, append([]string{`{"condition":"resellable","restock_location":"nj-wh","note":"ok"}`, `{"condition":"damaged"}`}, hostileSeeds...),
		func() Inspection { return Inspection{} })
}

func FuzzDecodeReservation(f *testing.F) {
	fuzzDecoder(f, append([]string{`{"kind":"cart","sku":"A-1","qty":1,"ttl_seconds":900,"ref":"cart-1"}`, `{"kind":"pickup","sku":"A-1","qty":1,"ttl_seconds":-1}`}, hostileSeeds...),
		func() HoldRequest { return HoldRequest{} })
}

func FuzzDecodeShipmentEvents(f *testing.F) {
	fuzzDecoder(f, append([]string{`{"tracking_number":"1Z","carrier":"ups","events":[{"kind":"delivered","at":"2026-01-02T03:04:05Z","message":"left at door"}]}`,
		`{"events":[{"at":"tomorrow"}]}`}, hostileSeeds...),
		func() adapter.TrackingUpdate { return adapter.TrackingUpdate{} })
}

func FuzzDecodeChannel(f *testing.F) {
	fuzzDecoder(f, append([]string{`{"code":"web","name":"Web shop","active":true}`, `{"code":"Bad Code"}`}, hostileSeeds...),
		func() Channel { return Channel{Active: true} })
}

func FuzzDecodeLocation(f *testing.F) {
	fuzzDecoder(f, append([]string{`{"code":"nj-wh","name":"NJ","kind":"warehouse","lat":40.7,"lon":-74.1,"daily_capacity":100}`}, hostileSeeds...),
		func() Location { return Location{Active: true} })
}

func FuzzDecodeSKU(f *testing.F) {
	fuzzDecoder(f, append([]string{`{"code":"A-1","name":"Thing","price":9.5,"substitutes":["B-2"]}`, `{"code":"A-1","price":-1}`}, hostileSeeds...),
		func() SKU { return SKU{Active: true, Substitutes: []string{}} })
}
