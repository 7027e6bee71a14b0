package triage

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/omnitriage/omnitriage/internal/derrors"
	"github.com/omnitriage/omnitriage/internal/web"
)

// fuzzTriageDecoder: a refused body is a 4xx naming a field; an accepted
// one round-trips through JSON unchanged. check validates a decoded value.
func fuzzTriageDecoder[T any](f *testing.F, seeds []string, check func(T) error) {
	for _, s := range append(seeds, `{"exception":{"message":"a\u0000b"}}`, "{\"note\":\"\xff\"}", `{"note":"\ud800"}`, `[]`, `null`) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var v T
		err := web.DecodeBytes(body, &v)
		if err == nil {
			err = check(v)
		}
		if err != nil {
			var ve *derrors.ValidationError
			if s := derrors.Status(err); !errors.As(err, &ve) || len(ve.Fields) == 0 || ve.Fields[0].Field == "" || s < 400 || s > 499 {
				t.Fatalf("decoding %q = %v (status %d), want a 4xx naming a field", body, err, s)
			}
			return
		}
		enc, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("accepted %q but cannot encode it: %v", body, err)
		}
		var again T
		if err := web.DecodeBytes(enc, &again); err != nil {
			t.Fatalf("accepted %q, but its encoding %s is refused: %v", body, enc, err)
		}
		a, _ := json.Marshal(again)
		var x, y any
		_ = json.Unmarshal(enc, &x)
		_ = json.Unmarshal(a, &y)
		if !reflect.DeepEqual(x, y) {
			t.Fatalf("accepted %q as %s, which round-trips to %s", body, enc, a)
		}
	})
}

const seedException = `{"kind":"stockout","severity":"high","source":"wms","sku":"A-1","message":"no stock\nat all","payload":{"x":[1,"y"]}}`

func FuzzDecodeException(f *testing.F) {
	fuzzTriageDecoder(f, []string{seedException, `{"kind":"nope","occurred_at":"0001-01-01T00:00:00Z"}`},
		func(r legacyReport) error { return r.Exception.Validate() })
}

func FuzzDecodeRecommendation(f *testing.F) {
	fuzzTriageDecoder(f, []string{`{"exception":` + seedException + `,"context":{"order_value":10,"currency":"USD","fraud_score":0.5}}`,
		`{"exception":{},"context":{"promised_by":"tomorrow"}}`},
		func(r RecommendRequest) error {
			v := &derrors.ValidationError{}
			if err := r.Exception.Validate(); err != nil {
				var ve *derrors.ValidationError
				if errors.As(err, &ve) {
					for _, fe := range ve.Fields {
						v.Add("exception."+fe.Field, "%s", fe.Reason)
					}
				}
			}
			if r.Context != nil {
				r.Context.validate(v, "context.")
			}
			return v.Err()
		})
}

func FuzzDecodeDecision(f *testing.F) {
	fuzzTriageDecoder(f, []string{`{"decision":"approve","note":"looks right"}`, `{"decision":"modify","action":"notify","params":{"template":"delay"},"note":"x"}`},
		func(r DecisionRequest) error { return r.Validate() })
}

func FuzzDecodeClusterUpdate(f *testing.F) {
	today := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	fuzzTriageDecoder(f, []string{`{"status":"fixed","fixed_at":"2026-11-30","owner":"ana","notes":"phantom stock at nyc-01"}`,
		`{"status":"investigating"}`, `{"status":"nope","fixed_at":"tomorrow"}`, `{"owner":""}`},
		func(u ClusterUpdate) error { _, _, err := u.validate("new", today); return err })
}
